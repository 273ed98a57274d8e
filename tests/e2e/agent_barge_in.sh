#!/usr/bin/env bash
# Barge-in: the caller talks over a long reply, and the agent's audio stops at once.
# sipvoice-agent (trunk on 127.0.0.1) with the OpenAI-compatible test server, whose model answers with
# a long text (about 20 s of the server's 440 Hz speech). Our `sipvoice call` waits through the
# greeting, asks (1.5 s of a 300 Hz stand-in, ending at 6.0 s), and at 9.0 s, with the reply playing,
# talks again for 1.5 s.
# Passes when the reply's sound in the caller's recording ends within 300 ms of the caller starting
# to talk over it (9.0 s), stays silent while the caller talks, the agent then answers the second
# question, and the turn log marks turn 1 as barged in.
# MEASURED: the caller's onset -> the last sound of the cut reply in the caller's recording.
# Usage: agent_barge_in.sh SIPVOICE SIPVOICE_AGENT TEST_SERVER
set -euo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init agent-barge-in "${1:-}" "${2:-}" "${3:-}"

long="This is a long answer that goes on and on. It keeps talking about many things, one after the other, so that the caller has a reason to interrupt it. It says more, and more, and even more. It would take twenty seconds or so to say all of it, which is far too long for a phone call."
python3 -c 'import json, sys; print(json.dumps({"stt": ["tell me everything", "stop, thank you"], "llm": [{"text": sys.argv[1]}, {"text": "All right."}]}))' "$long" >"$IOP_DIR/script.json"
e2e_start_server --script "$IOP_DIR/script.json"
e2e_start_agent STT_BACKEND=openai LLM_BACKEND=openai TTS_BACKEND=openai OPENAI_BASE_URL="$E2E_BASE"

onset=9.0
e2e_compose "$IOP_DIR/caller.wav" silence:4.5 tone:300:1.5 silence:3.0 tone:300:1.5 silence:5
iop_run 30 call "$SIPVOICE" call "sip:agent@127.0.0.1:$E2E_AGENT_PORT" --play "$IOP_DIR/caller.wav" \
  --record "$IOP_DIR/heard.wav" --duration 14
[ "$IOP_RC" = 0 ] || iop_fail "the call exited $IOP_RC: $(cat "$IOP_DIR/call.err" "$IOP_DIR/call.out")"
e2e_stop_agent

# Sound stretches with gaps of 60 ms or more kept apart.
segments=$(e2e_segments "$IOP_DIR/heard.wav" -45 0.06)
iop_log "sound in the caller's recording (s): $(tr '\n' ',' <<<"$segments")"
cut=$(awk -v t="$onset" '$1 < t && $2 > 6.0 { s = $0 } END { print s }' <<<"$segments")
[ -n "$cut" ] || iop_fail "no reply was playing when the caller talked over it at $onset s"
stop_ms=$(awk -v t="$onset" -v e="${cut#* }" 'BEGIN { printf "%.0f", (e - t) * 1000 }')
iop_log "MEASURED reply playing from ${cut% *} s, its sound ended at ${cut#* } s: $stop_ms ms after the caller started at $onset s"
iop_le "$stop_ms" 300 || iop_fail "the reply went on for $stop_ms ms after the caller started talking (at most 300)"
level=$("${E2E_WAVTOOL[@]}" level "$IOP_DIR/heard.wav" 9.4 10.4)
iop_le "$level" -45 || iop_fail "the agent's audio went on while the caller talked: $level dBFS in 9.4-10.4 s"
next=$(awk '$1 >= 10.5 { print; exit }' <<<"$segments")
[ -n "$next" ] || iop_fail "no answer to the second question (after 10.5 s)"
[ "$(e2e_turn 1 barge_in)" = true ] || iop_fail "turn 1 is not marked barge_in in the turn log: $(cat "$E2E_TURNS")"
[ "$(e2e_turn 2 heard)" = "stop, thank you" ] || iop_fail "turn 2 heard '$(e2e_turn 2 heard)'"
iop_log "second answer heard from ${next% *} s"
iop_pass
