#!/usr/bin/env bash
# Idle caller: sipvoice-agent (trunk on 127.0.0.1, the OpenAI-compatible test server for speech)
# with calls.idle_prompt_after = 2 s and calls.idle_hangup_after = 2 s; our `sipvoice call` says
# nothing at all.
# Passes when the caller hears the greeting, then the idle prompt about 2 s after the greeting ended,
# then the goodbye about 2 s after the prompt ended, and then the agent hangs up (BYE) once the goodbye
# has played; the turn log stays empty.
# Then the maximum duration: with calls.max_duration = 6 s (and no idle prompt), the goodbye starts
# 6 s into the call and the BYE follows once it has played.
# MEASURED: greeting end -> prompt, prompt end -> goodbye, goodbye end -> BYE; max duration -> goodbye.
# Usage: agent_idle.sh SIPVOICE SIPVOICE_AGENT TEST_SERVER
set -euo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init agent-idle "${1:-}" "${2:-}" "${3:-}"
e2e_start_server
e2e_start_agent STT_BACKEND=openai LLM_BACKEND=openai TTS_BACKEND=openai OPENAI_BASE_URL="$E2E_BASE" \
  CALLS_IDLE_PROMPT_AFTER=2 CALLS_IDLE_HANGUP_AFTER=2

start=$(iop_now)
iop_run 30 call "$SIPVOICE" call "sip:agent@127.0.0.1:$E2E_AGENT_PORT" --record "$IOP_DIR/heard.wav" --duration 20
grep -q 'ended reason=remote hangup' "$IOP_DIR/call.out" || iop_fail "the agent did not hang up: $(cat "$IOP_DIR/call.out" "$IOP_DIR/call.err")"
[ "$IOP_RC" = 0 ] || iop_fail "the call exited $IOP_RC: $(cat "$IOP_DIR/call.err")"
call_s=$IOP_WAITED
e2e_stop_agent

segments=$(e2e_segments "$IOP_DIR/heard.wav")
iop_log "sound in the caller's recording (s): $(tr '\n' ',' <<<"$segments"); call lasted $call_s s"
[ "$(wc -l <<<"$segments")" = 3 ] || iop_fail "expected greeting, prompt and goodbye, heard: $segments"
read -r g0 g1 <<<"$(sed -n 1p <<<"$segments")"
read -r p0 p1 <<<"$(sed -n 2p <<<"$segments")"
read -r b0 b1 <<<"$(sed -n 3p <<<"$segments")"
gap1=$(awk -v a="$g1" -v b="$p0" 'BEGIN { printf "%.2f", b - a }')
gap2=$(awk -v a="$p1" -v b="$b0" 'BEGIN { printf "%.2f", b - a }')
iop_le 1.8 "$gap1" && iop_le "$gap1" 2.5 || iop_fail "the prompt came $gap1 s after the greeting (expected about 2 s)"
iop_le 1.8 "$gap2" && iop_le "$gap2" 2.5 || iop_fail "the goodbye came $gap2 s after the prompt (expected about 2 s)"
rec=$(e2e_duration "$IOP_DIR/heard.wav")
tail_s=$(awk -v a="$b1" -v b="$rec" 'BEGIN { printf "%.2f", b - a }')
iop_le "$tail_s" 0.8 || iop_fail "the agent hung up $tail_s s after its goodbye ended"
[ "$(e2e_turn_count)" = 0 ] || iop_fail "a silent caller produced turns: $(cat "$E2E_TURNS")"
grep -q 'idle: prompting' "$IOP_DIR/agent.err" || iop_fail "the agent did not log its idle prompt"
iop_log "MEASURED greeting end -> prompt $gap1 s, prompt end -> goodbye $gap2 s, goodbye end -> hang-up $tail_s s"

# ---- calls.max_duration
E2E_TURNS=$IOP_DIR/turns2.jsonl
e2e_start_agent STT_BACKEND=openai LLM_BACKEND=openai TTS_BACKEND=openai OPENAI_BASE_URL="$E2E_BASE" \
  CALLS_MAX_DURATION=6 CALLS_IDLE_PROMPT_AFTER=100
iop_run 30 call2 "$SIPVOICE" call "sip:agent@127.0.0.1:$E2E_AGENT_PORT" --record "$IOP_DIR/heard2.wav" --duration 20
grep -q 'ended reason=remote hangup' "$IOP_DIR/call2.out" || iop_fail "the agent did not end the call at its maximum duration: $(cat "$IOP_DIR/call2.out")"
e2e_stop_agent
segments=$(e2e_segments "$IOP_DIR/heard2.wav")
iop_log "max duration 6 s: sound in the caller's recording (s): $(tr '\n' ',' <<<"$segments")"
[ "$(wc -l <<<"$segments")" = 2 ] || iop_fail "expected greeting and goodbye, heard: $segments"
read -r m0 m1 <<<"$(sed -n 2p <<<"$segments")"
iop_le 5.8 "$m0" && iop_le "$m0" 6.6 || iop_fail "the goodbye started at $m0 s, expected about 6 s"
rec=$(e2e_duration "$IOP_DIR/heard2.wav")
iop_le "$(awk -v a="$m1" -v b="$rec" 'BEGIN { print b - a }')" 0.8 || iop_fail "the BYE came long after the goodbye ($m1 s, call $rec s)"
iop_log "MEASURED max duration: goodbye $m0-$m1 s, call recorded for $rec s"
iop_pass
