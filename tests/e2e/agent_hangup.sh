#!/usr/bin/env bash
# The model ends the call: sipvoice-agent (trunk on 127.0.0.1) with the OpenAI-compatible test
# server, whose model answers the caller's "goodbye" with a call to the hang_up tool and then the
# farewell "Goodbye, talk to you soon." Our `sipvoice call` asks once and then waits.
# Passes when the hang_up tool was offered and called, its result went back to the model, the caller
# hears the farewell after its question, and the agent's BYE comes only once the farewell has played
# (the turn log marks end_call).
# MEASURED: farewell start and end in the caller's recording, and the BYE after its end.
# Usage: agent_hangup.sh SIPVOICE SIPVOICE_AGENT TEST_SERVER
set -euo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init agent-hangup "${1:-}" "${2:-}" "${3:-}"
cat >"$IOP_DIR/script.json" <<'JSON'
{"stt": ["goodbye"],
 "llm": [{"tool_call": {"name": "hang_up", "arguments": {}}}, {"text": "Goodbye, talk to you soon."}]}
JSON
e2e_start_server --script "$IOP_DIR/script.json"
e2e_start_agent STT_BACKEND=openai LLM_BACKEND=openai TTS_BACKEND=openai OPENAI_BASE_URL="$E2E_BASE"

e2e_compose "$IOP_DIR/caller.wav" silence:4.5 tone:300:1.0 silence:10
iop_run 30 call "$SIPVOICE" call "sip:agent@127.0.0.1:$E2E_AGENT_PORT" --play "$IOP_DIR/caller.wav" \
  --record "$IOP_DIR/heard.wav" --duration 15
grep -q 'ended reason=remote hangup' "$IOP_DIR/call.out" || iop_fail "the agent did not hang up: $(cat "$IOP_DIR/call.out" "$IOP_DIR/call.err")"
[ "$IOP_RC" = 0 ] || iop_fail "the call exited $IOP_RC: $(cat "$IOP_DIR/call.err")"
e2e_stop_agent

[ "$(e2e_turn 1 end_call)" = true ] || iop_fail "turn 1 is not marked end_call: $(cat "$E2E_TURNS")"
[ "$(e2e_turn 1 said)" = "Goodbye, talk to you soon." ] || iop_fail "turn 1 said '$(e2e_turn 1 said)'"
python3 - "$IOP_DIR/requests.jsonl" <<'PY' || iop_fail "the hang_up tool round trip was not as expected"
import json, sys
chat = [json.loads(l) for l in open(sys.argv[1]) if '"/v1/chat/completions"' in l]
assert len(chat) == 2, f"{len(chat)} chat requests"
assert any(t["function"]["name"] == "hang_up" for t in chat[0]["body"]["tools"]), "hang_up not offered"
tool = [m for m in chat[1]["body"]["messages"] if m["role"] == "tool"]
assert len(tool) == 1 and tool[0]["content"], f"tool result {tool}"
PY
segments=$(e2e_segments "$IOP_DIR/heard.wav")
iop_log "sound in the caller's recording (s): $(tr '\n' ',' <<<"$segments")"
farewell=$(awk '$1 >= 5.5 { print; exit }' <<<"$segments")
[ -n "$farewell" ] || iop_fail "no farewell heard after the question"
len=$(awk -v a="${farewell% *}" -v b="${farewell#* }" 'BEGIN { printf "%.2f", b - a }')
iop_le 1.3 "$len" || iop_fail "the farewell was cut: $len s of the expected ~1.56 s"
rec=$(e2e_duration "$IOP_DIR/heard.wav")
tail_s=$(awk -v a="${farewell#* }" -v b="$rec" 'BEGIN { printf "%.2f", b - a }')
iop_le "$tail_s" 1.0 || iop_fail "the BYE came $tail_s s after the farewell ended"
iop_log "MEASURED farewell ${farewell% *}-${farewell#* } s ($len s), BYE $tail_s s after it"
iop_pass
