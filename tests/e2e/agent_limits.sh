#!/usr/bin/env bash
# Call admission: with calls.max_concurrent = 1, a second call while the first is up gets 486 Busy
# Here (and the first goes on); as a trunk whose sip.allow does not list 127.0.0.1, a call from it
# gets 403 Forbidden. sipvoice-agent on 127.0.0.1 with the OpenAI-compatible test server; our
# `sipvoice call` places the calls.
# Usage: agent_limits.sh SIPVOICE SIPVOICE_AGENT TEST_SERVER
set -euo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init agent-limits "${1:-}" "${2:-}" "${3:-}"
e2e_start_server
e2e_start_agent STT_BACKEND=openai LLM_BACKEND=openai TTS_BACKEND=openai OPENAI_BASE_URL="$E2E_BASE" \
  CALLS_MAX_CONCURRENT=1

iop_pick_port p1
iop_spawn first first "$SIPVOICE" call "sip:agent@127.0.0.1:$E2E_AGENT_PORT" --bind 127.0.0.1 --port "$p1" --duration 5
wait_for_line "$IOP_DIR/first.out" '^connected' 10 || iop_fail "the first call was not answered: $(cat "$IOP_DIR/first.out" "$IOP_DIR/first.err")"
iop_run 15 second "$SIPVOICE" call "sip:agent@127.0.0.1:$E2E_AGENT_PORT" --duration 2
iop_log "second call: $(tr '\n' ' ' <"$IOP_DIR/second.out") $(tr '\n' ' ' <"$IOP_DIR/second.err")"
grep -q '486' "$IOP_DIR/second.out" "$IOP_DIR/second.err" || iop_fail "the second call was not refused with 486"
grep -q 'calls.max_concurrent reached (486)' "$IOP_DIR/agent.err" || iop_fail "the agent did not log why it refused"
iop_wait_exit "$first" 15
[ "$IOP_EXIT" = 0 ] || iop_fail "the first call exited $IOP_EXIT: $(cat "$IOP_DIR/first.out" "$IOP_DIR/first.err")"
iop_log "the first call went on to its end (exit 0) while the second was refused"
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
