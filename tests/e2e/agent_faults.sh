#!/usr/bin/env bash
# A failing stage costs one apology, never the call. sipvoice-agent (trunk on 127.0.0.1) with the
# OpenAI-compatible test server set to fail: the first transcription answers 500, the first chat
# request never answers (llm.timeout 1.5 s), and the speech of the third turn's reply is cut half way
# (the connection closed without the last chunk). Our `sipvoice call` asks four questions.
# Passes when turns 1-3 are logged with the stage's error (stt 500, llm timeout, tts cut), the caller
# hears the apology after each of them (and the first half of the cut reply), the fourth turn is
# answered normally, and the call lasts until the caller hangs up.
# MEASURED: when each apology started after its question ended.
# Usage: agent_faults.sh SIPVOICE SIPVOICE_AGENT TEST_SERVER
set -euo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init agent-faults "${1:-}" "${2:-}" "${3:-}"

cat >"$IOP_DIR/script.json" <<'JSON'
{"stt": ["question two", "question three", "question four"],
 "llm": [{"text": "This reply will be cut off half way through."}, {"text": "Fourth answer works."}]}
JSON
# Speech requests 1-4 are the prompts the agent synthesizes at start-up; 5 is turn 3's reply.
e2e_start_server --script "$IOP_DIR/script.json" --fail-stt 1 --hang-llm 1 --cut-tts 5
e2e_start_agent STT_BACKEND=openai LLM_BACKEND=openai TTS_BACKEND=openai OPENAI_BASE_URL="$E2E_BASE" LLM_TIMEOUT=1.5

q=(6.0 12.0 19.0 26.0)  # when each question ends
e2e_compose "$IOP_DIR/caller.wav" silence:4.5 tone:300:1.5 silence:4.5 tone:300:1.5 silence:5.5 tone:300:1.5 \
  silence:5.5 tone:300:1.5 silence:4
iop_run 45 call "$SIPVOICE" call "sip:agent@127.0.0.1:$E2E_AGENT_PORT" --play "$IOP_DIR/caller.wav" \
  --record "$IOP_DIR/heard.wav" --duration 29
[ "$IOP_RC" = 0 ] || iop_fail "the call exited $IOP_RC: $(cat "$IOP_DIR/call.err" "$IOP_DIR/call.out")"
grep -q 'ended reason=local hangup' "$IOP_DIR/call.out" || iop_fail "the call did not last until the caller hung up: $(cat "$IOP_DIR/call.out")"
e2e_stop_agent

[ "$(e2e_turn_count)" = 4 ] || iop_fail "turn log has $(e2e_turn_count) turns, expected 4: $(cat "$E2E_TURNS")"
e1=$(e2e_turn 1 error) e2=$(e2e_turn 2 error) e3=$(e2e_turn 3 error) e4=$(e2e_turn 4 error)
iop_log "turn errors: 1: $e1 | 2: $e2 | 3: $e3 | 4: $e4"
[[ $e1 == stt:*500* ]] || iop_fail "turn 1's error is not the STT's 500: $e1"
[[ $e2 == llm:* && ${e2,,} == *time* ]] || iop_fail "turn 2's error is not the LLM's timeout: $e2"
[[ $e3 == tts:* ]] || iop_fail "turn 3's error is not the cut TTS stream: $e3"
[ "$e4" = null ] || iop_fail "turn 4 failed too: $e4"
[ "$(e2e_turn 4 said)" = "Fourth answer works." ] || iop_fail "turn 4 said '$(e2e_turn 4 said)'"

segments=$(e2e_segments "$IOP_DIR/heard.wav")
iop_log "sound in the caller's recording (s): $(tr '\n' ',' <<<"$segments")"
for i in 0 1 2 3; do
  s=$(awk -v t="${q[$i]}" '$1 >= t { print $1; exit }' <<<"$segments")
  [ -n "$s" ] || iop_fail "nothing heard after question $((i + 1)) (ended ${q[$i]} s)"
  next=${q[$((i + 1))]:-99}
  iop_le "$s" "$next" || iop_fail "no answer to question $((i + 1)) before the next one"
  iop_log "MEASURED question $((i + 1)): answer (or apology) heard from $s s, the question ended at ${q[$i]} s"
done
iop_pass
