#!/usr/bin/env bash
# SIP Outbound (RFC 5626) against Kamailio's outbound module (kamailio.cfg with OUTBOUND and a
# Flow-Timer of 2 s): our `sipvoice answer --outbound` registers 1001 over T (tcp or udp).
# Passes when:
#  - the REGISTER carries reg-id=1 and a +sip.instance URN (Kamailio: OUTBOUND-SAVED, Supported:
#    outbound), and the CLI prints "registered expires=N outbound=yes flow_timer=2";
#  - a call to 1001 from `sipvoice call` (UDP, to Kamailio) is routed over the registered flow
#    (Kamailio: FLOW INVITE lr=2, the flow token of the binding's Path), answered with ;ob in the
#    200's Contact, and has RTP both ways (the call exits 0);
#  - the flow is kept alive the RFC 5626 way: CRLF pings on TCP, STUN Binding requests on UDP (§4.4.2,
#    answered by Kamailio's stun module), and no OPTIONS pings while it is registered;
#  - with Kamailio frozen (SIGSTOP: a TCP connection stays open but nothing answers), the CLI takes the
#    flow as dead within 16 s (TCP: no CRLF pong within 10 s of a ping, §4.4.1; UDP: no STUN answer): a
#    "failed" line, and the reason in its log; once Kamailio runs again it is registered again
#    (outbound), and a second call reaches it over the new flow;
#  - SIGTERM: un-REGISTER (the binding is gone) and exit 0.
# MEASURED: seconds from the freeze to the failure, and from the thaw to the new registration.
# Usage: cli_outbound.sh SIPVOICE tcp|udp
set -euo pipefail
source "$(dirname "$0")/lib.sh"
iop_sipvoice_check "${1:-}"
t=${2:?usage: cli_outbound.sh SIPVOICE tcp|udp}
case "$t" in
tcp) dead_reason='no keep-alive pong' ;;
udp) dead_reason='no answer to the STUN keep-alive' ;;
*) iop_fail "transport: tcp or udp, not '$t'" ;;
esac
iop_init "cli-outbound-$t"
iop_sipvoice_command answer
[ -f "$IOP_MODULE_DIR/outbound.so" ] ||
  iop_fail "Kamailio's outbound module ($IOP_MODULE_DIR/outbound.so) is missing: install kamailio-outbound-modules (tools/setup.sh does)"
mkdir -p "$IOP_DIR"
printf '#!define OUTBOUND\n#!define FLOW_TIMER 2\n' >"$IOP_DIR/kamailio-defines.cfg"
iop_start_kamailio 401
grep -q 'OUTBOUND' "$IOP_DIR/kamailio.cfg" || iop_fail "kamailio.cfg has no OUTBOUND section"
out=$IOP_DIR/answer.out
err=$IOP_DIR/answer.err
iop_wav_tone "$IOP_DIR/tone.wav" 8000 1000 2

iop_pick_port ap
iop_spawn ans answer "$SIPVOICE" answer --listen "$t:127.0.0.1:$ap" --echo --registrar "$(iop_registrar_uri "$t")" \
  --user 1001 --password secret1001 --outbound -v
wait_for_line "$out" '^registered ' 10 || iop_fail "our answer --outbound printed no 'registered' line in 10 s"
[[ "$IOP_LINE" =~ ^registered\ expires=[0-9]+\ outbound=yes\ flow_timer=2$ ]] ||
  iop_fail "expected 'registered expires=N outbound=yes flow_timer=2', got '$IOP_LINE'"
saved=$(iop_kam_events 'OUTBOUND-SAVED aor=1001 ' | head -n 1)
[ -n "$saved" ] || iop_fail "Kamailio saved no outbound binding of 1001 (no OUTBOUND-SAVED line)"
grep -q 'reg-id=1 ' <<<"$saved" || iop_fail "the binding has no reg-id=1: $saved"
grep -Eq 'instance="?<urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}>"?( |$)' <<<"$saved" ||
  iop_fail "the binding has no +sip.instance URN: $saved"
grep -q 'supported=outbound, path' <<<"$saved" || iop_fail "the REGISTER did not say Supported: outbound, path: $saved"
iop_log "saved: $saved"

# call_once N: a call to 1001 through Kamailio; it must go over the flow and be answered with ;ob.
call_once() {
  local n=$1 flows answers
  flows=$(iop_count "$IOP_DIR/kamailio.log" 'FLOW INVITE lr=2 ')
  answers=$(iop_count "$IOP_DIR/kamailio.log" 'ANSWER-CONTACT .*;ob[;>]')
  iop_cli_net udp
  iop_run 20 "call$n" "$SIPVOICE" call "sip:1001@127.0.0.1:$IOP_UDP_PORT" --codec pcmu --play "$IOP_DIR/tone.wav" \
    --duration 2 "${IOP_CLI_NET[@]}"
  iop_show "$IOP_DIR/call$n.out" 5
  [ "$IOP_RC" -eq 0 ] || iop_fail "call $n to 1001 exited $IOP_RC: $(tail -n 3 "$IOP_DIR/call$n.err" | tr '\n' ' ')"
  [ "$(iop_count "$IOP_DIR/kamailio.log" 'FLOW INVITE lr=2 ')" -gt "$flows" ] ||
    iop_fail "call $n: Kamailio did not route the INVITE by the flow token (no 'FLOW INVITE lr=2')"
  [ "$(iop_count "$IOP_DIR/kamailio.log" 'ANSWER-CONTACT .*;ob[;>]')" -gt "$answers" ] ||
    iop_fail "call $n: our 200 had no ;ob in its Contact: $(iop_kam_events 'ANSWER-CONTACT' | tail -n 1)"
  CALL_LINE=$(grep -m1 '^ended ' "$IOP_DIR/call$n.out" || true)
}
call_once 1
iop_log "call 1: $CALL_LINE"

# ---- keep-alives: the outbound way (TCP: CRLF, UDP: STUN), never OPTIONS pings
sleep 2.5
if [ "$t" = udp ]; then
  grep -q 'by STUN' "$err" || iop_fail "the UDP flow is not kept alive by STUN: $(grep 'outbound' "$err" | head -n 1)"
fi
[ "$(iop_count "$IOP_DIR/kamailio.log" 'OPTIONS-SELF')" -eq 0 ] ||
  iop_fail "OPTIONS keep-alives went to Kamailio while the flow was an outbound one"

# ---- a flow that dies silently: Kamailio frozen (a TCP connection stays open)
registered_before=$(iop_count "$out" '^registered ')
lines_before=$(iop_lines "$out")
frozen_at=$(iop_now)
kill -STOP -- "-$IOP_KAM_PID"
wait_for_line "$out" '^failed ' 16 "$lines_before" || { kill -CONT -- "-$IOP_KAM_PID"; iop_fail "no 'failed' line within 16 s of the freeze"; }
dead_after=$(iop_elapsed "$frozen_at")
iop_log "CLI: '$IOP_LINE' $dead_after s after the freeze"
kill -CONT -- "-$IOP_KAM_PID"
thawed_at=$(iop_now)
grep -q "$dead_reason" "$err" || iop_fail "the CLI did not log '$dead_reason' (answer.err)"
for _ in $(seq 200); do
  [ "$(iop_count "$out" '^registered .*outbound=yes')" -gt "$registered_before" ] && break
  sleep 0.05
done
[ "$(iop_count "$out" '^registered .*outbound=yes')" -gt "$registered_before" ] ||
  iop_fail "not registered again (outbound) within 10 s of Kamailio running again: $(tail -n 2 "$out" | tr '\n' ' ')"
back_after=$(iop_elapsed "$thawed_at")
call_once 2
iop_log "call 2: $CALL_LINE"

kill -TERM "$ans"
iop_wait_exit "$ans" 8
[ "$IOP_EXIT" = 0 ] || iop_fail "answer exited '$IOP_EXIT' on SIGTERM (expected 0)"
wait_for_no_binding 1001 5 || iop_fail "the binding of 1001 is still there after SIGTERM (no un-REGISTER)"
echo "MEASURED cli-outbound-$t: flow_timer=2 dead_flow_noticed_s=$dead_after registered_again_s=$back_after"
iop_pass
