#!/usr/bin/env bash
# Our `sipvoice call --registrar ... --user 1001 --password ...` through a real Kamailio that
# challenges INVITEs (CHALLENGE_INVITE: 407 Proxy-Authenticate, no qop, as 3CX does), to a callee
# registered as 1002 (auth user auth1002):
#   CALLEE=baresip: baresip registers 1002 over CALLEE_T (digest, answermode=auto, a 600 Hz tone);
#   CALLEE=answer:  our own `sipvoice answer --register` registers 1002 over CALLEE_T (a 600 Hz tone).
# The call dials the bare extension 1002 (sip:1002@127.0.0.1: the registrar's domain) with the
# registrar as outbound proxy over CALLER_T, plays a 1000 Hz tone and hangs up after 3 s. Kamailio
# Record-Routes the call, so our ACK and BYE go through it too.
# Passes when:
#  - our call exits 0 (answered, RTP both ways), connected and ended lines;
#  - kamailio.log shows our first INVITE challenged (CHALLENGE-INVITE 407, no credentials) and the
#    next one, same Call-ID and CSeq + 1, authorized as 1001 (INVITE-AUTHORIZED from=1001 auth=1001)
#    and routed to 1002; exactly one challenge;
#  - each side heard the other's tone (>= 1 s of sound, >= 80% of the energy at its frequency).
# MEASURED: the 407 round (challenge to authorized INVITE), codec, rtp_in/rtp_out, tone shares.
# CALLEE_T tls (answer only): our answer listens on UDP and registers over a TLS connection of its own
# (no certificate, so it listens for no TLS); the call reaches it over that connection.
# Usage: call_register_auth.sh SIPVOICE udp|tcp|tls baresip|answer [udp|tcp|tls]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
iop_sipvoice_check "${1:-}"
usage='usage: call_register_auth.sh SIPVOICE udp|tcp|tls baresip|answer [udp|tcp|tls]'
t=${2:?$usage}
callee=${3:?$usage}
ct=${4:-$t}
case "$callee" in baresip|answer) ;; *) iop_fail "callee: baresip or answer, not '$callee'" ;; esac
case "$callee/$ct" in */udp|*/tcp|answer/tls) ;; *) iop_fail "callee transport: udp or tcp (or tls for answer), not '$ct'" ;; esac
iop_init "call-register-auth-$t-$callee-$ct"
iop_sipvoice_command call
[ "$callee" = baresip ] && iop_require_baresip
# Kamailio challenges INVITEs: the define is read by kamailio.cfg's import_file at start.
mkdir -p "$IOP_DIR"
printf '#!define CHALLENGE_INVITE\n' >"$IOP_DIR/kamailio-defines.cfg"
iop_start_kamailio 401
grep -q 'CHALLENGE_INVITE' "$IOP_DIR/kamailio.cfg" || iop_fail "kamailio.cfg has no CHALLENGE_INVITE section"
kport=$(iop_port_of "$ct")
iop_wav_tone "$IOP_DIR/tone.wav" 8000 1000 2.5
iop_wav_tone "$IOP_DIR/tone600.wav" 8000 600 2.5

# ---- the callee registers 1002
case "$callee" in
baresip)
  iop_pick_port bp
  iop_start_baresip baresip "$bp" 600 \
    "<sip:1002@127.0.0.1:$kport;transport=$ct>;auth_user=auth1002;auth_pass=secret1002;answermode=auto;regint=60"
  ;;
answer)
  iop_pick_port ap
  listen=$ct ca=()
  if [ "$ct" = tls ]; then listen=udp ca=(--ca-file "$IOP_CA"); fi
  iop_spawn ans answer "$SIPVOICE" answer --listen "$listen:127.0.0.1:$ap" --play "$IOP_DIR/tone600.wav" \
    --record "$IOP_DIR/callee-heard.wav" --max-calls 1 --registrar "$(iop_registrar_uri "$ct")" --user 1002 \
    --auth-user auth1002 --password secret1002 "${ca[@]}" -v
  wait_for_line "$IOP_DIR/answer.out" '^registered ' 10 || iop_fail "our answer --register printed no 'registered' line"
  ;;
esac
wait_for_binding 1002 10 || iop_fail "$callee did not register 1002 with Kamailio within 10 s"
iop_log "binding of 1002: $(iop_binding_field 1002 Address | tr '\n' ' ')"

# ---- our call through the registrar, with INVITE proxy authentication
iop_cli_net "$t"
iop_run 25 call env SIP_PASSWORD=secret1001 "$SIPVOICE" call 1002 --registrar "$(iop_registrar_uri "$t")" --user 1001 \
  --codec pcmu --play "$IOP_DIR/tone.wav" --record "$IOP_DIR/heard.wav" --duration 3 "${IOP_CLI_NET[@]}" -v
out=$IOP_DIR/call.out
iop_show "$out" 10
[ "$IOP_RC" -eq 0 ] || iop_fail "sipvoice call --registrar exited $IOP_RC: $(grep -v ': debug:' "$IOP_DIR/call.err" | tail -n 3 | tr '\n' ' ')"
grep -q 'secret1001' "$out" "$IOP_DIR/call.err" && iop_fail "the password appears in the CLI's output"

# ---- Kamailio: first INVITE challenged, the second authorized
challenged=$(iop_kam_events 'CHALLENGE-INVITE 407 .*from=1001 to=1002')
authorized=$(iop_kam_events 'INVITE-AUTHORIZED from=1001 to=1002 auth=1001')
[ "$(grep -c . <<<"$challenged")" -eq 1 ] || iop_fail "expected exactly one 407 challenge of our INVITE, got: ${challenged:-none}"
[ -n "$authorized" ] || iop_fail "our INVITE with Proxy-Authorization was not authorized as 1001 (kamailio.log)"
grep -q 'auth=<null>' <<<"$challenged" || iop_fail "the challenged INVITE already carried credentials: $challenged"
c_callid=$(sed -n 's/.* callid=\([^ ]*\).*/\1/p' <<<"$challenged")
c_cseq=$(sed -n 's/.* cseq=\([0-9]*\).*/\1/p' <<<"$challenged")
a_line=$(head -n1 <<<"$authorized")
a_callid=$(sed -n 's/.* callid=\([^ ]*\).*/\1/p' <<<"$a_line")
a_cseq=$(sed -n 's/.* cseq=\([0-9]*\).*/\1/p' <<<"$a_line")
[ "$a_callid" = "$c_callid" ] || iop_fail "the authorized INVITE has another Call-ID ($a_callid) than the challenged one ($c_callid)"
[ "$a_cseq" -eq $((c_cseq + 1)) ] || iop_fail "the authorized INVITE has CSeq $a_cseq, expected $((c_cseq + 1))"
auth_round=$(awk -v a="$(iop_event_time "$challenged")" -v b="$(iop_event_time "$a_line")" 'BEGIN { printf "%.3f", b - a }')
[ "$(iop_count "$IOP_DIR/kamailio.log" 'ROUTE INVITE 1002')" -ge 1 ] || iop_fail "Kamailio did not route the INVITE to 1002"
[ "$(iop_count "$IOP_DIR/kamailio.log" 'IN-DIALOG BYE')" -ge 1 ] || iop_fail "our BYE did not go through Kamailio (Record-Route)"
iop_log "challenged: $challenged"
iop_log "authorized: $a_line (after $auth_round s)"

ended=$(grep -m1 '^ended ' "$out" || true)
rtp_in=$(iop_field "$ended" rtp_in)
rtp_out=$(iop_field "$ended" rtp_out)
codec_line=$(grep -m1 '^connected ' "$out")

# ---- each side heard the other's tone
iop_expect_tone "$IOP_DIR/heard.wav" 600 "we heard (600 Hz is the callee's tone)"
ours=$IOP_AUDIO
case "$callee" in
baresip)
  wait_for_line "$IOP_DIR/baresip.out" 'Call with .* terminated' 5 || iop_log "baresip did not log the end of the call"
  theirs_wav=$(iop_baresip_wav baresip dec)
  [ -n "$theirs_wav" ] || iop_fail "baresip wrote no decoded-audio WAV (sndfile) in $IOP_DIR/baresip"
  ;;
answer)
  iop_wait_exit "$ans" 8
  [ "$IOP_EXIT" = 0 ] || iop_fail "our answer --max-calls 1 exited '$IOP_EXIT' (expected 0)"
  theirs_wav=$IOP_DIR/callee-heard.wav
  ;;
esac
iop_expect_tone "$theirs_wav" 1000 "$callee heard (1000 Hz is ours)"
theirs=$IOP_AUDIO
echo "MEASURED call-register-auth-$t-$callee-$ct: invite_407_to_authorized_s=$auth_round ${codec_line#connected }" \
  "rtp_in=$rtp_in rtp_out=$rtp_out we_heard_600Hz_share=$(iop_field "$ours" tone)" \
  "callee_heard_1000Hz_share=$(iop_field "$theirs" tone)"
if [ "$callee" = baresip ]; then
  kill -TERM "$IOP_BARESIP_PID" 2>/dev/null || true
  iop_wait_exit "$IOP_BARESIP_PID" 5
fi
iop_pass
