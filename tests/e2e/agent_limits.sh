#!/usr/bin/env bash
# Concurrent calls and call admission: with calls.max_concurrent = 2, two callers talk to the agent at
# the same time, each gets its own conversation (its own turn, answered in its own call), and a third
# call while both are up gets 486 Busy Here; as a trunk whose sip.allow does not list 127.0.0.1, a
# call from it gets 403 Forbidden. sipvoice-agent on 127.0.0.1 with the OpenAI-compatible test server; our
# `sipvoice call` places the calls.
# Usage: agent_limits.sh SIPVOICE SIPVOICE_AGENT TEST_SERVER
set -euo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init agent-limits "${1:-}" "${2:-}" "${3:-}"
e2e_start_server
e2e_start_agent STT_BACKEND=openai LLM_BACKEND=openai TTS_BACKEND=openai OPENAI_BASE_URL="$E2E_BASE" \
  CALLS_MAX_CONCURRENT=2

# Both callers ask after the greeting (a 1.5 s stand-in ending at 6.0 s) and listen.
e2e_compose "$IOP_DIR/caller.wav" silence:4.5 tone:300:1.5 silence:4
pids=()
for n in 1 2; do
  iop_pick_port p
  iop_spawn cpid "caller$n" "$SIPVOICE" call "sip:agent@127.0.0.1:$E2E_AGENT_PORT" --bind 127.0.0.1 --port "$p" \
    --play "$IOP_DIR/caller.wav" --record "$IOP_DIR/heard$n.wav" --duration 9
  pids+=("$cpid")
done
for n in 1 2; do
  wait_for_line "$IOP_DIR/caller$n.out" '^connected' 10 || iop_fail "call $n was not answered: $(cat "$IOP_DIR/caller$n.out" "$IOP_DIR/caller$n.err")"
done
iop_run 15 third "$SIPVOICE" call "sip:agent@127.0.0.1:$E2E_AGENT_PORT" --duration 2
iop_log "third call: $(tr '\n' ' ' <"$IOP_DIR/third.out") $(tr '\n' ' ' <"$IOP_DIR/third.err")"
grep -q '486' "$IOP_DIR/third.out" "$IOP_DIR/third.err" || iop_fail "the third call was not refused with 486"
grep -q 'calls.max_concurrent reached (486)' "$IOP_DIR/agent.err" || iop_fail "the agent did not log why it refused"
for n in 1 2; do
  iop_wait_exit "${pids[$((n - 1))]}" 15
  [ "$IOP_EXIT" = 0 ] || iop_fail "call $n exited $IOP_EXIT: $(cat "$IOP_DIR/caller$n.out" "$IOP_DIR/caller$n.err")"
  reply=$(e2e_segments "$IOP_DIR/heard$n.wav" | awk '$1 >= 6.0 { print; exit }')
  [ -n "$reply" ] || iop_fail "caller $n heard no answer after its question"
  iop_log "caller $n heard its answer from ${reply% *} s"
done
[ "$(e2e_turn_count)" = 2 ] || iop_fail "expected one turn per call, the turn log has: $(cat "$E2E_TURNS")"
[ "$(e2e_turn 1 call_id)" != "$(e2e_turn 2 call_id)" ] || iop_fail "both turns belong to one call"
iop_log "two conversations at once (one turn each, in their own calls) while a third call was refused"
e2e_stop_agent

# A trunk that accepts only 10.0.0.0/8 refuses 127.0.0.1.
E2E_TURNS=$IOP_DIR/turns2.jsonl
e2e_start_agent STT_BACKEND=openai LLM_BACKEND=openai TTS_BACKEND=openai OPENAI_BASE_URL="$E2E_BASE" SIP_ALLOW=10.0.0.0/8
iop_run 15 forbidden "$SIPVOICE" call "sip:agent@127.0.0.1:$E2E_AGENT_PORT" --duration 2
iop_log "call from outside the allow-list: $(tr '\n' ' ' <"$IOP_DIR/forbidden.out") $(tr '\n' ' ' <"$IOP_DIR/forbidden.err")"
grep -q '403' "$IOP_DIR/forbidden.out" "$IOP_DIR/forbidden.err" || iop_fail "the call was not refused with 403"
grep -q 'not in sip.allow (403)' "$IOP_DIR/agent.err" || iop_fail "the agent did not log why it refused"
e2e_stop_agent
iop_pass
