#!/usr/bin/env bash
# The agent's transfer_call end to end with our own phones: our `sipvoice call` calls sipvoice-agent
# (a trunk on 127.0.0.1, the OpenAI-compatible test server as STT, LLM and TTS, whose model calls
# transfer_call), the agent REFERs the call to TOOLS_TRANSFER_TARGET, our `sipvoice answer --echo`;
# the call follows the REFER, NOTIFYs the agent as the target rings and answers, and the agent then
# hangs up. Passes when the agent logged the transfer as done (202, 200 final, BYE), the call
# printed "transfer to=<target>" and went on with the target (two-way RTP) after the agent's BYE,
# and the target answered it.
# MEASURED: REFER -> final NOTIFY -> the agent's BYE, from the agent's log.
# Usage: agent_transfer_cli.sh SIPVOICE SIPVOICE_AGENT TEST_SERVER
set -euo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init agent-transfer-cli "${1:-}" "${2:-}" "${3:-}"

iop_pick_port ap
iop_spawn ans answer "$SIPVOICE" answer --listen "udp:127.0.0.1:$ap" --echo --max-calls 1 -v
wait_for_line "$IOP_DIR/answer.out" '^listening ' 10 || iop_fail "sipvoice answer did not start"
target="sip:target@127.0.0.1:$ap"

cat >"$IOP_DIR/script.json" <<'JSON'
{"stt": ["transfer me to a human"],
 "llm": [{"tool_call": {"name": "transfer_call", "arguments": {}}}, {"echo_tool_result": true}]}
JSON
e2e_start_server --script "$IOP_DIR/script.json"
e2e_start_agent STT_BACKEND=openai LLM_BACKEND=openai TTS_BACKEND=openai OPENAI_BASE_URL="$E2E_BASE" \
  TOOLS_TRANSFER_TARGET="$target"

# The greeting lasts about 3.4 s: the caller "speaks" (a 300 Hz stand-in; the transcription is
# scripted) from 4.5 s; the reply (~3.6 s) plays, then the REFER; the call goes on with the target.
e2e_compose "$IOP_DIR/caller.wav" silence:4.5 tone:300:1.0 silence:14
iop_run 40 call "$SIPVOICE" call "sip:agent@127.0.0.1:$E2E_AGENT_PORT" --play "$IOP_DIR/caller.wav" --duration 16
out=$IOP_DIR/call.out
[ "$IOP_RC" = 0 ] || iop_fail "the call exited $IOP_RC: $(tail -n 3 "$IOP_DIR/call.err") $(cat "$out")"
iop_check_transferred "$out" "$target" "the agent"
iop_wait_exit "$ans" 10
grep -q '^connected ' "$IOP_DIR/answer.out" || iop_fail "the target did not answer"

agent_log=$IOP_DIR/agent.err
for re in 'heard: transfer me to a human' ": REFER to $target\$" 'transfer progress 202' \
  'transfer progress 200 \(final\)' ': transferred$'; do
  grep -E -q -- "$re" "$agent_log" || iop_fail "no line matching '$re' in the agent's log"
done
log_time() { grep -E -m1 -- "$1" "$agent_log" | awk '{ split($1, a, ":"); printf "%.3f", a[1] * 3600 + a[2] * 60 + a[3] }'; }
refer_t=$(log_time ': REFER to ')
final_t=$(log_time 'transfer progress 200 \(final\)')
end_t=$(log_time ' ended status=')
e2e_stop_agent
iop_log "MEASURED REFER -> NOTIFY 200 $(awk -v a="$refer_t" -v b="$final_t" 'BEGIN { printf "%.0f", (b - a) * 1000 }') ms," \
  "-> the agent's call ended $(awk -v a="$final_t" -v b="$end_t" 'BEGIN { printf "%.0f", (b - a) * 1000 }') ms later; with the target: $IOP_TRANSFERRED"
iop_pass
