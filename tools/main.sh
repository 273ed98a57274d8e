#!/usr/bin/env bash
# The main job: install what is missing, build, parse a sample message, then place a real call on
# this machine: `sipvoice answer --echo` listens on 127.0.0.1, `sipvoice call` calls it, sends DTMF
# and hangs up after 3 s. (Later milestones replace the echo with the agent.)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
cmake --preset default
cmake --build --preset default
sipvoice=./build/default/tools/sipvoice
sample=tools/bench/corpus/invite_pbx.sip
echo "== sipvoice parse $sample"
"$sipvoice" parse "$sample"

echo "== a call on 127.0.0.1: sipvoice answer --echo, and sipvoice call to it"
out=$(mktemp)
trap 'kill "$answer" 2>/dev/null || true; rm -f "$out"' EXIT
"$sipvoice" answer --listen udp:127.0.0.1:0 --echo --max-calls 1 >"$out" &
answer=$!
for _ in $(seq 100); do grep -q '^listening' "$out" && break; sleep 0.05; done
port=$(sed -n 's/^listening udp=[^:]*:\([0-9]*\).*/\1/p' "$out")
"$sipvoice" call "sip:echo@127.0.0.1:$port" --dtmf 42 --duration 3
wait "$answer"
echo "-- the answering side printed:"
cat "$out"
