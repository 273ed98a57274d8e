# shellcheck shell=bash
# Shared code of the agent's end-to-end tests (tests/e2e/*.sh): sipvoice-agent answering real SIP
# calls on 127.0.0.1, placed by our `sipvoice call` (directly to the agent as a trunk, or through a
# real Kamailio to its registered extension), with the OpenAI-compatible test server standing in for
# the paid STT/LLM/TTS APIs, or the offline backends. Builds on tests/interop/lib.sh (process
# handling, free ports, Kamailio); every process is stopped when the test ends.
#
#   source "$(dirname "$0")/lib.sh"
#   e2e_init NAME SIPVOICE AGENT [SERVER]
#   e2e_start_server --script "$IOP_DIR/script.json"       # sets E2E_BASE (http://127.0.0.1:PORT)
#   e2e_start_agent STT_BACKEND=openai ...                  # env for the agent; sets E2E_AGENT_PORT
#   e2e_say "what time is it" q.wav; e2e_compose caller.wav silence:4 wav:q.wav silence:6
#   iop_run 30 call "$SIPVOICE" call "sip:agent@127.0.0.1:$E2E_AGENT_PORT" --play ... --record ...
#   e2e_turns                                               # the turn log, one JSON line per turn
#   iop_pass
source "$(dirname "${BASH_SOURCE[0]}")/../interop/lib.sh"

E2E_SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_WAVTOOL=(python3 "$E2E_SRC_DIR/wavtool.py")

# e2e_init NAME SIPVOICE AGENT [SERVER]
e2e_init() {
  iop_init "$1"
  iop_sipvoice_check "$2"
  E2E_AGENT=$3
  E2E_SERVER=${4:-}
  [ -x "$E2E_AGENT" ] || iop_fail "sipvoice-agent '$E2E_AGENT' not found (build the sipvoice_agent target)"
  [ -z "$E2E_SERVER" ] || [ -x "$E2E_SERVER" ] || iop_fail "test server '$E2E_SERVER' not found (build openai_test_server)"
  command -v python3 >/dev/null || iop_fail "python3 is missing (tools/setup.sh installs it)"
  E2E_TURNS=$IOP_DIR/turns.jsonl
}

# e2e_start_server ARGS...: the OpenAI-compatible test server on a free port, its request log in
# $IOP_DIR/requests.jsonl. Sets E2E_BASE.
e2e_start_server() {
  iop_spawn E2E_SERVER_PID server "$E2E_SERVER" --listen 127.0.0.1:0 --log "$IOP_DIR/requests.jsonl" "$@"
  wait_for_line "$IOP_DIR/server.out" '^listening port=' 10 || iop_fail "the test server did not start: $(cat "$IOP_DIR/server.err")"
  E2E_BASE="http://127.0.0.1:${IOP_LINE#listening port=}"
  iop_log "test server at $E2E_BASE"
}

# e2e_start_agent [VAR=VALUE...]: sipvoice-agent with a clean environment plus these variables,
# listening on 127.0.0.1 (a free port), logging at debug level, turn log in $E2E_TURNS. Sets
# E2E_AGENT_PID and E2E_AGENT_PORT (UDP and TCP).
e2e_start_agent() {
  iop_spawn E2E_AGENT_PID agent env -i PATH="$PATH" HOME="$IOP_DIR" SIP_LISTEN_ADDRESS=127.0.0.1 SIP_LISTEN_PORT=0 \
    AGENT_LOG_LEVEL=debug AGENT_TURN_LOG="$E2E_TURNS" "$@" "$E2E_AGENT"
  wait_for_line "$IOP_DIR/agent.out" '^listening udp=' 20 \
    || iop_fail "sipvoice-agent did not start: $(tail -n 5 "$IOP_DIR/agent.err")"
  E2E_AGENT_PORT=$(sed -n 's/^listening udp=[^ ]*:\([0-9]*\) .*/\1/p' <<<"$IOP_LINE")
  iop_log "agent: $IOP_LINE"
}

# e2e_stop_agent: SIGTERM, waits (10 s) for exit status 0.
e2e_stop_agent() {
  kill -TERM "$E2E_AGENT_PID" 2>/dev/null || true
  iop_wait_exit "$E2E_AGENT_PID" 10
  [ "$IOP_EXIT" = 0 ] || iop_fail "sipvoice-agent exited $IOP_EXIT after SIGTERM (expected 0)"
  iop_log "agent stopped after SIGTERM in $IOP_WAITED s"
}

# e2e_say TEXT OUT: speech synthesized by the offline voice (sipvoice-agent --say), 16 kHz.
e2e_say() {
  env -i PATH="$PATH" "$E2E_AGENT" --say "$1" --output "$2" >/dev/null 2>"$IOP_DIR/say.err" \
    || iop_fail "sipvoice-agent --say failed: $(cat "$IOP_DIR/say.err")"
}

# e2e_compose OUT ITEM...: silence:S | wav:PATH | tone:HZ:S, at 16 kHz.
e2e_compose() {
  local out=$1
  shift
  "${E2E_WAVTOOL[@]}" compose "$out" 16000 "$@" >/dev/null
}

# e2e_duration WAV: seconds.
e2e_duration() { python3 -c 'import sys, wave; w = wave.open(sys.argv[1]); print(f"{w.getnframes() / w.getframerate():.2f}")' "$1"; }

# e2e_segments WAV: "START END" lines of sound in WAV.
e2e_segments() { "${E2E_WAVTOOL[@]}" segments "$1" "${2:--45}" "${3:-0.3}"; }

# e2e_turn N FIELD: a field of turn N (1-based) of the turn log, as JSON text ("ms.first_rtp" for nested).
e2e_turn() {
  python3 - "$E2E_TURNS" "$1" "$2" <<'PY'
import json, sys
turns = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
n = int(sys.argv[2])
if n > len(turns):
    print("null"); sys.exit(0)
v = turns[n - 1]
for k in sys.argv[3].split("."):
    v = v.get(k) if isinstance(v, dict) else None
print(v if isinstance(v, str) else json.dumps(v))
PY
}

# e2e_turn_count: lines in the turn log.
e2e_turn_count() { iop_lines "$E2E_TURNS"; }
