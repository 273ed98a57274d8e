#!/usr/bin/env bash
# Tools through a real Kamailio (UDP), with the OpenAI-compatible test server as STT/LLM/TTS:
#  1. sipvoice-agent registers as extension 1002; extension 1001 is our `sipvoice answer --register`
#     (it takes the callback); the caller, `sipvoice call` as 1001 through Kamailio, calls 1002;
#  2. turn 1: "what is seventeen times twenty three" -> the model calls calculate {"expression": "17*23"}
#     -> the tool says "17 times 23 is 391." -> the model's reply with it is spoken and heard;
#  3. turn 2: "set two timers" -> set_timer {"seconds": 2, "label": "the tea"} and set_timer
#     {"seconds": 9} (parallel tool calls); the first comes due with the caller still on the line and is
#     said in the call ("Your timer for 2 seconds, the tea, is up."); the caller hangs up;
#  4. the timer comes due with nobody on the line: the agent calls 1001 back through Kamailio (its
#     INVITE challenged with 407 and sent again with the account's credentials, then routed to the
#     registered `sipvoice answer`), which answers; the
#     call opens with "Hello, this is your voice assistant. Your timer for 8 seconds is up. ..." and
#     the callee hears it; the turn log records the outbound call as answered;
#  5. SIGTERM: the callback call gets the goodbye and a BYE; the agent exits 0.
# MEASURED: timer due -> callback answered, the opening heard by the callee.
# Usage: agent_tools_callback.sh SIPVOICE SIPVOICE_AGENT TEST_SERVER
set -euo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init agent-tools-callback "${1:-}" "${2:-}" "${3:-}"
# Kamailio challenges every initial INVITE with 407 (as 3CX does): the caller's, and the agent's
# callback, which must answer it with its account's credentials.
printf '#!define CHALLENGE_INVITE\n' >"$IOP_DIR/kamailio-defines.cfg"
iop_start_kamailio 401
registrar=$(iop_registrar_uri udp)

cat >"$IOP_DIR/script.json" <<'JSON'
{"stt": ["what is seventeen times twenty three", "set two timers"],
 "llm": [{"tool_call": {"name": "calculate", "arguments": {"expression": "17*23"}}}, {"echo_tool_result": true},
         {"tool_calls": [{"name": "set_timer", "arguments": {"seconds": 2, "label": "the tea"}},
                         {"name": "set_timer", "arguments": {"seconds": 9}}]}, {"echo_tool_result": true},
         {"text": "You are welcome."}]}
JSON
e2e_start_server --script "$IOP_DIR/script.json"
e2e_start_agent STT_BACKEND=openai LLM_BACKEND=openai TTS_BACKEND=openai OPENAI_BASE_URL="$E2E_BASE" \
  SIP_REGISTRAR="$registrar" SIP_USER=1002 SIP_AUTH_USER=auth1002 SIP_PASSWORD=secret1002 TOOLS_RING_TIMEOUT=15
wait_for_line "$IOP_DIR/agent.err" 'registered 1002' 15 || iop_fail "the agent did not register within 15 s"
wait_for_line "$IOP_DIR/agent.err" 'tools: .*calculate.*set_timer' 1 || iop_fail "the agent does not offer calculate and set_timer"

# ---- 1001's phone: takes the callback, records it
e2e_compose "$IOP_DIR/silence.wav" silence:1
iop_pick_port ap
iop_spawn ans answer "$SIPVOICE" answer --listen "udp:127.0.0.1:$ap" --play "$IOP_DIR/silence.wav" \
  --record "$IOP_DIR/callback.wav" --max-calls 1 --registrar "$registrar" --user 1001 --password secret1001 -v
wait_for_line "$IOP_DIR/answer.out" '^registered ' 10 || iop_fail "sipvoice answer did not register 1001"
wait_for_binding 1001 5 || iop_fail "no binding of 1001 in Kamailio"

# ---- 1001 calls 1002: two questions (a 300 Hz stand-in; the transcriptions are scripted), then hangs up
e2e_compose "$IOP_DIR/caller.wav" silence:4.5 tone:300:1.5 silence:4.0 tone:300:1.5 silence:6
iop_cli_net udp
iop_run 40 call "$SIPVOICE" call "sip:1002@127.0.0.1:$IOP_UDP_PORT" "${IOP_CLI_NET[@]}" --registrar "$registrar" \
  --user 1001 --password secret1001 --play "$IOP_DIR/caller.wav" --record "$IOP_DIR/heard.wav" --duration 17
hung_up=$(iop_now)
[ "$IOP_RC" = 0 ] || iop_fail "the call exited $IOP_RC: $(tail -n 5 "$IOP_DIR/call.err") $(cat "$IOP_DIR/call.out")"
[ "$(e2e_turn 1 heard)" = "what is seventeen times twenty three" ] || iop_fail "turn 1 heard '$(e2e_turn 1 heard)'"
[ "$(e2e_turn 1 said)" = "Result: 17 times 23 is 391." ] || iop_fail "turn 1 said '$(e2e_turn 1 said)'"
[ "$(e2e_turn 2 said)" = "Result: Timer 2 is set for 9 seconds." ] || iop_fail "turn 2 said '$(e2e_turn 2 said)'"
grep -q 'timer 1 due: telling sip:1001@127.0.0.1 on call' "$IOP_DIR/agent.err" \
  || iop_fail "timer 1 was not said on the line: $(grep -i 'timer' "$IOP_DIR/agent.err" | tail -n 3)"
segments=$(e2e_segments "$IOP_DIR/heard.wav")
iop_log "sound in the caller's recording (s): $(tr '\n' ',' <<<"$segments")"
reply=$(awk '$1 >= 6.0 && $1 < 10.0 { print; exit }' <<<"$segments")
[ -n "$reply" ] || iop_fail "the caller heard no answer to the arithmetic question (asked until 6.0 s)"

# ---- the timer calls 1001 back
wait_for_line "$IOP_DIR/answer.out" '^connected' 25 || iop_fail "no callback reached 1001 within 25 s of the hang-up: $(grep -i 'timer\|calling\|call to' "$IOP_DIR/agent.err" | tail -n 5)"
answered_after=$(iop_elapsed "$hung_up")
grep -q 'CHALLENGE-INVITE 407 .*from=1002' "$IOP_DIR/kamailio.log" \
  || iop_fail "Kamailio did not challenge the agent's callback INVITE (407), so its answer is not shown: $(grep CHALLENGE "$IOP_DIR/kamailio.log" | tail -n 3)"
grep -q 'timer 2 due: .* has hung up, calling sip:1001@127.0.0.1' "$IOP_DIR/agent.err" \
  || iop_fail "the agent's log does not say why it called: $(grep -i 'timer' "$IOP_DIR/agent.err" | tail -n 3)"
sleep 5  # the opening line plays (about 5 s of the server's speech)
kill -TERM "$E2E_AGENT_PID"
iop_wait_exit "$E2E_AGENT_PID" 15
[ "$IOP_EXIT" = 0 ] || iop_fail "sipvoice-agent exited $IOP_EXIT after SIGTERM (expected 0)"
iop_wait_exit "$ans" 10
grep -q '^ended' "$IOP_DIR/answer.out" || iop_fail "the callback call did not end: $(cat "$IOP_DIR/answer.out")"

python3 - "$IOP_DIR/requests.jsonl" "$E2E_TURNS" <<'PY' || iop_fail "the requests or the turn log were not as expected (above)"
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
log = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
fail = []
chat = [r["body"] for r in reqs if r["path"].endswith("/chat/completions")]
speech = [r["body"]["input"] for r in reqs if r["path"].endswith("/audio/speech")]
tools = {t["function"]["name"] for t in chat[0].get("tools", [])} if chat else set()
for n in ("calculate", "set_timer", "list_timers", "cancel_timer", "schedule_callback", "system_status"):
    if n not in tools: fail.append(f"{n} not offered: {sorted(tools)}")
results = [m["content"] for b in chat for m in b["messages"] if m["role"] == "tool"]
if "17 times 23 is 391." not in results: fail.append(f"no calculate result among {results}")
if "Timer 1 is set for 2 seconds, for the tea." not in results or "Timer 2 is set for 9 seconds." not in results:
    fail.append(f"no timer results among {results}")
if "Your timer for 2 seconds, the tea, is up." not in speech: fail.append(f"the first timer was not said on the line: {speech}")
opening = "Hello, this is your voice assistant. Your timer for 9 seconds is up. Is there anything else?"
if "Result: 17 times 23 is 391." not in speech: fail.append(f"the number was not spoken: {speech}")
if opening not in speech: fail.append(f"the callback's opening was not spoken: {speech}")
out = [l for l in log if l.get("event") == "outbound_call"]
if not out or out[-1].get("outcome") != "answered" or out[-1].get("why") != "timer 2":
    fail.append(f"the outbound call is not recorded as answered: {out}")
for f in fail: print("  " + f, file=sys.stderr)
sys.exit(1 if fail else 0)
PY
cb=$(e2e_segments "$IOP_DIR/callback.wav")
iop_log "sound in the callback's recording (s): $(tr '\n' ',' <<<"$cb")"
first=$(head -n1 <<<"$cb")
[ -n "$first" ] || iop_fail "1001 heard nothing in the callback"
len=$(awk -v a="${first% *}" -v b="${first#* }" 'BEGIN { printf "%.2f", b - a }')
iop_le 2.0 "$len" || iop_fail "the callback's opening lasted $len s only"
iop_log "MEASURED hang-up -> callback answered $answered_after s (timer 9 s, set about 5 s before the hang-up); opening heard ${first% *}-${first#* } s into the callback; turn 1 stt $(e2e_turn 1 ms.stt_done) ms, first rtp $(e2e_turn 1 ms.first_rtp) ms"
iop_pass
