#!/usr/bin/env bash
# sipvoice-agent with OpenAI-compatible backends (the test server speaking the real wire formats), as a
# trunk on 127.0.0.1; our `sipvoice call` dials it, waits through the greeting, "speaks" for 1.5 s
# (a 300 Hz stand-in: the server's transcription is scripted), then listens.
#  - the server's script: STT hears "what time is it"; the model first calls get_datetime (its
#    arguments split over several SSE chunks), then answers "Result: " + the tool's result;
#  - every request is checked field by field: the multipart upload (model, language, response_format,
#    a 16 kHz mono WAV of the turn), both chat requests (model, stream, the tools' JSON Schema, the
#    system prompt and the caller's words; then the assistant's tool_calls and the role "tool" result
#    in the history), the speech requests (model, voice, response_format pcm, the reply's text), and
#    the API key on each;
#  - the caller hears the greeting at once and the reply after its question (the server's 440 Hz
#    speech), and the turn log has the turn with its timings.
# MEASURED: end of speech -> STT done, LLM first token, TTS first audio, first RTP (turn log), and the
# reply's start in the caller's recording after the question's end.
# Usage: agent_openai.sh SIPVOICE SIPVOICE_AGENT TEST_SERVER
set -euo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init agent-openai "${1:-}" "${2:-}" "${3:-}"

cat >"$IOP_DIR/script.json" <<'JSON'
{"stt": ["what time is it"],
 "llm": [{"tool_call": {"name": "get_datetime", "arguments": {"what": "time"}}}, {"echo_tool_result": true}]}
JSON
e2e_start_server --script "$IOP_DIR/script.json" --api-key sk-e2e-key
e2e_start_agent STT_BACKEND=openai LLM_BACKEND=openai TTS_BACKEND=openai OPENAI_BASE_URL="$E2E_BASE" \
  OPENAI_API_KEY=sk-e2e-key STT_MODEL=whisper-e2e LLM_MODEL=gpt-e2e TTS_MODEL=tts-e2e TTS_VOICE=nova

e2e_compose "$IOP_DIR/caller.wav" silence:4.5 tone:300:1.5 silence:6
iop_run 30 call "$SIPVOICE" call "sip:agent@127.0.0.1:$E2E_AGENT_PORT" --play "$IOP_DIR/caller.wav" \
  --record "$IOP_DIR/heard.wav" --duration 11
[ "$IOP_RC" = 0 ] || iop_fail "the call exited $IOP_RC: $(cat "$IOP_DIR/call.err" "$IOP_DIR/call.out")"
e2e_stop_agent

# ---- the requests, field by field
python3 - "$IOP_DIR/requests.jsonl" <<'PY' || iop_fail "a request to the test server was not as expected (above)"
import json, re, sys
reqs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
fail = []
def check(cond, what):
    if not cond: fail.append(what)
for r in reqs:
    check(r["headers"].get("authorization") == "Bearer sk-e2e-key", f"{r['path']}: no bearer key")
stt = [r for r in reqs if r["path"].endswith("/audio/transcriptions")]
chat = [r for r in reqs if r["path"].endswith("/chat/completions")]
speech = [r for r in reqs if r["path"].endswith("/audio/speech")]
check(len(stt) == 1, f"{len(stt)} transcription requests, expected 1")
check(len(chat) == 2, f"{len(chat)} chat requests, expected 2")
if stt:
    f = stt[0]["fields"]
    check(f.get("model") == "whisper-e2e", f"stt model {f.get('model')}")
    check(f.get("language") == "en", f"stt language {f.get('language')}")
    check(f.get("response_format") == "json", f"stt response_format {f.get('response_format')}")
    w = stt[0]["file"]["wav"]
    check(w is not None and w["rate"] == 16000 and w["channels"] == 1 and w["bits"] == 16, f"stt file {stt[0]['file']}")
    check(w is not None and 1.4 <= w["seconds"] <= 2.5, f"stt audio of {w and w['seconds']} s for 1.5 s of speech")
if len(chat) == 2:
    b1, b2 = chat[0]["body"], chat[1]["body"]
    for b in (b1, b2):
        check(b["model"] == "gpt-e2e" and b["stream"] is True, f"chat model/stream {b['model']} {b.get('stream')}")
    tools = {t["function"]["name"]: t["function"] for t in b1.get("tools", [])}
    check("get_datetime" in tools and tools["get_datetime"]["parameters"]["type"] == "object", f"tools {list(tools)}")
    check("hang_up" in tools, "hang_up not offered")
    m1 = b1["messages"]
    check(m1[0]["role"] == "system" and "spoken" in m1[0]["content"], f"system prompt {m1[0]}")
    check(m1[-1] == {"role": "user", "content": "what time is it"}, f"last message {m1[-1]}")
    m2 = b2["messages"]
    calls = [m for m in m2 if m["role"] == "assistant" and m.get("tool_calls")]
    check(len(calls) == 1 and calls[0]["tool_calls"][0]["function"]["name"] == "get_datetime"
          and json.loads(calls[0]["tool_calls"][0]["function"]["arguments"]) == {"what": "time"}, f"tool call {calls}")
    results = [m for m in m2 if m["role"] == "tool"]
    check(len(results) == 1 and calls and results[0]["tool_call_id"] == calls[0]["tool_calls"][0]["id"]
          and re.match(r"It is \d{1,2}:\d\d [AP]M\.", results[0]["content"]), f"tool result {results}")
for s in speech:
    b = s["body"]
    check(b["model"] == "tts-e2e" and b["voice"] == "nova" and b["response_format"] == "pcm", f"speech body {b}")
inputs = [s["body"]["input"] for s in speech]
check("Hello, this is your voice assistant. How can I help you?" in inputs, f"no greeting among {inputs}")
check(any(re.fullmatch(r"Result: It is \d{1,2}:\d\d [AP]M\.", i) for i in inputs), f"no reply among {inputs}")
for f in fail: print("  " + f, file=sys.stderr)
sys.exit(1 if fail else 0)
PY
iop_log "requests: $(wc -l <"$IOP_DIR/requests.jsonl") checked field by field"

# ---- what the caller heard
segments=$(e2e_segments "$IOP_DIR/heard.wav")
iop_log "sound in the caller's recording (s): $(tr '\n' ',' <<<"$segments")"
first=$(head -n1 <<<"$segments")
iop_le "${first% *}" 0.8 || iop_fail "the greeting did not start at once: $first"
greeting_tone=$("${E2E_WAVTOOL[@]}" tone "$IOP_DIR/heard.wav" 440 "${first% *}" "${first#* }")
iop_le 0.8 "$greeting_tone" || iop_fail "the greeting is not the server's speech (440 Hz share $greeting_tone)"
reply=$(awk '$1 >= 6.0 { print; exit }' <<<"$segments")
[ -n "$reply" ] || iop_fail "no reply heard after the question (which ended at 6.0 s)"
reply_tone=$("${E2E_WAVTOOL[@]}" tone "$IOP_DIR/heard.wav" 440 "${reply% *}" "${reply#* }")
iop_le 0.8 "$reply_tone" || iop_fail "the reply is not the server's speech (440 Hz share $reply_tone)"
reply_len=$(awk -v a="${reply% *}" -v b="${reply#* }" 'BEGIN { printf "%.2f", b - a }')
iop_le 1.0 "$reply_len" || iop_fail "the reply lasted $reply_len s, expected about 1.3 s"

# ---- the turn log
[ "$(e2e_turn_count)" = 1 ] || iop_fail "turn log has $(e2e_turn_count) lines, expected 1: $(cat "$E2E_TURNS")"
[ "$(e2e_turn 1 heard)" = "what time is it" ] || iop_fail "turn 1 heard '$(e2e_turn 1 heard)'"
for k in stt_done llm_first_token tts_first_audio first_rtp; do
  v=$(e2e_turn 1 "ms.$k")
  [ "$v" != null ] || iop_fail "turn 1 has no ms.$k"
done
iop_log "MEASURED turn 1 (ms after end of speech): stt $(e2e_turn 1 ms.stt_done), llm first token $(e2e_turn 1 ms.llm_first_token), tts first audio $(e2e_turn 1 ms.tts_first_audio), first rtp $(e2e_turn 1 ms.first_rtp); reply heard at ${reply% *} s (question ended 6.00 s), $reply_len s long"
iop_pass
