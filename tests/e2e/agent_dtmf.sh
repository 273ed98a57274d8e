#!/usr/bin/env bash
# Keypad digits end to end: SIPp (sipp/uac_dtmf.xml) calls sipvoice-agent (a trunk on 127.0.0.1, the
# OpenAI-compatible test server as STT, LLM and TTS), waits through the greeting, and presses 1 5 9 #
# as RFC 4733 telephone-events (the sip-tester package's dtmf_2833_*.pcap files; the expected digits
# are read from the pcaps the scenario plays, in order, with iop_pcap_dtmf), then stays 4 s and hangs
# up. The server's model answers "You pressed some keys."
#   CASE burst:    the default: digits 400 ms apart are one burst, handed to the brain together 0.6 s
#                  after the last one.
#   CASE collect:  TOOLS_DTMF_COLLECT=true, TOOLS_DTMF_TIMEOUT=5, digits 1.5 s apart (each its own
#                  burst by default): all of them are handed over at the '#', not 5 s later.
# Passes when SIPp exits 0 (the agent did not hang up), the agent logged each digit, exactly one chat
# request was made and its last message is the user's "The caller pressed 1 5 9 #", the reply was
# spoken (a speech request), and the hand-over came when it should (agent log timestamps: 0.5-1.2 s
# after the '#' for a burst, within 1 s of it when collecting).
# MEASURED: the '#' -> the digits handed over (the agent's "heard:" line).
# Usage: agent_dtmf.sh SIPVOICE SIPVOICE_AGENT TEST_SERVER burst|collect
set -euo pipefail
source "$(dirname "$0")/lib.sh"
case_=${4:-}
case "$case_" in burst | collect) ;; *) echo "usage: agent_dtmf.sh SIPVOICE SIPVOICE_AGENT TEST_SERVER burst|collect" >&2; exit 2 ;; esac
e2e_init "agent-dtmf-$case_" "${1:-}" "${2:-}" "${3:-}"
iop_require_sipp
iop_require_pcap_play
iop_sipp_pcaps
cp "$E2E_SRC_DIR/sipp/uac_dtmf.xml" "$IOP_DIR/"
scenario=$IOP_DIR/uac_dtmf.xml

# ---- the digits the scenario sends: its play_pcap_audio files, in order
mapfile -t pcaps < <(sed -n 's/.*play_pcap_audio="\(pcap\/dtmf_[^"]*\)".*/\1/p' "$scenario")
[ ${#pcaps[@]} -gt 0 ] || iop_fail "no dtmf pcap in $scenario"
digits=$(cd "$IOP_DIR" && iop_pcap_dtmf "${pcaps[@]}")
[ "${#digits}" -eq "${#pcaps[@]}" ] || iop_fail "expected one digit per pcap file, read '$digits'"
expected="The caller pressed$(sed 's/./ &/g' <<<"$digits")"
iop_log "the scenario plays ${pcaps[*]}: digits '$digits', expected message '$expected'"

# ---- the test server and the agent
echo '{"stt": ["hello"], "llm": [{"text": "You pressed some keys."}]}' >"$IOP_DIR/script.json"
e2e_start_server --script "$IOP_DIR/script.json"
agent_env=(STT_BACKEND=openai LLM_BACKEND=openai TTS_BACKEND=openai OPENAI_BASE_URL="$E2E_BASE")
gap_ms=400
if [ "$case_" = collect ]; then
  agent_env+=(TOOLS_DTMF_COLLECT=true TOOLS_DTMF_TIMEOUT=5)
  gap_ms=1500
fi
e2e_start_agent "${agent_env[@]}"

# ---- the call: the greeting lasts about 3.4 s (the server's 60 ms per character); keys from 4.5 s
iop_pick_port sp
iop_pick_media_port mp
iop_sipp sipp sipp -sf "$scenario" -s agent -t u1 -i 127.0.0.1 -p "$sp" -mi 127.0.0.1 -mp "$mp" \
  -set greet_ms 4500 -set gap_ms "$gap_ms" -set after_ms 4000 -m 1 -l 1 -timeout 40s -timeout_error \
  "127.0.0.1:$E2E_AGENT_PORT"
iop_wait_exit "$sipp" 35
[ "$IOP_EXIT" = 0 ] || iop_fail "SIPp exited '$IOP_EXIT' (0: the scenario completed; see sipp-errors.log, sipp-messages.log)"
wait_for_line "$IOP_DIR/agent.err" ' ended status=' 5 || iop_fail "the agent did not log the call's end"
ended=$IOP_LINE
e2e_stop_agent
agent_log=$IOP_DIR/agent.err
grep -E 'dtmf digit=|heard:|said:|ended status' "$agent_log" | sed 's/^/    agent: /' >&2

# ---- the digits the agent saw, and when it handed them over
got=$(sed -n 's/.* dtmf digit=\(.\).*/\1/p' "$agent_log" | tr -d '\n')
[ "$got" = "$digits" ] || iop_fail "SIPp sent '$digits', the agent logged the digits '$got'"
log_time() {
  grep -E -m1 -- "$1" "$agent_log" | awk '{ split($1, a, ":"); printf "%.3f", a[1] * 3600 + a[2] * 60 + a[3] }'
}
grep -q -F "heard: $expected" "$agent_log" || iop_fail "no 'heard: $expected' line in the agent's log"
last_t=$(log_time "dtmf digit=${digits: -1}")
heard_t=$(log_time "heard: The caller pressed")
handover_ms=$(awk -v a="$last_t" -v b="$heard_t" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
if [ "$case_" = burst ]; then
  { iop_le 500 "$handover_ms" && iop_le "$handover_ms" 1200; } \
    || iop_fail "a burst was handed over $handover_ms ms after its last digit (expected about 600)"
else
  iop_le "$handover_ms" 1000 || iop_fail "the collected digits were handed over $handover_ms ms after the '#' (expected at once, not after the 5 s timeout)"
fi

# ---- the requests to the test server
python3 - "$IOP_DIR/requests.jsonl" "$expected" <<'PY' || iop_fail "a request to the test server was not as expected (above)"
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
expected = sys.argv[2]
fail = []
def check(cond, what):
    if not cond: fail.append(what)
chat = [r for r in reqs if r["path"].endswith("/chat/completions")]
stt = [r for r in reqs if r["path"].endswith("/audio/transcriptions")]
speech = [r["body"]["input"] for r in reqs if r["path"].endswith("/audio/speech")]
lasts = [c["body"]["messages"][-1] for c in chat]
check(len(chat) == 1, f"{len(chat)} chat requests, expected 1 (all digits at once): last messages {lasts}")
check(bool(lasts) and lasts[0] == {"role": "user", "content": expected}, f"last message {lasts[:1]}, expected the user's {expected!r}")
check(not stt, f"{len(stt)} transcription requests: the digits are not speech")
check("You pressed some keys." in speech, f"the reply was not spoken: speech requests {speech}")
for f in fail: print("  " + f, file=sys.stderr)
sys.exit(1 if fail else 0)
PY
iop_log "call: $ended"
iop_log "MEASURED dtmf $case_ (digits $gap_ms ms apart): '$digits' -> '$expected'; handed over $handover_ms ms after the '${digits: -1}'"
iop_pass
