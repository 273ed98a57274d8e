#!/usr/bin/env bash
# Our `sipvoice call` puts the call on hold and takes it off again, against SIPp as the callee, with
# RTP echoed by SIPp before and after the hold. The scenario checks each request:
#   timer     sipp/uas_hold_timer.xml: Session-Expires and Supported: timer in the INVITE, a=sendonly
#             then a=sendrecv in re-INVITEs, then our RFC 4028 refresh by UPDATE (refresher=uac);
#   update    sipp/uas_hold_update.xml (--reoffer-by update): the same two offers by UPDATE (RFC 3311),
#             answered in their 200s, and no re-INVITE;
#   fallback  sipp/uas_hold_no_update.xml (--reoffer-by update to a peer without UPDATE in its Allow):
#             the same two offers as re-INVITEs.
# Usage: call_sipp_hold.sh SIPVOICE udp|tcp timer|update|fallback
set -euo pipefail
source "$(dirname "$0")/lib.sh"
iop_sipvoice_check "${1:-}"
t=${2:?usage: call_sipp_hold.sh SIPVOICE udp|tcp timer|update|fallback}
mode=${3:?usage: call_sipp_hold.sh SIPVOICE udp|tcp timer|update|fallback}
# Each mode: scenario, options of `call`, and the INVITEs and UPDATEs SIPp must have seen (min max).
case "$mode" in
  timer) scenario=uas_hold_timer.xml opts=(--session-expires 4 --duration 5) invites=(3 99) updates=(1 99) ;;
  update) scenario=uas_hold_update.xml opts=(--session-expires 0 --duration 4 --reoffer-by update) invites=(1 1) updates=(2 2) ;;
  fallback) scenario=uas_hold_no_update.xml opts=(--session-expires 0 --duration 4 --reoffer-by update) invites=(3 3) updates=(0 0) ;;
  *) echo "call_sipp_hold.sh: mode '$mode' is none of timer, update, fallback" >&2; exit 2 ;;
esac
iop_init "call-sipp-hold-$mode-$t"
iop_require_sipp
iop_sipvoice_command call
out=$IOP_DIR/call.out

iop_pick_port sp
iop_pick_media_port mp
iop_sipp sipp sipp-uas -sf "$IOP_SRC_DIR/sipp/$scenario" -t "$(iop_sipp_transport "$t")" -i 127.0.0.1 \
  -p "$sp" -mi 127.0.0.1 -mp "$mp" -rtp_echo -m 1 -timeout 30s -timeout_error
iop_wait_listening "$t" "$sp" 10 || iop_fail "SIPp does not listen on $t:127.0.0.1:$sp after 10 s"

iop_wav_tone "$IOP_DIR/tone.wav" 8000 1000 5
iop_cli_net "$t"
iop_run 25 call "$SIPVOICE" call "sip:hold@127.0.0.1:$sp;transport=$t" --codec pcmu "${opts[@]}" \
  --hold-after 1 --unhold-after 2 --play "$IOP_DIR/tone.wav" --record "$IOP_DIR/heard.wav" \
  "${IOP_CLI_NET[@]}" -v
call_rc=$IOP_RC
iop_show "$out" 12
iop_show "$IOP_DIR/call.err" 5
[ "$call_rc" -eq 0 ] || iop_fail "sipvoice call exited $call_rc (expected 0): $(tail -n 2 "$IOP_DIR/call.err" | tr '\n' ' ')"
grep -q '^hold' "$out" || iop_fail "no 'hold' line: the hold offer was not answered"
grep -q '^unhold' "$out" || iop_fail "no 'unhold' line: the unhold offer was not answered"
ended=$(grep -m1 '^ended ' "$out" || true)
[ -n "$ended" ] || iop_fail "no 'ended' line"
rtp_in=$(iop_field "$ended" rtp_in)
rtp_out=$(iop_field "$ended" rtp_out)
[ "${rtp_in:-0}" -gt 0 ] && [ "${rtp_out:-0}" -gt 0 ] || iop_fail "no two-way RTP: $ended"

iop_wait_exit "$sipp" 10
[ "$IOP_EXIT" = 0 ] || iop_fail "SIPp exited '$IOP_EXIT' (0: the requests came as $scenario expects; see sipp-uas-errors.log, sipp-uas-messages.log)"
n_updates=$(grep -c '^UPDATE ' "$IOP_DIR/sipp-uas-messages.log" || true)
n_invites=$(grep -c '^INVITE ' "$IOP_DIR/sipp-uas-messages.log" || true)
[ "$n_invites" -ge "${invites[0]}" ] && [ "$n_invites" -le "${invites[1]}" ] ||
  iop_fail "SIPp's trace has $n_invites INVITEs (expected ${invites[0]} to ${invites[1]})"
[ "$n_updates" -ge "${updates[0]}" ] && [ "$n_updates" -le "${updates[1]}" ] ||
  iop_fail "SIPp's trace has $n_updates UPDATEs (expected ${updates[0]} to ${updates[1]})"
echo "MEASURED call-sipp-hold-$mode-$t: invites=$n_invites updates=$n_updates rtp_in=$rtp_in rtp_out=$rtp_out" \
  "$(iop_cli_lines "$out" '^(hold|unhold)')"
iop_pass
