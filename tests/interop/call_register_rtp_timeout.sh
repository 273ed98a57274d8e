#!/usr/bin/env bash
# --rtp-timeout: our `sipvoice call --registrar ... --user 1001 --password ...` through a real
# Kamailio (outbound proxy, Record-Route) to a SIPp callee (sipp/uas_silent.xml, bound as 1003 in
# Kamailio's location table over RPC) that answers PCMU and then never sends RTP. Our call runs with
# --rtp-timeout 2 --duration 20 over TRANSPORT (udp, tcp).
# Passes when:
#  - our call prints connected, then "ended reason=rtp timeout ..." with rtp_in=0 and rtp_out > 0,
#    hangs up (BYE through Kamailio) 2 to 4 s after the 200 OK, not after the 20 s duration;
#  - it exits non-zero (1) and says "rtp timeout" on stderr;
#  - SIPp exits 0: it got the BYE and answered it, as its scenario says.
# MEASURED: seconds from Kamailio relaying the 200 to our BYE passing through it; rtp_out.
# Usage: call_register_rtp_timeout.sh SIPVOICE udp|tcp
set -euo pipefail
source "$(dirname "$0")/lib.sh"
iop_sipvoice_check "${1:-}"
t=${2:?usage: call_register_rtp_timeout.sh SIPVOICE udp|tcp}
iop_init "call-register-rtp-timeout-$t"
iop_require_sipp
iop_sipvoice_command call
iop_start_kamailio 401
timeout_s=2

# ---- SIPp answers and stays silent; Kamailio routes 1003 to it
iop_pick_port sp
iop_pick_media_port mp
iop_sipp sipp sipp-uas -sf "$IOP_SRC_DIR/sipp/uas_silent.xml" -t "$(iop_sipp_transport "$t")" -i 127.0.0.1 \
  -p "$sp" -mi 127.0.0.1 -mp "$mp" -m 1 -timeout 40s -timeout_error
iop_wait_listening "$t" "$sp" 10 || iop_fail "SIPp does not listen on $t:127.0.0.1:$sp after 10 s"
iop_add_binding 1003 "sip:1003@127.0.0.1:$sp;transport=$t"

# ---- our call
iop_cli_net "$t"
iop_run 30 call "$SIPVOICE" call 1003 --registrar "$(iop_registrar_uri "$t")" --user 1001 --password secret1001 \
  --codec pcmu --rtp-timeout "$timeout_s" --duration 20 "${IOP_CLI_NET[@]}" -v
out=$IOP_DIR/call.out
call_rc=$IOP_RC
call_s=$IOP_WAITED
iop_show "$out" 10
[ "$call_rc" -ne 0 ] || iop_fail "sipvoice call exited 0 although no RTP ever came (expected non-zero)"
[ "$call_rc" -eq 1 ] || iop_fail "sipvoice call exited $call_rc (expected 1: the call failed; 124 would be our 30 s limit)"
grep -q '^connected codec=PCMU/8000$' "$out" || iop_fail "no 'connected codec=PCMU/8000' line"
ended=$(grep -m1 '^ended ' "$out" || true)
[[ "$ended" == "ended reason=rtp timeout rtp_in="* ]] || iop_fail "expected 'ended reason=rtp timeout ...', got: ${ended:-nothing}"
rtp_in=$(iop_field "$ended" rtp_in)
rtp_out=$(iop_field "$ended" rtp_out)
[ "$rtp_in" = 0 ] || iop_fail "SIPp sent no RTP, yet rtp_in=$rtp_in"
[ "${rtp_out:-0}" -gt 0 ] || iop_fail "we sent no RTP: $ended"
grep -q 'rtp timeout' "$IOP_DIR/call.err" || iop_fail "no 'rtp timeout' reason on stderr"

# ---- when: our BYE passed Kamailio 2..4 s after the 200 OK did
ok_line=$(iop_kam_events 'REPLY 200 INVITE' | head -n1)
bye_line=$(iop_kam_events 'IN-DIALOG BYE' | head -n1)
[ -n "$ok_line" ] || iop_fail "Kamailio relayed no 200 to the INVITE"
[ -n "$bye_line" ] || iop_fail "our BYE did not pass through Kamailio (Record-Route)"
after=$(awk -v a="$(iop_event_time "$ok_line")" -v b="$(iop_event_time "$bye_line")" 'BEGIN { printf "%.2f", b - a }')
iop_le "$(awk -v s="$timeout_s" 'BEGIN { print s - 0.1 }')" "$after" && iop_le "$after" $((timeout_s + 2)) \
  || iop_fail "our BYE came $after s after the 200 (expected ${timeout_s}..$((timeout_s + 2)) s)"

iop_wait_exit "$sipp" 10
[ "$IOP_EXIT" = 0 ] || iop_fail "SIPp exited '$IOP_EXIT' (expected 0: BYE received and answered); see sipp-uas-*.log"
echo "MEASURED call-register-rtp-timeout-$t: rtp_timeout_s=$timeout_s bye_after_200_s=$after call_ran_s=$call_s rtp_in=$rtp_in rtp_out=$rtp_out exit=$call_rc"
iop_pass
