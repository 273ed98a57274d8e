#!/usr/bin/env bash
# The whole product, offline, through a real Kamailio over TRANSPORT (udp, tcp, tls):
#  1. sipvoice-agent, with no backend configured (pocketsphinx, the rule brain, flite), registers as
#     extension 1002 (auth user auth1002, digest challenged by Kamailio) from SIP_* variables;
#  2. our `sipvoice call sip:1002@<Kamailio>` over the same transport is routed to it over the agent's
#     registration flow (over TLS the caller has no certificate and listens for no TLS: its Contact
#     names the port of the connection it opened, and the agent's BYE comes back over it); the caller
#     waits through the greeting
#     and asks "What time is it?" (synthesized by the agent's own offline voice, --say);
#  3. the agent hears it (turn log: the words "time"), answers with the time ("It is 2:05 PM."), and
#     the caller hears the answer after its question;
#  4. with the call still up, SIGTERM: the caller hears the goodbye and then gets the agent's BYE; the
#     agent un-REGISTERs (Kamailio's binding of 1002 disappears) and exits 0.
# MEASURED: registration time, the turn's timings (turn log), reply start after the question's end,
# SIGTERM -> BYE at the caller.
# Usage: agent_kamailio.sh SIPVOICE SIPVOICE_AGENT udp|tcp|tls
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t=${3:?usage: agent_kamailio.sh SIPVOICE SIPVOICE_AGENT udp|tcp|tls}
e2e_init "agent-kamailio-$t" "${1:-}" "${2:-}"
iop_start_kamailio 401
registrar=$(iop_registrar_uri "$t")

# The caller's audio: silence while the greeting plays, then the question.
e2e_say "Hello, this is your voice assistant. How can I help you?" "$IOP_DIR/greeting.wav"
e2e_say "What time is it?" "$IOP_DIR/question.wav"
greet_s=$(e2e_duration "$IOP_DIR/greeting.wav")
ask_at=$(awk -v g="$greet_s" 'BEGIN { printf "%.2f", g + 1.0 }')
q_s=$(e2e_duration "$IOP_DIR/question.wav")
q_end=$(awk -v a="$ask_at" -v q="$q_s" 'BEGIN { printf "%.2f", a + q }')
e2e_compose "$IOP_DIR/caller.wav" "silence:$ask_at" "wav:$IOP_DIR/question.wav" silence:20
iop_log "greeting $greet_s s; the caller asks at $ask_at s, until $q_end s"

start=$(iop_now)
tls_env=()
[ "$t" = tls ] && tls_env=(SSL_CERT_FILE="$IOP_CA")
e2e_start_agent "${tls_env[@]}" SIP_REGISTRAR="$registrar" SIP_USER=1002 SIP_AUTH_USER=auth1002 SIP_PASSWORD=secret1002
wait_for_line "$IOP_DIR/agent.err" 'registered 1002' 15 || iop_fail "the agent did not register within 15 s"
wait_for_binding 1002 5 || iop_fail "no binding of 1002 in Kamailio although the agent says registered"
iop_log "MEASURED registered after $(iop_elapsed "$start") s; binding: $(iop_binding_field 1002 Address | tr '\n' ' ')"

iop_cli_net "$t"
iop_spawn caller call "$SIPVOICE" call "sip:1002@127.0.0.1:$(iop_port_of "$t");transport=$t" "${IOP_CLI_NET[@]}" \
  --play "$IOP_DIR/caller.wav" --record "$IOP_DIR/heard.wav" --duration 40
wait_for_line "$IOP_DIR/call.out" '^connected' 10 || iop_fail "the call through Kamailio was not answered: $(cat "$IOP_DIR/call.out" "$IOP_DIR/call.err")"
wait_for_line "$E2E_TURNS" '"turn":1' 25 || iop_fail "no turn logged: the agent did not answer the question"
heard=$(e2e_turn 1 heard) said=$(e2e_turn 1 said)
iop_log "turn 1: heard '$heard', said '$said'"
[[ ${heard,,} == *time* ]] || iop_fail "the agent did not hear the question: '$heard'"
[[ $said =~ It\ is\ [0-9]{1,2}:[0-9]{2}\ [AP]M ]] || iop_fail "the answer has no time in it: '$said'"

# The answer plays out (the turn is logged once its audio has gone), then SIGTERM with the call up.
sleep 1
stop_at=$(iop_now)
kill -TERM "$E2E_AGENT_PID"
wait_for_line "$IOP_DIR/call.out" '^ended' 15 || iop_fail "the caller got no BYE within 15 s of the agent's SIGTERM"
bye_s=$(iop_elapsed "$stop_at")
grep -q 'ended reason=remote hangup' "$IOP_DIR/call.out" || iop_fail "the call did not end by the agent's BYE: $(cat "$IOP_DIR/call.out")"
iop_wait_exit "$caller" 10
iop_wait_exit "$E2E_AGENT_PID" 10
[ "$IOP_EXIT" = 0 ] || iop_fail "sipvoice-agent exited $IOP_EXIT after SIGTERM (expected 0)"
wait_for_no_binding 1002 5 || iop_fail "the agent did not un-REGISTER: 1002 still bound"
grep -q 'unregistered 1002' "$IOP_DIR/agent.err" || iop_fail "the agent did not log its un-REGISTER"

segments=$(e2e_segments "$IOP_DIR/heard.wav")
iop_log "sound in the caller's recording (s): $(tr '\n' ',' <<<"$segments")"
first=$(head -n1 <<<"$segments")
iop_le "${first% *}" 1.0 || iop_fail "the greeting did not start at once: $first"
glen=$(awk -v a="${first% *}" -v b="${first#* }" 'BEGIN { printf "%.2f", b - a }')
iop_le 1.5 "$glen" || iop_fail "the greeting lasted only $glen s"
reply=$(awk -v t="$q_end" '$1 >= t { print; exit }' <<<"$segments")
[ -n "$reply" ] || iop_fail "no answer heard after the question (which ended at $q_end s)"
last=$(tail -n1 <<<"$segments")
[ "$last" != "$reply" ] || iop_fail "no goodbye heard after the answer"
iop_log "MEASURED turn 1 (ms after end of speech): stt $(e2e_turn 1 ms.stt_done), first token $(e2e_turn 1 ms.llm_first_token), tts first audio $(e2e_turn 1 ms.tts_first_audio), first rtp $(e2e_turn 1 ms.first_rtp); answer heard from ${reply% *} s (question ended $q_end s); SIGTERM -> BYE $bye_s s, goodbye heard ${last% *}-${last#* } s"
iop_pass
