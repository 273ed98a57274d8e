#!/usr/bin/env bash
# `sipvoice call` against `sipvoice answer --echo` on 127.0.0.1 over TRANSPORT: the call is answered,
# the caller's 440 Hz tone reaches the answerer and comes back as an echo, DTMF digits sent with
# RFC 4733 (or, with `info`, as SIP INFO) arrive as the same digits, both sides report RTP both
# ways, and both exit 0.
# Usage: call_answer.sh SIPVOICE TONE_TOOL udp|tcp [pcmu|pcma|opus] [rfc4733|info]
set -euo pipefail
sipvoice=$1 tone=$2 transport=$3 codec=${4:-pcmu} dtmf_mode=${5:-rfc4733}
dir=$(mktemp -d /tmp/sipvoice-call-XXXXXX)
answer_pid=""
cleanup() {
  [ -n "$answer_pid" ] && kill "$answer_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- answer stdout"; cat "$dir/answer.out" || true; echo "--- answer stderr"; cat "$dir/answer.err" || true; echo "--- call"; cat "$dir/call.out" "$dir/call.err" 2>/dev/null || true; exit 1; }

rate=8000; [ "$codec" = opus ] && rate=48000
"$tone" make "$dir/tone.wav" 440 2 "$rate"
"$sipvoice" answer --listen udp:127.0.0.1:0 --echo --max-calls 1 --codec "$codec" --record "$dir/heard.wav" \
  >"$dir/answer.out" 2>"$dir/answer.err" &
answer_pid=$!
for _ in $(seq 100); do grep -q '^listening' "$dir/answer.out" 2>/dev/null && break; sleep 0.05; done
line=$(grep '^listening' "$dir/answer.out") || fail "answer printed no listening line"
if [ "$transport" = tcp ]; then port=${line##*:}; param=";transport=tcp"; else port=$(sed 's/.*udp=[^:]*:\([0-9]*\).*/\1/' <<<"$line"); param=""; fi

rc=0
info=(); [ "$dtmf_mode" = info ] && info=(--dtmf-info)
timeout 30 "$sipvoice" call "sip:echo@127.0.0.1:$port$param" --play "$dir/tone.wav" --record "$dir/echo.wav" \
  --dtmf 4#7 "${info[@]}" --duration 3 --codec "$codec" >"$dir/call.out" 2>"$dir/call.err" || rc=$?
[ "$rc" = 0 ] || fail "sipvoice call exited $rc"
for _ in $(seq 100); do kill -0 "$answer_pid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$answer_pid" 2>/dev/null && fail "answer did not exit after --max-calls 1"
wait "$answer_pid" || fail "answer exited non-zero"
answer_pid=""

grep -q '^connected codec=' "$dir/call.out" || fail "call printed no connected line"
grep -q '^connected codec=' "$dir/answer.out" || fail "answer printed no connected line"
# RFC 4733 digits print as "dtmf digit=X", INFO ones as "dtmf digit=X source=info duration_ms=N".
if [ "$dtmf_mode" = info ]; then
  digits=$(sed -n 's/^dtmf digit=\(.\) source=info.*/\1/p' "$dir/answer.out" | tr -d '\n')
  grep -q '^dtmf digit=.$' "$dir/answer.out" && fail "answer got RFC 4733 events although the digits went by INFO"
else
  digits=$(sed -n 's/^dtmf digit=\(.\)$/\1/p' "$dir/answer.out" | tr -d '\n')
fi
[ "$digits" = "4#7" ] || fail "answer heard DTMF '$digits' ($dtmf_mode), expected '4#7'"
ended=$(grep '^ended' "$dir/answer.out") || fail "answer printed no ended line"
[[ "$ended" =~ rtp_in=([0-9]+)\ rtp_out=([0-9]+) ]] || fail "bad ended line: $ended"
[ "${BASH_REMATCH[1]}" -gt 50 ] && [ "${BASH_REMATCH[2]}" -gt 50 ] || fail "too little RTP: $ended"
"$tone" check "$dir/heard.wav" 440 0.8 || fail "the answerer did not hear the 440 Hz tone"
"$tone" check "$dir/echo.wav" 440 0.8 || fail "the caller did not hear its tone echoed"
echo "PASS: $transport $codec: $(cat "$dir/call.out" | tr '\n' '|') answer: $(tr '\n' '|' <"$dir/answer.out")"
