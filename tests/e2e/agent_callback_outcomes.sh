#!/usr/bin/env bash
# A callback that is not answered: sipvoice-agent (a trunk on 127.0.0.1, the OpenAI-compatible test
# server as STT, LLM and TTS) hears "set a timer" from our `sipvoice call`, whose From is
# sip:1001@127.0.0.1:PORT (SIPp's port); the server's model calls set_timer {"seconds": 8}. The caller
# hangs up before it is due, so the agent calls the caller back at that From address, where SIPp
# (sipp/uas_callback_CASE.xml) plays a phone that
#   CASE busy:      rings, then answers 486 Busy Here;
#   CASE declined:  rings, then answers 603 Decline;
#   CASE noanswer:  rings and never answers: the agent must CANCEL after tools.ring_timeout (5 s).
# Passes when SIPp's scenario completed (the agent ACKed the final response, or CANCELed at the ring
# timeout) and the agent's turn log records the outbound call with the outcome (busy, declined,
# no answer) and the final status (486, 603, 487), and its log says so.
# MEASURED: timer due -> outcome; for noanswer, INVITE -> CANCEL (the ring timeout).
# Usage: agent_callback_outcomes.sh SIPVOICE SIPVOICE_AGENT TEST_SERVER busy|declined|noanswer
set -euo pipefail
source "$(dirname "$0")/lib.sh"
case_=${4:-}
case "$case_" in
  busy) outcome=busy status=486 ;;
  declined) outcome=declined status=603 ;;
  noanswer) outcome="no answer" status=487 ;;
  *) echo "usage: agent_callback_outcomes.sh SIPVOICE SIPVOICE_AGENT TEST_SERVER busy|declined|noanswer" >&2; exit 2 ;;
esac
e2e_init "agent-callback-$case_" "${1:-}" "${2:-}" "${3:-}"
iop_require_sipp

cat >"$IOP_DIR/script.json" <<'JSON'
{"stt": ["set a timer for eight seconds"],
 "llm": [{"tool_call": {"name": "set_timer", "arguments": {"seconds": 8}}}, {"echo_tool_result": true}]}
JSON
e2e_start_server --script "$IOP_DIR/script.json"
e2e_start_agent STT_BACKEND=openai LLM_BACKEND=openai TTS_BACKEND=openai OPENAI_BASE_URL="$E2E_BASE" TOOLS_RING_TIMEOUT=5

# ---- the phone the callback goes to
iop_pick_port sp
iop_sipp sipp sipp-uas -sf "$E2E_SRC_DIR/sipp/uas_callback_$case_.xml" -t u1 -i 127.0.0.1 -p "$sp" -m 1 \
  -timeout 60s -timeout_error
iop_wait_listening udp "$sp" 10 || iop_fail "SIPp does not listen on udp:127.0.0.1:$sp after 10 s"

# ---- the call: one question (a 300 Hz stand-in; the transcription is scripted), hang up at 8 s
e2e_compose "$IOP_DIR/caller.wav" silence:4.5 tone:300:1.0 silence:4
iop_run 30 call "$SIPVOICE" call "sip:agent@127.0.0.1:$E2E_AGENT_PORT" --from "sip:1001@127.0.0.1:$sp" \
  --play "$IOP_DIR/caller.wav" --duration 8
[ "$IOP_RC" = 0 ] || iop_fail "the call exited $IOP_RC: $(cat "$IOP_DIR/call.err")"
[ "$(e2e_turn 1 said)" = "Result: Timer 1 is set for 8 seconds." ] || iop_fail "turn 1 said '$(e2e_turn 1 said)'"

wait_for_line "$IOP_DIR/agent.err" 'timer 1 due: .* has hung up, calling sip:1001@127.0.0.1' 15 \
  || iop_fail "the timer did not call back: $(grep -i 'timer\|calling' "$IOP_DIR/agent.err" | tail -n 3)"
due=$(iop_now)
wait_for_line "$IOP_DIR/agent.err" "call to sip:1001@127\\.0\\.0\\.1:$sp \\(timer 1\\): $outcome \\($status " 15 \
  || iop_fail "no '$outcome ($status)' outcome logged: $(grep 'call to\|ended status' "$IOP_DIR/agent.err" | tail -n 3)"
took=$(iop_elapsed "$due")
iop_wait_exit "$sipp" 10
[ "$IOP_EXIT" = 0 ] || iop_fail "SIPp exited '$IOP_EXIT' (0: the agent's requests came as uas_callback_$case_.xml expects; see sipp-uas-errors.log, sipp-uas-messages.log)"
python3 - "$E2E_TURNS" "$outcome" "$status" <<'PY' || iop_fail "the turn log does not record the outcome: $(grep outbound_call "$E2E_TURNS")"
import json, sys
log = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
out = [l for l in log if l.get("event") == "outbound_call"]
assert len(out) == 1, out
assert out[0]["why"] == "timer 1" and out[0]["outcome"] == sys.argv[2] and out[0]["status"] == int(sys.argv[3]), out
PY
extra=""
if [ "$case_" = noanswer ]; then
  # The ring timeout, from SIPp's trace: when the INVITE came and when the CANCEL did.
  ring=$(python3 - "$IOP_DIR/sipp-uas-messages.log" <<'PY'
import re, sys, datetime
text = open(sys.argv[1], errors="replace").read()
stamps = {}
for m in re.finditer(r"----------------------------------------------- ([0-9-]+\s+[0-9:.]+)\n\S+ message received \[\d+\] bytes :\n\n(\w+) ", text):
    stamps.setdefault(m.group(2), m.group(1))
t = {k: datetime.datetime.strptime(v, "%Y-%m-%d\t%H:%M:%S.%f") for k, v in stamps.items() if k in ("INVITE", "CANCEL")}
print(f"{(t['CANCEL'] - t['INVITE']).total_seconds():.2f}" if len(t) == 2 else "")
PY
)
  [ -n "$ring" ] || iop_fail "no INVITE and CANCEL in SIPp's trace"
  iop_le 4.5 "$ring" && iop_le "$ring" 6.5 || iop_fail "the CANCEL came $ring s after the INVITE (tools.ring_timeout is 5 s)"
  extra=", INVITE -> CANCEL $ring s"
fi
e2e_stop_agent
iop_log "MEASURED timer due -> '$outcome' ($status) in $took s$extra"
iop_pass
