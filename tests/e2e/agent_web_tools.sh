#!/usr/bin/env bash
# get_weather and home_assistant end to end, through a real Kamailio (UDP), against small local
# servers that speak the real APIs (tests/e2e/http_fixtures.py: Open-Meteo's /v1/forecast, Home
# Assistant's /api/states and /api/services with a bearer token), with the OpenAI-compatible test
# server as STT/LLM/TTS:
#  1. sipvoice-agent registers as 1002 with [weather] and [home_assistant] configured (the kitchen
#     light and light.turn_on allowed); our `sipvoice call` as 1001 calls it through Kamailio;
#  2. turn 1: the model calls get_weather -> GET /v1/forecast?latitude=52.52&longitude=13.41&... ->
#     "In Berlin it is 12 degrees and partly cloudy, ..." is spoken;
#  3. turn 2: home_assistant call_service light.turn_on on light.kitchen_light -> POST
#     /api/services/light/turn_on {"entity_id": "light.kitchen_light"} with the token -> "Done: ...";
#  4. turn 3: home_assistant get_state -> GET /api/states/light.kitchen_light -> "Kitchen Light is on.";
#  5. turn 4: the model asks for light.front_door (not allowed): refused with no request made.
# Usage: agent_web_tools.sh SIPVOICE SIPVOICE_AGENT TEST_SERVER
set -euo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init agent-web-tools "${1:-}" "${2:-}" "${3:-}"
iop_start_kamailio 401
registrar=$(iop_registrar_uri udp)

iop_spawn fixtures fixtures python3 "$E2E_SRC_DIR/http_fixtures.py" --port 0 --token ha-e2e-token --log "$IOP_DIR/fixtures.jsonl"
wait_for_line "$IOP_DIR/fixtures.out" '^listening port=' 10 || iop_fail "http_fixtures.py did not start: $(cat "$IOP_DIR/fixtures.err")"
fixtures_url="http://127.0.0.1:${IOP_LINE#listening port=}"

cat >"$IOP_DIR/script.json" <<'JSON'
{"stt": ["what is the weather like", "turn on the kitchen light", "is the kitchen light on", "open the front door"],
 "llm": [{"tool_call": {"name": "get_weather", "arguments": {}}}, {"echo_tool_result": true},
         {"tool_call": {"name": "home_assistant", "arguments": {"action": "call_service", "entity_id": "light.kitchen_light", "service": "light.turn_on"}}},
         {"echo_tool_result": true},
         {"tool_call": {"name": "home_assistant", "arguments": {"action": "get_state", "entity_id": "light.kitchen_light"}}},
         {"echo_tool_result": true},
         {"tool_call": {"name": "home_assistant", "arguments": {"action": "call_service", "entity_id": "lock.front_door", "service": "lock.unlock"}}},
         {"echo_tool_result": true}]}
JSON
e2e_start_server --script "$IOP_DIR/script.json"
e2e_start_agent STT_BACKEND=openai LLM_BACKEND=openai TTS_BACKEND=openai OPENAI_BASE_URL="$E2E_BASE" \
  SIP_REGISTRAR="$registrar" SIP_USER=1002 SIP_AUTH_USER=auth1002 SIP_PASSWORD=secret1002 \
  WEATHER_BASE_URL="$fixtures_url" WEATHER_LATITUDE=52.52 WEATHER_LONGITUDE=13.41 WEATHER_LOCATION=Berlin \
  HOME_ASSISTANT_BASE_URL="$fixtures_url" HOME_ASSISTANT_TOKEN=ha-e2e-token \
  HOME_ASSISTANT_ENTITIES=light.kitchen_light HOME_ASSISTANT_SERVICES=light.turn_on,light.turn_off
wait_for_line "$IOP_DIR/agent.err" 'registered 1002' 15 || iop_fail "the agent did not register within 15 s"
wait_for_line "$IOP_DIR/agent.err" 'tools: .*get_weather.*home_assistant' 1 || iop_fail "the agent does not offer get_weather and home_assistant"

# Four questions (a 300 Hz stand-in; the transcriptions are scripted), 5.5 s apart.
e2e_compose "$IOP_DIR/caller.wav" silence:4.5 tone:300:1.5 silence:5.0 tone:300:1.5 silence:4.0 tone:300:1.5 silence:4.0 tone:300:1.5 silence:6
iop_cli_net udp
iop_run 60 call "$SIPVOICE" call "sip:1002@127.0.0.1:$IOP_UDP_PORT" "${IOP_CLI_NET[@]}" \
  --play "$IOP_DIR/caller.wav" --record "$IOP_DIR/heard.wav" --duration 32
[ "$IOP_RC" = 0 ] || iop_fail "the call exited $IOP_RC: $(tail -n 5 "$IOP_DIR/call.err") $(cat "$IOP_DIR/call.out")"
e2e_stop_agent
for n in 1 2 3 4; do iop_log "turn $n: heard '$(e2e_turn $n heard)', said '$(e2e_turn $n said)'"; done

python3 - "$IOP_DIR/fixtures.jsonl" "$IOP_DIR/requests.jsonl" <<'PY' || iop_fail "the API requests or the replies were not as expected (above)"
import json, sys
api = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
reqs = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
fail = []
def check(cond, what):
    if not cond: fail.append(what)
forecast = [r for r in api if r["path"] == "/v1/forecast"]
check(len(forecast) == 1, f"{len(forecast)} forecast requests, expected 1")
if forecast:
    q = forecast[0]["query"]
    check(q.get("latitude") == ["52.52"] and q.get("longitude") == ["13.41"], f"forecast coordinates {q}")
    check("temperature_2m" in q.get("current", [""])[0] and "weather_code" in q.get("daily", [""])[0], f"forecast variables {q}")
    check(forecast[0]["method"] == "GET", "forecast not a GET")
posts = [r for r in api if r["path"].startswith("/api/services/")]
check(len(posts) == 1, f"{len(posts)} service calls, expected 1 (the lock must not be called): {[p['path'] for p in posts]}")
if posts:
    p = posts[0]
    check(p["path"] == "/api/services/light/turn_on" and p["method"] == "POST", f"service call {p['method']} {p['path']}")
    check(json.loads(p["body"]).get("entity_id") == "light.kitchen_light", f"service body {p['body']}")
    headers = {k.lower(): v for k, v in p["headers"].items()}
    check(headers.get("authorization") == "Bearer ha-e2e-token", f"no bearer token: {headers.get('authorization')}")
states = [r for r in api if r["path"].startswith("/api/states/")]
check([s["path"] for s in states] == ["/api/states/light.kitchen_light"], f"state reads {[s['path'] for s in states]}")
check(not any("front_door" in r["path"] for r in api), "a request for the front door was made")
speech = [r["body"]["input"] for r in reqs if r["path"].endswith("/audio/speech")]
said = " | ".join(speech)
check(any(s.startswith("Result: In Berlin it is 12 degrees and partly cloudy") for s in speech), f"no weather sentence spoken: {said}")
check(any("Done: turn on for Kitchen Light" in s for s in speech), f"no confirmation spoken: {said}")
check(any("Kitchen Light is on" in s for s in speech), f"no state spoken: {said}")
tool_msgs = [m["content"] for r in reqs if r["path"].endswith("/chat/completions") for m in r["body"]["messages"] if m["role"] == "tool"]
check(any(m.startswith("error: not allowed") for m in tool_msgs), f"the front door was not refused: {tool_msgs}")
for f in fail: print("  " + f, file=sys.stderr)
print("spoken: " + said)
sys.exit(1 if fail else 0)
PY
iop_pass
