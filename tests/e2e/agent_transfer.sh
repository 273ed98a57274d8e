#!/usr/bin/env bash
# The transfer_call tool end to end: SIPp (sipp/uac_transfer*.xml) calls sipvoice-agent (a trunk on
# 127.0.0.1, TOOLS_TRANSFER_TARGET=100, the OpenAI-compatible test server as STT, LLM and TTS), waits
# through the greeting and "speaks" (a 2.4 s cut of the sip-tester package's g711a.pcap, real speech
# for the agent's VAD; the server's transcription is scripted: "transfer me to a human"). The server's
# model calls transfer_call, then answers "Result: " + the tool's text.
#   CASE done:     SIPp answers the agent's REFER 202, reports the target's 200 OK in a NOTIFY
#                  (message/sipfrag); the agent must then send BYE (SIPp expects it within 10 s).
#   CASE refused:  SIPp answers the REFER 603 Decline; the agent must say its fallback text
#                  (TOOLS_TRANSFER_FALLBACK, the default) and stay in the call until SIPp hangs up.
#   CASE 405:      the same with 405 Method Not Allowed.
#   CASE busy:     SIPp accepts the REFER (202) but its NOTIFY reports "SIP/2.0 486 Busy Here": the
#                  fallback is said and the call goes on until SIPp hangs up, as when refused.
# Both: the REFER's Refer-To is <sip:100@127.0.0.1> (the trunk peer's address; SIPp's ereg check) with
# a Referred-By, it goes out only after the reply has played (the agent's log: at least 90% of the
# reply's audio length after its text), and the requests to the test server are checked:
# transfer_call offered, called, its result in the history, the transfer text spoken (and, refused,
# the fallback after it).
# MEASURED: end of the reply's text -> REFER (the reply's playback), NOTIFY -> BYE, REFER refusal ->
# the fallback's speech request.
# Usage: agent_transfer.sh SIPVOICE SIPVOICE_AGENT TEST_SERVER done|refused|405|busy
set -euo pipefail
source "$(dirname "$0")/lib.sh"
case_=${4:-}
case "$case_" in done | refused | 405 | busy) ;; *) echo "usage: agent_transfer.sh SIPVOICE SIPVOICE_AGENT TEST_SERVER done|refused|405|busy" >&2; exit 2 ;; esac
e2e_init "agent-transfer-$case_" "${1:-}" "${2:-}" "${3:-}"
iop_require_sipp
iop_require_pcap_play

transfer_text="I am transferring you to a colleague now. Please hold on."
reply_text="Result: $transfer_text"
fallback_text="Sorry, I could not transfer you right now. Please call back later."

# ---- SIPp's working directory: its scenario, and pcap/ with the package's files plus speech.pcap,
# the caller's question: g711a.pcap from its start to 3.0 s (0.6 s of silence, then speech).
mkdir "$IOP_DIR/pcap"
ln -s "$IOP_SIPP_PCAP_DIR"/*.pcap "$IOP_DIR/pcap/"
python3 - "$IOP_SIPP_PCAP_DIR/g711a.pcap" "$IOP_DIR/pcap/speech.pcap" 3.0 <<'PY' || iop_fail "could not cut g711a.pcap"
# Copies the records of a classic pcap file whose time from the first record is below the limit.
import struct, sys
data = open(sys.argv[1], "rb").read()
limit = float(sys.argv[3])
assert data[:4] == b"\xd4\xc3\xb2\xa1", "not a little-endian pcap"
out, o, t0 = [data[:24]], 24, None
while o + 16 <= len(data):
    sec, usec, incl, _ = struct.unpack_from("<IIII", data, o)
    t = sec + usec / 1e6
    t0 = t if t0 is None else t0
    if t - t0 < limit:
        out.append(data[o:o + 16 + incl])
    o += 16 + incl
open(sys.argv[2], "wb").write(b"".join(out))
PY
speech_s=$(iop_pcap_rtp "$IOP_DIR/pcap/speech.pcap" | awk 'END { sub("t=", "", $1); printf "%.2f", $1 + 0.03 }')
iop_log "speech.pcap: $(iop_pcap_rtp "$IOP_DIR/pcap/speech.pcap" | wc -l) packets, $speech_s s (speech from 0.6 s)"

# ---- the test server and the agent
cat >"$IOP_DIR/script.json" <<'JSON'
{"stt": ["transfer me to a human"],
 "llm": [{"tool_call": {"name": "transfer_call", "arguments": {}}}, {"echo_tool_result": true}]}
JSON
e2e_start_server --script "$IOP_DIR/script.json"
e2e_start_agent STT_BACKEND=openai LLM_BACKEND=openai TTS_BACKEND=openai OPENAI_BASE_URL="$E2E_BASE" \
  TOOLS_TRANSFER_TARGET=100

# ---- the call. The greeting ("Hello, this is your voice assistant. How can I help you?") lasts
# about 3.4 s at the server's 60 ms per character: the caller speaks from 4.5 s.
iop_pick_port sp
iop_pick_media_port mp
sipp_args=(-s agent -t u1 -i 127.0.0.1 -p "$sp" -mi 127.0.0.1 -mp "$mp" -set greet_ms 4500 -m 1 -l 1
  -timeout 50s -timeout_error)
if [ "$case_" = "done" ] || [ "$case_" = busy ]; then
  frag="200 OK"
  [ "$case_" = busy ] && frag="486 Busy Here"
  cp "$E2E_SRC_DIR/sipp/uac_transfer.xml" "$IOP_DIR/"
  iop_sipp sipp sipp -sf "$IOP_DIR/uac_transfer.xml" "${sipp_args[@]}" -set frag "$frag" -set after_ms 8000 \
    "127.0.0.1:$E2E_AGENT_PORT"
else
  refusal=603
  [ "$case_" = 405 ] && refusal=405
  cp "$E2E_SRC_DIR/sipp/uac_transfer_refused.xml" "$IOP_DIR/"
  iop_sipp sipp sipp -sf "$IOP_DIR/uac_transfer_refused.xml" "${sipp_args[@]}" -set refusal "$refusal" \
    -set after_ms 8000 "127.0.0.1:$E2E_AGENT_PORT"
fi
iop_wait_exit "$sipp" 45
[ "$IOP_EXIT" = 0 ] || iop_fail "SIPp exited '$IOP_EXIT' (0: the scenario completed; see sipp-errors.log, sipp-messages.log)"
iop_log "SIPp completed its scenario in $IOP_WAITED s"
wait_for_line "$IOP_DIR/agent.err" ' ended status=' 5 || iop_fail "the agent did not log the call's end"
ended=$IOP_LINE
e2e_stop_agent

# ---- the agent's log: seconds of day of the first line matching a regex (HH:MM:SS.mmm at the start)
agent_log=$IOP_DIR/agent.err
log_time() {
  grep -E -m1 -- "$1" "$agent_log" | awk '{ split($1, a, ":"); printf "%.3f", a[1] * 3600 + a[2] * 60 + a[3] }'
}
need_line() { grep -E -q -- "$1" "$agent_log" || iop_fail "no line matching '$1' in the agent's log"; }
need_line 'heard: transfer me to a human'
need_line 'said: Result: I am transferring you'
need_line 'transferring the call to 100'
need_line ': REFER to sip:100@127\.0\.0\.1$'
grep -E 'heard:|said:|transferr|REFER|transfer|announcing|ended status' "$agent_log" | sed 's/^/    agent: /' >&2
said_t=$(log_time 'said: Result: I am transferring you')
refer_t=$(log_time ': REFER to ')
reply_s=$(awk -v n="${#reply_text}" 'BEGIN { printf "%.2f", n * 0.060 }')
refer_after=$(awk -v a="$said_t" -v b="$refer_t" 'BEGIN { printf "%.2f", b - a }')
# The reply's audio (its duration at the server's 60 ms per character) plays before the REFER.
iop_le "$(awk -v d="$reply_s" 'BEGIN { print d * 0.9 }')" "$refer_after" \
  || iop_fail "the REFER went out $refer_after s after the reply's text, before its $reply_s s of audio had played"

if [ "$case_" = "done" ]; then
  need_line 'transfer progress 202'
  need_line 'transfer progress 200 \(final\)'
  need_line ': transferred$'
  final_t=$(log_time 'transfer progress 200 \(final\)')
  end_t=$(log_time ' ended status=')
  bye_after=$(awk -v a="$final_t" -v b="$end_t" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
  # The BYE is the agent's: SIPp's scenario received it (recv request="BYE") and answered it.
  grep -q '^BYE sip:' "$IOP_DIR/sipp-messages.log" || iop_fail "no BYE in SIPp's message log"
  ! grep -E -q 'transfer failed|announcing' "$agent_log" || iop_fail "the agent treated the transfer as failed"
else
  [ "$case_" != busy ] || need_line 'transfer progress 202'
  refusal=${refusal:-486}
  need_line "transfer progress $refusal \\(final\\)"
  need_line "transfer failed: .*$refusal"
  need_line "announcing: $fallback_text"
  fail_t=$(log_time 'transfer failed: ')
fi
iop_log "call: $ended"

# ---- the requests to the test server
python3 - "$IOP_DIR/requests.jsonl" "$case_" "$reply_text" "$transfer_text" "$fallback_text" <<'PY' \
  || iop_fail "a request to the test server was not as expected (above)"
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
case, reply, result, fallback = sys.argv[2:6]
fail = []
def check(cond, what):
    if not cond: fail.append(what)
chat = [r for r in reqs if r["path"].endswith("/chat/completions")]
speech = [r for r in reqs if r["path"].endswith("/audio/speech")]
check(len(chat) == 2, f"{len(chat)} chat requests, expected 2 (the tool call, then the reply)")
if chat:
    b1 = chat[0]["body"]
    tools = {t["function"]["name"]: t["function"] for t in b1.get("tools", [])}
    check("transfer_call" in tools, f"transfer_call not offered: {list(tools)}")
    check(b1["messages"][-1] == {"role": "user", "content": "transfer me to a human"}, f"last message {b1['messages'][-1]}")
if len(chat) == 2:
    m2 = chat[1]["body"]["messages"]
    calls = [m for m in m2 if m["role"] == "assistant" and m.get("tool_calls")]
    check(len(calls) == 1 and calls[0]["tool_calls"][0]["function"]["name"] == "transfer_call", f"tool call {calls}")
    results = [m for m in m2 if m["role"] == "tool"]
    check(len(results) == 1 and results[0]["content"] == result, f"tool result {results}")
inputs = [s["body"]["input"] for s in speech]
# A reply is synthesized sentence by sentence: look for the texts in the speech requests' inputs, in order.
spoken = " ".join(inputs)
check(spoken.count(reply) == 1, f"the transfer reply {reply!r} spoken {spoken.count(reply)} times: {inputs}")
if case == "done":
    check(fallback not in spoken, f"the fallback was spoken after a transfer that worked: {inputs}")
else:
    check(spoken.count(fallback) == 1, f"the fallback {fallback!r} spoken {spoken.count(fallback)} times: {inputs}")
    if reply in spoken and fallback in spoken:
        check(spoken.index(fallback) > spoken.index(reply), f"the fallback came before the transfer reply: {inputs}")
for f in fail: print("  " + f, file=sys.stderr)
print("speech requests: " + " | ".join(inputs), file=sys.stderr)
sys.exit(1 if fail else 0)
PY

if [ "$case_" = "done" ]; then
  iop_log "MEASURED transfer done: REFER ${refer_after} s after the reply's text (its audio: $reply_s s); final NOTIFY -> BYE (call ended) $bye_after ms"
else
  fb_after=$(awk -v a="$refer_t" -v b="$fail_t" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
  iop_log "MEASURED transfer $case_ ($refusal): REFER ${refer_after} s after the reply's text (its audio: $reply_s s); REFER -> failure handled and the fallback announced $fb_after ms; the call went on until SIPp's BYE"
fi
iop_pass
