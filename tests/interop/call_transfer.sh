#!/usr/bin/env bash
# A blind transfer of our `sipvoice call` (RFC 3515): SIPp (sipp/uas_transferor.xml) answers the call
# and sends a REFER to our `sipvoice answer --echo`; the call must answer 202, call the target,
# report the progress in NOTIFYs (message/sipfrag: 100, 180, 200; or 100, 200 when the target answered before the NOTIFY 100
# was answered: one NOTIFY at a time, the newest state) and carry on with the target after
# SIPp's BYE. Passes when SIPp's scenario completed (so the NOTIFYs said 100, (180,) 200, and its BYE
# was answered), the call printed "transfer to=" and two "connected" and "ended" lines (the first
# ended by SIPp), RTP flowed both ways in the call to the target (the target's echo came back), and
# `call` exited 0.
# MEASURED: the sipfrags SIPp received, and the RTP of the call to the target.
# Usage: call_transfer.sh SIPVOICE udp|tcp
set -euo pipefail
source "$(dirname "$0")/lib.sh"
iop_sipvoice_check "${1:-}"
t=${2:?usage: call_transfer.sh SIPVOICE udp|tcp}
iop_init "call-transfer-$t"
iop_require_sipp
iop_sipvoice_command call
out=$IOP_DIR/call.out

# ---- the transfer target: our answer, echoing
iop_pick_port ap
iop_spawn ans answer "$SIPVOICE" answer --listen "$t:127.0.0.1:$ap" --echo --codec pcmu --max-calls 1 -v
wait_for_line "$IOP_DIR/answer.out" '^listening ' 10 || iop_fail "sipvoice answer did not start"
target="sip:target@127.0.0.1:$ap;transport=$t"

# ---- the transferor
iop_pick_port sp
iop_pick_media_port mp
iop_sipp sipp sipp-uas -sf "$IOP_SRC_DIR/sipp/uas_transferor.xml" -t "$(iop_sipp_transport "$t")" -i 127.0.0.1 \
  -p "$sp" -mi 127.0.0.1 -mp "$mp" -rtp_echo -m 1 -set target "$target" -timeout 30s -timeout_error
iop_wait_listening "$t" "$sp" 10 || iop_fail "SIPp does not listen on $t:127.0.0.1:$sp after 10 s"

iop_wav_tone "$IOP_DIR/tone.wav" 8000 1000 6
iop_cli_net "$t"
iop_run 25 call "$SIPVOICE" call "sip:transferor@127.0.0.1:$sp;transport=$t" --codec pcmu --duration 5 \
  --play "$IOP_DIR/tone.wav" --record "$IOP_DIR/heard.wav" "${IOP_CLI_NET[@]}" -v
call_rc=$IOP_RC
iop_show "$out" 14
iop_show "$IOP_DIR/call.err" 5
[ "$call_rc" -eq 0 ] || iop_fail "sipvoice call exited $call_rc (expected 0): $(tail -n 2 "$IOP_DIR/call.err" | tr '\n' ' ')"
[ "$(grep -c '^ended ' "$out")" -eq 2 ] || iop_fail "expected two 'ended' lines: $(cat "$out")"
iop_check_transferred "$out" "$target" SIPp

iop_wait_exit "$sipp" 10
[ "$IOP_EXIT" = 0 ] || iop_fail "SIPp exited '$IOP_EXIT' (0: 202, NOTIFYs up to 200, then its BYE; see sipp-uas-errors.log, sipp-uas-messages.log)"
# Each NOTIFY's body: the first Status-Line after its request line.
notifies=$(awk '/^NOTIFY / { n = 1; next } n && /^SIP\/2.0 / { print; n = 0 }' "$IOP_DIR/sipp-uas-messages.log" | paste -sd, -)
iop_wait_exit "$ans" 10
grep -q '^connected ' "$IOP_DIR/answer.out" || iop_fail "the target (sipvoice answer) was not connected"
# RFC 3892: SIPp's Referred-By came along in our INVITE.
grep -q '^incoming from=.* referred_by=sip:sipp@127.0.0.1' "$IOP_DIR/answer.out" ||
  iop_fail "the target's call does not say SIPp referred it (Referred-By): $(grep '^incoming' "$IOP_DIR/answer.out")"
ended_t=$(grep -m1 '^ended ' "$IOP_DIR/answer.out" || true)
[ "$(iop_field "$ended_t" rtp_in)" -gt 0 ] || iop_fail "the target got no RTP: $ended_t"
echo "MEASURED call-transfer-$t: sipfrags=[$notifies] call to the target: $IOP_TRANSFERRED"
iop_pass
