#!/usr/bin/env bash
# Our `sipvoice call --reoffer-by update` puts the call on hold and takes it off again by UPDATE
# (RFC 3311), against SIPp as the callee (sipp/uas_hold_update.xml checks each request: an UPDATE
# with a=sendonly, then one with a=sendrecv, no re-INVITE), with RTP echoed by SIPp before and
# after the hold. fallback: SIPp has no UPDATE in its Allow (sipp/uas_hold_no_update.xml), so the
# same two offers must come as re-INVITEs.
# Usage: call_sipp_hold_update.sh SIPVOICE udp|tcp [update|fallback]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
iop_sipvoice_check "${1:-}"
t=${2:?usage: call_sipp_hold_update.sh SIPVOICE udp|tcp [update|fallback]}
mode=${3:-update}
case "$mode" in
  update) scenario=uas_hold_update.xml want_updates=2 want_invites=1 ;;
  fallback) scenario=uas_hold_no_update.xml want_updates=0 want_invites=3 ;;
  *) echo "call_sipp_hold_update.sh: mode '$mode' is neither update nor fallback" >&2; exit 2 ;;
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

iop_wav_tone "$IOP_DIR/tone.wav" 8000 1000 4
iop_cli_net "$t"
iop_run 25 call "$SIPVOICE" call "sip:hold@127.0.0.1:$sp;transport=$t" --codec pcmu --session-expires 0 \
  --reoffer-by update --hold-after 1 --unhold-after 2 --duration 4 --play "$IOP_DIR/tone.wav" "${IOP_CLI_NET[@]}" -v
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
[ "$IOP_EXIT" = 0 ] || iop_fail "SIPp exited '$IOP_EXIT' (0: hold and unhold came as $scenario expects; see sipp-uas-errors.log, sipp-uas-messages.log)"
updates=$(grep -c '^UPDATE ' "$IOP_DIR/sipp-uas-messages.log" || true)
invites=$(grep -c '^INVITE ' "$IOP_DIR/sipp-uas-messages.log" || true)
[ "$updates" -eq "$want_updates" ] || iop_fail "SIPp's trace has $updates UPDATEs (expected $want_updates)"
[ "$invites" -eq "$want_invites" ] || iop_fail "SIPp's trace has $invites INVITEs (expected $want_invites)"
echo "MEASURED call-sipp-hold-$mode-$t: invites=$invites updates=$updates rtp_in=$rtp_in rtp_out=$rtp_out" \
  "$(iop_cli_lines "$out" '^(hold|unhold)')"
iop_pass
