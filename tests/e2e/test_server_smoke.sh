#!/usr/bin/env bash
# sipvoice-openai-test-server on 127.0.0.1 (a free port) against curl: each endpoint's wire format
# (multipart transcription, SSE chat with text and a tool call, non-stream chat, chunked PCM speech),
# the script's order, the API key, the faults (fail -> 500, cut -> curl 18, hang -> curl 28), the
# delays, the request log, and a clean exit 0 on SIGTERM even with a request hanging.
# Usage: test_server_smoke.sh SIPVOICE_OPENAI_TEST_SERVER
set -euo pipefail
server=$1
dir=$(mktemp -d /tmp/sipvoice-openai-test-server-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$dir"/*.out "$dir"/*.err "$dir"/*.log "$dir"/body; do [ -f "$f" ] && { echo "--- $f"; head -c 4000 "$f"; echo; }; done
  exit 1
}

start() {  # start NAME ARGS...: sets $pid and $base (http://127.0.0.1:PORT/v1)
  local name=$1; shift
  "$server" --listen 127.0.0.1:0 --log "$dir/$name.log" "$@" >"$dir/$name.out" 2>"$dir/$name.err" &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 100); do
    grep -q '^listening port=[0-9]*$' "$dir/$name.out" && break
    kill -0 "$pid" 2>/dev/null || fail "$name exited before listening"
    sleep 0.05
  done
  [ "$(wc -l <"$dir/$name.out")" = 1 ] || fail "$name: not exactly one 'listening port=N' line"
  base="http://127.0.0.1:$(sed -n 's/^listening port=//p' "$dir/$name.out")/v1"
}

stop() {  # stop PID: SIGTERM, exit 0 within 2.5 s, nothing left
  local p=$1 t0 rc=0
  t0=$(date +%s%N)
  kill -TERM "$p"
  wait "$p" || rc=$?
  [ "$rc" = 0 ] || fail "server exited $rc on SIGTERM"
  [ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 2500 ] || fail "shutdown took more than 2.5 s"
  ! kill -0 "$p" 2>/dev/null || fail "server still running"
}

# req NAME CURL-ARGS...: $dir/body gets the body, $dir/headers the headers; sets $rc (curl's exit
# status), $status (HTTP) and $secs (total time).
req() {
  local out
  rc=0
  rm -f "$dir/body" "$dir/headers"
  out=$(curl -sS -o "$dir/body" -D "$dir/headers" -w '%{http_code} %{time_total}' "$@" 2>"$dir/curl.err") || rc=$?
  status=${out% *} secs=${out#* }
}
post_json() {  # post_json PATH JSON [CURL-ARGS...]
  local path=$1 body=$2; shift 2
  req -H "Authorization: Bearer $key" -H 'Content-Type: application/json' --data-binary "$body" "$@" "$base$path"
}
expect() {  # expect RC STATUS WHAT
  [ "$rc" = "$1" ] || fail "$3: curl exit $rc, expected $1 ($(cat "$dir/curl.err"))"
  [ "$status" = "$2" ] || fail "$3: HTTP $status, expected $2"
}
py() {  # py WHAT PYTHON...: the Python code (with json, sys, body = $dir/body's bytes) must exit 0
  local what=$1; shift
  python3 -c "import json, sys
body = open('$dir/body', 'rb').read()
$*" || fail "$what"
}

# Checks an SSE chat stream: OpenAI's framing, one id, the role chunk first, [DONE] last. Prints the
# text, the tool call (name, id, argument chunk count, arguments) and the finish reason as JSON.
cat >"$dir/sse.py" <<'EOF'
import json, sys
raw = open(sys.argv[1], encoding="utf-8").read()
assert raw.endswith("data: [DONE]\n\n"), "no final data: [DONE]"
events = raw.split("\n\n")[:-1]
assert all(e.startswith("data: ") for e in events), "an event is not one data: line"
chunks = [json.loads(e[6:]) for e in events[:-1]]
assert len({c["id"] for c in chunks}) == 1 and chunks[0]["id"].startswith("chatcmpl-")
assert all(c["object"] == "chat.completion.chunk" and c["model"] == "test-model" for c in chunks)
assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}, "first delta"
text, calls, finish = "", {}, None
for c in chunks:
    ch = c["choices"][0]
    assert finish is None, "a chunk after the finish_reason"
    finish = ch["finish_reason"]
    text += ch["delta"].get("content", "")
    for t in ch["delta"].get("tool_calls", []):
        call = calls.setdefault(t["index"], {"name": None, "id": None, "pieces": 0, "arguments": ""})
        if "id" in t:
            call.update(name=t["function"]["name"], id=t["id"])
            assert t["type"] == "function"
        else:
            call["pieces"] += 1
        call["arguments"] += t["function"].get("arguments", "")
print(json.dumps({"text": text, "content_chunks": sum("content" in c["choices"][0]["delta"] for c in chunks) - 1,
                  "calls": calls, "finish": finish}))
EOF
sse() { python3 "$dir/sse.py" "$dir/body" >"$dir/sse.json" || fail "$1: malformed SSE stream"; }
sse_check() {  # sse_check WHAT PYTHON-EXPR (on s, the sse.py summary)
  python3 -c "import json; s = json.load(open('$dir/sse.json')); assert $2, s" || fail "$1"
}

python3 -c "
import wave
w = wave.open('$dir/speech.wav', 'wb'); w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000)
w.writeframes(b'\x10\x00' * 8000); w.close()"

# ---- the main server: a script, an API key and faults
cat >"$dir/script.json" <<'EOF'
{"stt": ["what is 17 times 23", "and the time"],
 "llm": [{"text": "It is 391."},
         {"tool_call": {"name": "get_datetime", "arguments": {"what": "time", "zone": "Europe/Berlin"}}},
         {"echo_tool_result": true}]}
EOF
key=sk-smoke-test
start main --script "$dir/script.json" --api-key "$key" --fail-stt 2 --hang-llm 4,5 --cut-tts 2
main_pid=$pid
help=$("$server" --help)
grep -q -- '--tts-first-byte-ms MS' <<<"$help" || fail "--help does not document the options"
rc=0; "$server" --no-such-option 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "an unknown option exited $rc, not 2"

stt() {  # stt FILE [CURL-ARGS...]
  local file=$1; shift
  req -H "Authorization: Bearer $key" -F "file=@$file;type=audio/wav" -F model=whisper-1 -F language=en "$@" \
      "$base/audio/transcriptions"
}
stt "$dir/speech.wav" -F response_format=json
expect 0 200 "transcription 1"
py "transcription 1 is the script's first text" 'assert json.loads(body) == {"text": "what is 17 times 23"}, body'
stt "$dir/speech.wav"
expect 0 500 "transcription 2 (--fail-stt 2)"
py "the 500 is an OpenAI error" 'e = json.loads(body)["error"]; assert e["type"] == "server_error" and e["message"], body'
stt "$dir/speech.wav"
expect 0 200 "transcription 3"
py "the failed request did not use up a script entry" 'assert json.loads(body)["text"] == "and the time", body'
stt "$dir/script.json" -F response_format=text
expect 0 200 "transcription 4"
py "the last text repeats, as plain text for response_format=text" 'assert body == b"and the time\n", body'
req -F "file=@$dir/speech.wav" -F model=whisper-1 "$base/audio/transcriptions"
expect 0 401 "transcription without the API key"
py "the 401 is an OpenAI error" 'assert json.loads(body)["error"]["code"] == "invalid_api_key", body'

post_json /chat/completions '{"model": "test-model", "stream": true, "messages": [{"role": "user", "content": "17*23?"}]}' -N
expect 0 200 "chat 1"
grep -qi '^content-type: text/event-stream' "$dir/headers" || fail "chat 1: not text/event-stream"
grep -qi '^transfer-encoding: chunked' "$dir/headers" || fail "chat 1: not chunked"
sse "chat 1"
sse_check "chat 1: the text word by word, finish stop" \
  's["text"] == "It is 391." and s["content_chunks"] == 3 and s["finish"] == "stop" and not s["calls"]'
post_json /chat/completions '{"model": "test-model", "stream": true, "messages": [{"role": "user", "content": "time?"}]}' -N
expect 0 200 "chat 2"
sse "chat 2"
sse_check "chat 2: a tool call with its arguments in several pieces, finish tool_calls" \
  's["finish"] == "tool_calls" and s["text"] == "" and list(s["calls"]) == ["0"] and s["calls"]["0"]["name"] == "get_datetime" and s["calls"]["0"]["id"].startswith("call_") and s["calls"]["0"]["pieces"] >= 3 and json.loads(s["calls"]["0"]["arguments"]) == {"what": "time", "zone": "Europe/Berlin"}'
post_json /chat/completions '{"model": "test-model", "messages": [{"role": "user", "content": "time?"},
  {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_datetime", "arguments": "{}"}}]},
  {"role": "tool", "tool_call_id": "call_1", "content": "14:05"}]}'
expect 0 200 "chat 3 (not streamed)"
py "chat 3: a chat.completion echoing the tool result" '
r = json.loads(body); c = r["choices"][0]
assert r["object"] == "chat.completion" and list(r)[:4] == ["id", "object", "created", "model"], r
assert c["message"] == {"role": "assistant", "content": "Result: 14:05"} and c["finish_reason"] == "stop", r'
post_json /chat/completions '{"model": "test-model", "stream": true, "messages": []}' -N --max-time 1
[ "$rc" = 28 ] || fail "chat 4 (--hang-llm 4): curl exit $rc, expected 28 (timeout)"
[ ! -s "$dir/body" ] || fail "chat 4 (--hang-llm 4): the hanging request sent a body"

speech() {  # speech INPUT [EXTRA-JSON-FIELDS] [CURL-ARGS...]
  local input=$1 extra=$2; shift 2
  post_json /audio/speech "{\"model\": \"tts-1\", \"voice\": \"alloy\", \"input\": \"$input\", \"response_format\": \"pcm\"$extra}" "$@"
}
speech "hello there" ', "sample_rate": 16000'
expect 0 200 "speech 1"
grep -qi '^transfer-encoding: chunked' "$dir/headers" || fail "speech 1: not chunked"
# 11 characters * 60 ms = 660 ms at 16 kHz: 10560 samples; a -12 dBFS tone, sent faster than real time.
py "speech 1: 660 ms of a -12 dBFS tone at 16 kHz" '
import array
pcm = array.array("h", body)
assert len(body) == 10560 * 2, len(body)
assert 7800 < max(pcm) < 8700 and -8700 < min(pcm) < -7800, (min(pcm), max(pcm))'
awk -v s="$secs" 'BEGIN { exit !(s < 0.5) }' || fail "speech 1 took $secs s: paced, not faster than real time"
speech "hello there" ''
[ "$rc" = 18 ] || fail "speech 2 (--cut-tts 2): curl exit $rc, expected 18 ($(cat "$dir/curl.err"))"
grep -q 'outstanding read data' "$dir/curl.err" || fail "speech 2: curl did not see a transfer closed early"
py "speech 2: half the audio before the cut" 'assert 0 < len(body) < 660 * 24 * 2, len(body)'
speech "hi" ''
expect 0 200 "speech 3"
py "speech 3: at least 300 ms at the default 24 kHz" 'assert len(body) == 300 * 24 * 2, len(body)'
post_json /audio/speech '{"model": "tts-1", "voice": "alloy", "input": "hi", "response_format": "mp3"}'
expect 0 400 "speech 4 (mp3)"
py "speech 4: an OpenAI error" 'assert json.loads(body)["error"]["type"] == "invalid_request_error", body'
req "$base/models"
expect 0 404 "an unknown URL"

# The request log: one line per request, in order, with what the tests need.
py "the request log" "
log = [json.loads(l) for l in open('$dir/main.log')]
paths = [(e['path'], e.get('n'), e.get('fault')) for e in log]
assert paths == [('/v1/audio/transcriptions', 1, None), ('/v1/audio/transcriptions', 2, 'fail'),
                 ('/v1/audio/transcriptions', 3, None), ('/v1/audio/transcriptions', 4, None),
                 ('/v1/audio/transcriptions', None, None),
                 ('/v1/chat/completions', 1, None), ('/v1/chat/completions', 2, None),
                 ('/v1/chat/completions', 3, None), ('/v1/chat/completions', 4, 'hang'),
                 ('/v1/audio/speech', 1, None), ('/v1/audio/speech', 2, 'cut'), ('/v1/audio/speech', 3, None),
                 ('/v1/audio/speech', 4, None), ('/v1/models', None, None)], paths
assert all(e['method'] == ('GET' if e['path'] == '/v1/models' else 'POST') for e in log)
t = [e['t_ms'] for e in log]
assert t == sorted(t) and t[0] > 0, t
first = log[0]
assert first['headers']['authorization'] == 'Bearer $key', first
assert first['headers']['content-type'].startswith('multipart/form-data; boundary='), first
assert first['fields'] == {'model': 'whisper-1', 'language': 'en', 'response_format': 'json'}, first
assert first['file'] == {'name': 'speech.wav', 'content_type': 'audio/wav', 'bytes': 16044,
                         'wav': {'rate': 16000, 'channels': 1, 'bits': 16, 'seconds': 0.5}}, first
assert log[3]['file']['wav'] is None and log[3]['fields']['response_format'] == 'text', log[3]
assert log[4]['headers']['authorization'] is None, log[4]
assert log[5]['body']['stream'] is True and log[5]['body']['messages'][0]['content'] == '17*23?', log[5]
assert log[5]['headers']['content-type'] == 'application/json', log[5]
assert log[7]['body']['messages'][2] == {'role': 'tool', 'tool_call_id': 'call_1', 'content': '14:05'}, log[7]
assert log[9]['body'] == {'model': 'tts-1', 'voice': 'alloy', 'input': 'hello there', 'response_format': 'pcm',
                          'sample_rate': 16000}, log[9]
"

# SIGTERM while a request hangs (chat 5): the hang must not hold up the exit.
post_json /chat/completions '{"model": "test-model", "messages": []}' --max-time 20 &
hang_curl=$!
for _ in $(seq 100); do
  [ "$(wc -l <"$dir/main.log")" = 15 ] && break
  sleep 0.05
done
[ "$(wc -l <"$dir/main.log")" = 15 ] || fail "chat 5 not logged"
stop "$main_pid"
wait "$hang_curl" || true

# ---- delays: each before its stage's first byte of content, and nothing slower than asked
start delays --stt-delay-ms 300 --llm-first-token-ms 200 --llm-token-ms 50 --tts-first-byte-ms 250 \
  --llm-text "one two three four" --stt-text "delayed"
key=unused
stt "$dir/speech.wav"
expect 0 200 "delayed transcription"
py "delayed transcription text" 'assert json.loads(body) == {"text": "delayed"}, body'
awk -v s="$secs" 'BEGIN { exit !(s >= 0.3 && s < 1.0) }' || fail "transcription took $secs s, not 0.3 s"
post_json /chat/completions '{"model": "test-model", "stream": true, "messages": []}' -N
expect 0 200 "delayed chat"
sse "delayed chat"
sse_check "delayed chat text" 's["text"] == "one two three four" and s["content_chunks"] == 4'
awk -v s="$secs" 'BEGIN { exit !(s >= 0.35 && s < 1.1) }' || fail "chat took $secs s, not 0.2 + 3 * 0.05 s"
speech "hi" ''
expect 0 200 "delayed speech"
awk -v s="$secs" 'BEGIN { exit !(s >= 0.25 && s < 1.0) }' || fail "speech took $secs s, not 0.25 s"
stop "$pid"
echo "PASS"
