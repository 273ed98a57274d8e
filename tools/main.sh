#!/usr/bin/env bash
# The main job: install what is missing, build, then hold a real phone conversation on this machine,
# with no key and no network. sipvoice-agent starts with its offline defaults (pocketsphinx, the rule
# brain, flite) listening on 127.0.0.1; `sipvoice call` calls it over SIP/RTP, waits through the
# greeting, asks "What time is it?" (synthesized by the agent's own voice), and records what it
# hears; then the conversation is printed: what the agent heard, what it said, and how fast.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
cmake --preset default
cmake --build --preset default
build=./build/default
sipvoice=$build/tools/sipvoice
agent=$build/examples/agent/sipvoice-agent
dir=$(mktemp -d /tmp/sipvoice-main-XXXXXX)
agent_pid=""
cleanup() {
  [ -z "$agent_pid" ] || kill "$agent_pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

echo "== sipvoice-agent with the offline defaults on 127.0.0.1"
env -u SIP_REGISTRAR SIP_LISTEN_ADDRESS=127.0.0.1 SIP_LISTEN_PORT=0 AGENT_TURN_LOG="$dir/turns.jsonl" \
  STT_BACKEND=offline LLM_BACKEND=offline TTS_BACKEND=offline "$agent" >"$dir/agent.out" 2>"$dir/agent.err" &
agent_pid=$!
for _ in $(seq 200); do grep -q '^listening' "$dir/agent.out" && break; sleep 0.05; done
grep -q '^listening' "$dir/agent.out" || { cat "$dir/agent.err"; exit 1; }
port=$(sed -n 's/^listening udp=[^ ]*:\([0-9]*\) .*/\1/p' "$dir/agent.out")
cat "$dir/agent.out"

question="What time is it?"
greeting=$("$agent" --check-config | sed -n 's/^greeting = "\(.*\)" .*/\1/p')
"$agent" --say "$greeting" --output "$dir/greeting.wav" >/dev/null
"$agent" --say "$question" --output "$dir/question.wav" >/dev/null
wait_s=$(python3 -c 'import sys, wave; w = wave.open(sys.argv[1]); print(f"{w.getnframes() / w.getframerate() + 1:.2f}")' "$dir/greeting.wav")
python3 tests/e2e/wavtool.py compose "$dir/caller.wav" 16000 "silence:$wait_s" "wav:$dir/question.wav" silence:6 >/dev/null

echo "== sipvoice call sip:agent@127.0.0.1:$port: listens to the greeting, then asks \"$question\""
"$sipvoice" call "sip:agent@127.0.0.1:$port" --play "$dir/caller.wav" --record "$dir/heard.wav" \
  --duration "$(python3 -c "print(int($wait_s + 8))")"

kill -TERM "$agent_pid"
wait "$agent_pid" || true
agent_pid=""

echo "== the conversation"
python3 - "$dir/turns.jsonl" "$greeting" "$question" <<'PY'
import json, sys
turns = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(f"  agent:  {sys.argv[2]}")
print(f"  caller: {sys.argv[3]}   (played into the call)")
if not turns:
    print("  (the agent took no turn: nothing was heard)")
    sys.exit(1)
for t in turns:
    ms = t["ms"]
    print(f"  agent heard: {t['heard']!r}")
    print(f"  agent:  {t['said']}")
    print(f"  latency after the caller stopped speaking: recognized {ms['stt_done']} ms, "
          f"answer ready {ms['llm_first_token']} ms, first reply audio sent {ms['first_rtp']} ms")
PY
echo "-- the agent's log:"
grep -E ' (info|warn|error) ' "$dir/agent.err" | grep -v ' sip: ' || true
