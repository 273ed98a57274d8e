#!/usr/bin/env bash
# SIPp calls our `sipvoice answer --echo --session-expires N`:
#   refresh: sipp/uac_timer_info.xml: our answer refreshes the session by UPDATE (we are the refresher),
#            DTMF by SIP INFO (application/dtmf-relay and application/dtmf) reaches us as 5 # 7, and
#            an UPDATE with an offer puts the call on hold (our answer says a=recvonly);
#   expire:  sipp/uac_timer_expire.xml: SIPp says it refreshes but never does, and our answer ends
#            the call with a BYE when the session expires (RFC 4028 section 10).
# Usage: call_sipp_timer_info.sh SIPVOICE udp|tcp refresh|expire
set -euo pipefail
source "$(dirname "$0")/lib.sh"
iop_sipvoice_check "${1:-}"
t=${2:?usage: call_sipp_timer_info.sh SIPVOICE udp|tcp refresh|expire}
mode=${3:?usage: call_sipp_timer_info.sh SIPVOICE udp|tcp refresh|expire}
case "$mode" in
  refresh) scenario=uac_timer_info.xml se=4 ;;
  expire) scenario=uac_timer_expire.xml se=3 ;;
  *) iop_fail "mode: refresh or expire, not '$mode'" ;;
esac
iop_init "call-sipp-timer-$mode-$t"
iop_require_sipp
iop_sipvoice_command answer
out=$IOP_DIR/answer.out

iop_pick_port ap
iop_spawn ans answer "$SIPVOICE" answer --listen "$t:127.0.0.1:$ap" --echo --session-expires "$se" --max-calls 1 -v
iop_wait_listening "$t" "$ap" 10 || iop_fail "sipvoice answer does not listen on $t:127.0.0.1:$ap after 10 s"

iop_pick_port sp
iop_pick_media_port mp
start=$(iop_now)
iop_sipp sipp sipp-uac -sf "$IOP_SRC_DIR/sipp/$scenario" -t "$(iop_sipp_transport "$t")" -i 127.0.0.1 -p "$sp" \
  -mi 127.0.0.1 -mp "$mp" -m 1 -l 1 -timeout 30s -timeout_error "127.0.0.1:$ap"
wait_for_line "$out" '^connected ' 10 || iop_fail "no 'connected' line within 10 s of SIPp's INVITE"
iop_wait_exit "$sipp" 25
sipp_exit=$IOP_EXIT
call_s=$(iop_elapsed "$start")
wait_for_line "$out" '^ended ' 5 || iop_fail "no 'ended' line"
ended=$IOP_LINE
iop_wait_exit "$ans" 5
iop_show "$out" 12
[ "$sipp_exit" = 0 ] || iop_fail "SIPp exited '$sipp_exit' (0: the call went as $scenario expects; see sipp-uac-errors.log, sipp-uac-messages.log)"
[ "$IOP_EXIT" = 0 ] || iop_fail "sipvoice answer --max-calls 1 exited '$IOP_EXIT' after the call (expected 0)"

case "$mode" in
refresh)
  digits=$(sed -n 's/^dtmf digit=\([^ ]*\).*source=info.*/\1/p' "$out" | tr -d '\n')
  [ "$digits" = '5#7' ] || iop_fail "expected the INFO digits 5#7 as 'dtmf digit=X source=info' lines, got '$digits': $(iop_cli_lines "$out" '^dtmf')"
  grep -q '^UPDATE ' "$IOP_DIR/sipp-uac-messages.log" || iop_fail "SIPp's trace has no UPDATE from us"
  echo "MEASURED call-sipp-timer-refresh-$t: info_digits=$digits call_s=$call_s $(iop_cli_lines "$out" '^ended')"
  ;;
expire)
  grep -q 'session timer expired' <<<"$ended" || iop_fail "expected the call to end by the session timer, got: $ended"
  # SIPp's call: INVITE, ACK, then our BYE 3 - min(32, 3/3) = 2 s after the 200.
  iop_le "$call_s" 8 || iop_fail "the call lasted $call_s s; our BYE should have come about 2 s after the answer"
  echo "MEASURED call-sipp-timer-expire-$t: call_s=$call_s $ended"
  ;;
esac
iop_pass
