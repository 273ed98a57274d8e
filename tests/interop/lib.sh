# shellcheck shell=bash
# Shared code of the interop tests (tests/interop/*.sh): a real Kamailio on 127.0.0.1, started and
# stopped by the test, and helpers to drive it and our CLI. Source it from a test script:
#
#   source "$(dirname "$0")/lib.sh"
#   iop_init "register-udp"            # temp dir, traps, watchdog
#   iop_start_kamailio 401             # or 407; sets IOP_UDP_PORT IOP_TCP_PORT IOP_TLS_PORT
#   ...
#   iop_pass
#
# Every process started through iop_spawn / iop_start_kamailio is killed on exit, also when the test
# fails or is interrupted (EXIT/INT/TERM traps, plus a watchdog that ends the test after
# IOP_TEST_TIMEOUT seconds, before ctest's own timeout would kill the script without its traps).
#
# Kamailio: Debian's kamailio and kamailio-tls-modules (tools/setup.sh installs them). Users:
#   1001  auth user 1001      password secret1001
#   1002  auth user auth1002  password secret1002   (3CX-style "authentication ID")
# realm $IOP_REALM. The test's files are in $IOP_DIR: kamailio.cfg, tls.cfg, kamailio.log, ca.pem,
# server.pem/key, and whatever the test writes; the directory is kept when the test fails
# (IOP_KEEP=1 keeps it always).

set -euo pipefail

IOP_SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IOP_REALM=${IOP_REALM:-sipvoice-interop}
IOP_TEST_TIMEOUT=${IOP_TEST_TIMEOUT:-100}
IOP_KAMAILIO=${IOP_KAMAILIO:-$(command -v kamailio || echo /usr/sbin/kamailio)}
IOP_KAMCMD=${IOP_KAMCMD:-$(command -v kamcmd || echo /usr/sbin/kamcmd)}
IOP_MODULE_DIR=${IOP_MODULE_DIR:-}
IOP_PIDS=()          # processes to kill on exit (each the leader of its own process group)
IOP_USED_PORTS=()    # ports this test already picked
IOP_KAM_PID=""
IOP_KAM_STARTS=0
IOP_NAME=$(basename "$0" .sh)
IOP_DIR=""
IOP_DONE=0
IOP_WATCHDOG_PID=""

# ---------------------------------------------------------------------------------------------- output
iop_log() { printf '[%s %s] %s\n' "$(date +%H:%M:%S.%N | cut -c1-12)" "$IOP_NAME" "$*" >&2; }

iop_now() { date +%s.%N; }
# iop_elapsed START: seconds since START (an iop_now value), with 2 decimals
iop_elapsed() { awk -v a="$1" -v b="$(iop_now)" 'BEGIN { printf "%.2f", b - a }'; }
# iop_le A B: true if A <= B (decimals)
iop_le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }

# iop_fail MESSAGE: fail the test, showing what the test's peers logged
iop_fail() {
  iop_log "FAIL: $*"
  iop_dump_logs
  exit 1
}

iop_pass() {
  IOP_DONE=1
  iop_log "PASS"
  exit 0
}

# Prints the tail of every log in the test directory (Kamailio's, the CLI's) to stderr.
iop_dump_logs() {
  local f
  [ -n "$IOP_DIR" ] && [ -d "$IOP_DIR" ] || return 0
  for f in "$IOP_DIR"/*.log "$IOP_DIR"/*.out "$IOP_DIR"/*.err; do
    [ -f "$f" ] || continue
    echo "----- $(basename "$f") (last 60 lines) -----" >&2
    tail -n 60 "$f" >&2 || true
  done
  echo "----- (files kept in $IOP_DIR) -----" >&2
}

# --------------------------------------------------------------------------------------- set-up, exit
# iop_require_tools: fail (not skip) when a peer tool is missing.
iop_require_tools() {
  local missing=() t
  for t in "$IOP_KAMAILIO" "$IOP_KAMCMD" openssl ss sipsak timeout setsid awk; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
  done
  if [ -z "$IOP_MODULE_DIR" ]; then
    local d
    for d in /usr/lib/x86_64-linux-gnu/kamailio/modules /usr/lib/*/kamailio/modules /usr/lib/kamailio/modules \
             /usr/local/lib64/kamailio/modules /usr/local/lib/kamailio/modules; do
      if [ -f "$d/tls.so" ]; then IOP_MODULE_DIR=$d; break; fi
    done
  fi
  [ -n "$IOP_MODULE_DIR" ] && [ -f "$IOP_MODULE_DIR/tls.so" ] || missing+=("kamailio TLS module (tls.so)")
  if [ ${#missing[@]} -gt 0 ]; then
    echo "interop: missing: ${missing[*]}. Install the Debian packages kamailio kamailio-tls-modules sipsak" \
         "sip-tester openssl iproute2 procps coreutils util-linux (tools/setup.sh does)." >&2
    exit 1
  fi
}

# iop_init NAME: checks the tools, makes the test's private directory, sets the traps and the watchdog.
iop_init() {
  IOP_NAME=$1
  iop_require_tools
  # a short path: the ctl unix socket lives here (sun_path is limited to 108 bytes)
  IOP_DIR=$(mktemp -d "${IOP_TMPDIR:-/tmp}/svi-XXXXXX")
  trap iop_cleanup EXIT
  trap 'iop_log "interrupted"; exit 130' INT
  trap 'iop_log "terminated (watchdog or ctest timeout)"; exit 143' TERM
  # The watchdog lives in its own process group so iop_cleanup can end it by id.
  setsid bash -c 'sleep "$1"; kill -TERM "$2" 2>/dev/null' iop-watchdog "$IOP_TEST_TIMEOUT" "$$" \
    </dev/null >/dev/null 2>&1 &
  IOP_WATCHDOG_PID=$!
  iop_log "test directory $IOP_DIR"
}

# Kills every process group this test started (TERM, then KILL after 3 s), removes the directory
# unless the test failed or IOP_KEEP=1.
iop_cleanup() {
  local rc=$? pid i
  trap - EXIT INT TERM
  for pid in "${IOP_PIDS[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${IOP_PIDS[@]}"; do
    for i in $(seq 30); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "[$IOP_NAME] process $pid did not stop on SIGTERM: SIGKILL" >&2
    fi
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "$IOP_WATCHDOG_PID" ]; then
    kill -TERM -- "-$IOP_WATCHDOG_PID" 2>/dev/null || true
    wait "$IOP_WATCHDOG_PID" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ] && [ "$IOP_DONE" -eq 0 ]; then
    echo "[$IOP_NAME] FAILED (exit $rc); files kept in $IOP_DIR" >&2
  elif [ "${IOP_KEEP:-0}" = 1 ]; then
    echo "[$IOP_NAME] files kept in $IOP_DIR" >&2
  elif [ -n "$IOP_DIR" ]; then
    rm -rf "$IOP_DIR"
  fi
  exit "$rc"
}

# iop_spawn VAR LOGBASE CMD ARGS...: starts CMD in the background, in its own process group (so it and
# its children can be killed together), stdout to $IOP_DIR/LOGBASE.out and stderr to LOGBASE.err.
# Stores its pid in VAR; the process is killed on exit unless the test reaped it (iop_reap).
iop_spawn() {
  local __var=$1 base=$2
  shift 2
  setsid "$@" </dev/null >"$IOP_DIR/$base.out" 2>"$IOP_DIR/$base.err" &
  local pid=$!
  IOP_PIDS+=("$pid")
  printf -v "$__var" '%s' "$pid"
  iop_log "started $base (pid $pid): $*"
}

# iop_forget PID: no longer kill PID on exit (it was reaped).
iop_forget() {
  local keep=() p
  for p in "${IOP_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  IOP_PIDS=("${keep[@]+"${keep[@]}"}")
}

# iop_wait_exit PID TIMEOUT: waits up to TIMEOUT s for PID (a child of this shell) to exit; sets
# IOP_EXIT to its exit status (or "timeout", the process then still running) and IOP_WAITED to the
# seconds waited.
iop_wait_exit() {
  local pid=$1 timeout=$2 start
  start=$(iop_now)
  IOP_EXIT=timeout
  while kill -0 "$pid" 2>/dev/null; do
    if ! iop_le "$(iop_elapsed "$start")" "$timeout"; then
      IOP_WAITED=$(iop_elapsed "$start")
      return 0
    fi
    sleep 0.05
  done
  IOP_EXIT=0
  wait "$pid" || IOP_EXIT=$?
  IOP_WAITED=$(iop_elapsed "$start")
  iop_forget "$pid"
}

# ---------------------------------------------------------------------------------------------- ports
# iop_port_in_use PORT: true if PORT is bound on TCP or UDP (any address, any state).
iop_port_in_use() {
  [ -n "$(ss -Hantu "( sport = :$1 )" 2>/dev/null)" ]
}

# iop_free_port: prints a random port in 20000..60000 free on both TCP and UDP, not yet picked here.
iop_free_port() {
  local p i u
  for i in $(seq 200); do
    p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40001 ))
    for u in "${IOP_USED_PORTS[@]+"${IOP_USED_PORTS[@]}"}"; do
      [ "$u" = "$p" ] && continue 2
    done
    if ! iop_port_in_use "$p"; then
      echo "$p"
      return 0
    fi
  done
  echo "interop: no free port found" >&2
  return 1
}

# iop_pick_port VAR: like iop_free_port, remembered so the test never picks it twice.
iop_pick_port() {
  local __iop_port
  __iop_port=$(iop_free_port)
  IOP_USED_PORTS+=("$__iop_port")
  printf -v "$1" '%s' "$__iop_port"
}

# ----------------------------------------------------------------------------------------- certificates
# iop_make_certs: a self-signed CA (ca.pem) and a server certificate signed by it (server.pem,
# server.key) for IP 127.0.0.1 and DNS localhost, in $IOP_DIR.
iop_make_certs() {
  local d=$IOP_DIR
  [ -f "$d/server.pem" ] && return 0
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 2 \
    -keyout "$d/ca.key" -out "$d/ca.pem" -subj "/O=sipvoice interop/CN=sipvoice interop test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    >"$d/openssl.txt" 2>&1 || { cat "$d/openssl.txt" >&2; iop_fail "openssl: CA"; }
  openssl req -newkey rsa:2048 -nodes -sha256 -keyout "$d/server.key" -out "$d/server.csr" \
    -subj "/O=sipvoice interop/CN=127.0.0.1" >>"$d/openssl.txt" 2>&1 \
    || { cat "$d/openssl.txt" >&2; iop_fail "openssl: server key"; }
  cat >"$d/server.ext" <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
EOF
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
    -days 2 -sha256 -extfile "$d/server.ext" -out "$d/server.pem" >>"$d/openssl.txt" 2>&1 \
    || { cat "$d/openssl.txt" >&2; iop_fail "openssl: server certificate"; }
  openssl verify -CAfile "$d/ca.pem" "$d/server.pem" >>"$d/openssl.txt" 2>&1 \
    || { cat "$d/openssl.txt" >&2; iop_fail "openssl: the server certificate does not verify"; }
}

# --------------------------------------------------------------------------------------------- Kamailio
# iop_write_config MODE: writes $IOP_DIR/kamailio.cfg and tls.cfg for the chosen ports; MODE is 401
# (WWW-Authenticate, qop=auth) or 407 (Proxy-Authenticate, no qop).
iop_write_config() {
  local mode=$1
  case "$mode" in 401|407) ;; *) iop_fail "iop_write_config: mode must be 401 or 407, not '$mode'" ;; esac
  IOP_MODE=$mode
  IOP_CTL_SOCKET=$IOP_DIR/kamailio.ctl
  local subst=(
    -e "s|@UDP_PORT@|$IOP_UDP_PORT|g" -e "s|@TCP_PORT@|$IOP_TCP_PORT|g" -e "s|@TLS_PORT@|$IOP_TLS_PORT|g"
    -e "s|@MODE@|$mode|g" -e "s|@REALM@|$IOP_REALM|g" -e "s|@DIR@|$IOP_DIR|g"
    -e "s|@CTL_SOCKET@|$IOP_CTL_SOCKET|g" -e "s|@MODULE_DIR@|$IOP_MODULE_DIR|g"
  )
  sed "${subst[@]}" "$IOP_SRC_DIR/kamailio.cfg.in" >"$IOP_DIR/kamailio.cfg"
  sed "${subst[@]}" "$IOP_SRC_DIR/tls.cfg.in" >"$IOP_DIR/tls.cfg"
  if grep -q '@[A-Z_]*@' "$IOP_DIR/kamailio.cfg" "$IOP_DIR/tls.cfg"; then
    iop_fail "unreplaced placeholder in the Kamailio config: $(grep -ho '@[A-Z_]*@' "$IOP_DIR"/kamailio.cfg "$IOP_DIR"/tls.cfg | sort -u | tr '\n' ' ')"
  fi
}

# iop_kamailio_listening: true when Kamailio listens on all three ports and answers RPC.
iop_kamailio_listening() {
  [ -n "$(ss -Hlnu "( sport = :$IOP_UDP_PORT )" 2>/dev/null)" ] &&
  [ -n "$(ss -Hlnt "( sport = :$IOP_TCP_PORT )" 2>/dev/null)" ] &&
  [ -n "$(ss -Hlnt "( sport = :$IOP_TLS_PORT )" 2>/dev/null)" ] &&
  "$IOP_KAMCMD" -s "unix:$IOP_CTL_SOCKET" core.uptime >/dev/null 2>&1
}

# iop_launch_kamailio: starts Kamailio with the written config on the chosen ports and waits (10 s at
# most) until it listens. Returns 1 if it exited (e.g. a port was taken meanwhile), fails on timeout.
iop_launch_kamailio() {
  IOP_KAM_STARTS=$((IOP_KAM_STARTS + 1))
  local log=$IOP_DIR/kamailio.log start
  printf '===== start %d: udp %s tcp %s tls %s, mode %s =====\n' "$IOP_KAM_STARTS" \
    "$IOP_UDP_PORT" "$IOP_TCP_PORT" "$IOP_TLS_PORT" "$IOP_MODE" >>"$log"
  rm -f "$IOP_CTL_SOCKET"
  mkdir -p "$IOP_DIR/run"
  # -DD: the main process stays in the foreground (our child), its children in its process group;
  # -E: log to stderr (the log file). -m/-M: small shared/private memory.
  setsid "$IOP_KAMAILIO" -f "$IOP_DIR/kamailio.cfg" -DD -E -m 32 -M 8 \
    -P "$IOP_DIR/run/kamailio.pid" -Y "$IOP_DIR/run" </dev/null >>"$log" 2>&1 &
  IOP_KAM_PID=$!
  IOP_PIDS+=("$IOP_KAM_PID")
  start=$(iop_now)
  while ! iop_kamailio_listening; do
    if ! kill -0 "$IOP_KAM_PID" 2>/dev/null; then
      wait "$IOP_KAM_PID" 2>/dev/null || true
      iop_forget "$IOP_KAM_PID"
      IOP_KAM_PID=""
      return 1
    fi
    iop_le "$(iop_elapsed "$start")" 10 || iop_fail "Kamailio did not listen within 10 s"
    sleep 0.05
  done
  IOP_KAM_UP_AT=$(iop_now)
  iop_log "Kamailio (pid $IOP_KAM_PID, mode $IOP_MODE) listening on udp:$IOP_UDP_PORT tcp:$IOP_TCP_PORT tls:$IOP_TLS_PORT after $(iop_elapsed "$start") s"
}

# iop_start_kamailio [MODE]: picks free ports, writes certificates and config, starts Kamailio (tries
# other ports if one was taken in between). Sets IOP_UDP_PORT, IOP_TCP_PORT, IOP_TLS_PORT, IOP_CA.
iop_start_kamailio() {
  local mode=${1:-401} try
  iop_make_certs
  IOP_CA=$IOP_DIR/ca.pem
  for try in 1 2 3; do
    iop_pick_port IOP_UDP_PORT
    iop_pick_port IOP_TCP_PORT
    iop_pick_port IOP_TLS_PORT
    iop_write_config "$mode"
    if iop_launch_kamailio; then return 0; fi
    iop_log "Kamailio exited at start (try $try); last log lines:"
    tail -n 5 "$IOP_DIR/kamailio.log" >&2
  done
  iop_fail "Kamailio did not start"
}

# iop_stop_kamailio: SIGTERM to Kamailio, waits until it and its children are gone (5 s, then SIGKILL).
iop_stop_kamailio() {
  [ -n "$IOP_KAM_PID" ] || return 0
  local pid=$IOP_KAM_PID i
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    iop_log "Kamailio did not stop on SIGTERM in 5 s: SIGKILL"
  fi
  kill -KILL -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  iop_forget "$pid"
  IOP_KAM_PID=""
  # the children (same process group) must be gone too
  for i in $(seq 50); do
    pgrep -g "$pid" >/dev/null 2>&1 || break
    sleep 0.1
  done
  iop_log "Kamailio stopped"
}

# iop_restart_kamailio: stop, then start again on the same ports with the same config.
iop_restart_kamailio() {
  iop_stop_kamailio
  iop_launch_kamailio || iop_fail "Kamailio did not start again on the same ports (see kamailio.log)"
}

# iop_kamcmd ARGS...: an RPC to the running Kamailio.
iop_kamcmd() { "$IOP_KAMCMD" -s "unix:$IOP_CTL_SOCKET" "$@"; }

# iop_registrar_uri TRANSPORT: the registrar URI for our CLI, e.g. sip:127.0.0.1:PORT;transport=tcp
iop_registrar_uri() {
  case "$1" in
    udp) echo "sip:127.0.0.1:$IOP_UDP_PORT;transport=udp" ;;
    tcp) echo "sip:127.0.0.1:$IOP_TCP_PORT;transport=tcp" ;;
    tls) echo "sip:127.0.0.1:$IOP_TLS_PORT;transport=tls" ;;
    *) iop_fail "unknown transport '$1'" ;;
  esac
}

# iop_port_of TRANSPORT: Kamailio's port for that transport
iop_port_of() {
  case "$1" in
    udp) echo "$IOP_UDP_PORT" ;; tcp) echo "$IOP_TCP_PORT" ;; tls) echo "$IOP_TLS_PORT" ;;
    *) iop_fail "unknown transport '$1'" ;;
  esac
}

# ---------------------------------------------------------------------------------- bindings (usrloc)
# iop_bindings USER: prints Kamailio's bindings (ul.lookup) of USER; empty if none.
iop_bindings() {
  local out
  if out=$(iop_kamcmd ul.lookup location "s:$1" 2>&1); then
    printf '%s\n' "$out"
  fi
  return 0
}

# has_binding USER: true if USER has at least one live binding in Kamailio's location table.
has_binding() {
  local out
  out=$(iop_kamcmd ul.lookup location "s:$1" 2>/dev/null) || return 1
  printf '%s\n' "$out" | grep -q 'Address:'
}

# wait_for_binding USER TIMEOUT: waits (polling every 50 ms) until USER has a binding; sets
# IOP_WAITED to the seconds it took. Returns 1 on timeout.
wait_for_binding() {
  local start
  start=$(iop_now)
  until has_binding "$1"; do
    if ! iop_le "$(iop_elapsed "$start")" "$2"; then
      IOP_WAITED=$(iop_elapsed "$start")
      return 1
    fi
    sleep 0.05
  done
  IOP_WAITED=$(iop_elapsed "$start")
  iop_log "binding of $1 present after $IOP_WAITED s"
}

# wait_for_no_binding USER TIMEOUT: the opposite.
wait_for_no_binding() {
  local start
  start=$(iop_now)
  while has_binding "$1"; do
    if ! iop_le "$(iop_elapsed "$start")" "$2"; then
      IOP_WAITED=$(iop_elapsed "$start")
      return 1
    fi
    sleep 0.05
  done
  IOP_WAITED=$(iop_elapsed "$start")
  iop_log "no binding of $1 after $IOP_WAITED s"
}

# iop_add_binding USER CONTACT [EXPIRES]: puts a binding of USER to CONTACT into Kamailio's location
# table over RPC (usrloc ul.add: no REGISTER, so no NAT fix-up of the address), for a peer that does
# not register itself. Kamailio then routes requests for USER to CONTACT, over its transport.
iop_add_binding() {
  local out
  out=$(iop_kamcmd ul.add location "s:$1" "$2" "${3:-60}" 1.0 s:0 0 0 0 2>&1) \
    || iop_fail "kamcmd ul.add $1 $2: $out"
  has_binding "$1" || iop_fail "no binding of $1 after ul.add"
}

# ------------------------------------------------------------------------------------------ log files
# wait_for_line FILE REGEX TIMEOUT [FROM_LINE]: waits until a line of FILE (after line FROM_LINE,
# default 0) matches the extended REGEX; prints nothing, sets IOP_LINE to the line and IOP_WAITED.
wait_for_line() {
  local file=$1 re=$2 timeout=$3 from=${4:-0} start line
  start=$(iop_now)
  while :; do
    if [ -f "$file" ] && line=$(tail -n "+$((from + 1))" "$file" | grep -E -m1 -- "$re"); then
      IOP_LINE=$line
      IOP_WAITED=$(iop_elapsed "$start")
      return 0
    fi
    if ! iop_le "$(iop_elapsed "$start")" "$timeout"; then
      IOP_WAITED=$(iop_elapsed "$start")
      return 1
    fi
    sleep 0.05
  done
}

# iop_lines FILE: number of lines in FILE now (0 if missing), for wait_for_line's FROM_LINE.
iop_lines() { if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }

# iop_count FILE REGEX [FROM_LINE]: number of lines of FILE (after FROM_LINE) matching REGEX.
iop_count() {
  local n
  [ -f "$1" ] || { echo 0; return 0; }
  n=$(tail -n "+$((${3:-0} + 1))" "$1" | grep -c -E -- "$2" || true)
  echo "${n:-0}"
}

# iop_kam_events REGEX: Kamailio's "IOP ..." log lines matching REGEX (all starts of this test).
iop_kam_events() { grep -E -- "IOP t=[0-9.]+ .*$1" "$IOP_DIR/kamailio.log" || true; }

# iop_event_time LINE: the t= timestamp (seconds.microseconds) of an "IOP" log line
iop_event_time() { sed -n 's/.*IOP t=\([0-9.]*\) .*/\1/p' <<<"$1"; }

# ----------------------------------------------------------------------------------------- our CLI
# iop_sipvoice_check PATH: the CLI binary must exist.
iop_sipvoice_check() {
  [ -n "${1:-}" ] || iop_fail "usage: the sipvoice binary path is the first argument"
  [ -x "$1" ] || iop_fail "sipvoice binary '$1' not found or not executable (build the sipvoice_cli target)"
  SIPVOICE=$1
}

# iop_cli_net TRANSPORT: sets IOP_CLI_NET to the CLI's local-socket options (127.0.0.1 and a free
# port, so tests can run in parallel) plus, for tls, --ca-file with the test CA (verification on).
iop_cli_net() {
  local cli_port
  iop_pick_port cli_port
  IOP_CLI_NET=(--bind 127.0.0.1 --port "$cli_port")
  if [ "$1" = tls ]; then IOP_CLI_NET+=(--ca-file "$IOP_CA"); fi
}

# iop_run TIMEOUT LOGBASE CMD ARGS...: runs CMD in the foreground for at most TIMEOUT s (then SIGTERM,
# SIGKILL 2 s later), stdout to $IOP_DIR/LOGBASE.out, stderr to LOGBASE.err. Sets IOP_RC (124: timed
# out) and IOP_WAITED (seconds it ran). Never fails by itself.
iop_run() {
  local timeout=$1 base=$2 start
  shift 2
  iop_log "run ($timeout s max) $base: $*"
  start=$(iop_now)
  IOP_RC=0
  timeout -k 2 "$timeout" "$@" </dev/null >"$IOP_DIR/$base.out" 2>"$IOP_DIR/$base.err" || IOP_RC=$?
  IOP_WAITED=$(iop_elapsed "$start")
  iop_log "$base exited $IOP_RC after $IOP_WAITED s"
}

# iop_show FILE [N]: prints the first N (default 20) lines of a test file to stderr, indented.
iop_show() {
  [ -f "$1" ] || return 0
  head -n "${2:-20}" "$1" | sed "s|^|    $(basename "$1"): |" >&2
}

# iop_binding_field USER FIELD: the values of FIELD (Address, Socket, Received, Expires, User-Agent...)
# of USER's bindings, one per line.
iop_binding_field() {
  iop_bindings "$1" | sed -n -E "s/^[[:space:]]*$2: (.*)$/\1/p"
}

# ===================================================================================== calls and media
# Used by the call_*.sh tests: SIPp (Debian's sip-tester) as caller and callee, RTP from the pcap files
# the package ships, and small readers of pcap and WAV files (od + awk, no other tools), so a test can
# say which DTMF digits a pcap holds and whether a tone or a speech envelope arrived in a recording.

IOP_SIPP=${IOP_SIPP:-$(command -v sipp || echo /usr/bin/sipp)}
# The sip-tester package's pcap files (GPL-2+, like SIPp; not copied into this MIT repository): SIPp's
# built-in uac_pcap scenario plays pcap/g711a.pcap and pcap/dtmf_2833_1.pcap relative to its working
# directory, so iop_sipp runs SIPp in $IOP_DIR, where iop_sipp_pcaps links pcap/ to this directory.
IOP_SIPP_PCAP_DIR=${IOP_SIPP_PCAP_DIR:-/usr/share/sip-tester}

# iop_require_sipp: SIPp and its pcap files must be installed (fail, not skip, naming the package).
iop_require_sipp() {
  command -v "$IOP_SIPP" >/dev/null 2>&1 \
    || iop_fail "sipp not found (Debian package sip-tester; tools/setup.sh installs it)"
  [ -f "$IOP_SIPP_PCAP_DIR/g711a.pcap" ] && [ -f "$IOP_SIPP_PCAP_DIR/dtmf_2833_1.pcap" ] \
    || iop_fail "SIPp's pcap files are not in $IOP_SIPP_PCAP_DIR (package sip-tester; or set IOP_SIPP_PCAP_DIR)"
}

# iop_require_pcap_play: SIPp plays pcap files (play_pcap_audio) through a raw socket, which needs root
# or CAP_NET_RAW; without it the RTP silently never leaves, so fail up front and say so.
iop_require_pcap_play() {
  local capeff
  capeff=$(awk '/^CapEff:/ { print $2 }' /proc/self/status 2>/dev/null || true)
  if [ -n "$capeff" ] && (( (16#$capeff >> 13) & 1 )); then return 0; fi
  if command -v getcap >/dev/null 2>&1 && getcap "$IOP_SIPP" 2>/dev/null | grep -q cap_net_raw; then return 0; fi
  iop_fail "SIPp plays pcap files through a raw socket: run this test as root, or give SIPp CAP_NET_RAW (setcap cap_net_raw+ep $IOP_SIPP)"
}

# iop_sipp_pcaps: $IOP_DIR/pcap -> the package's pcap directory (SIPp's working directory is $IOP_DIR).
iop_sipp_pcaps() {
  [ -e "$IOP_DIR/pcap" ] || ln -s "$IOP_SIPP_PCAP_DIR" "$IOP_DIR/pcap"
}

# iop_pick_media_port VAR: an even port P with P, P+1, P+2 and P+3 free on UDP and TCP (RTP, RTCP, and
# the P+2 socket SIPp's -rtp_echo opens too), remembered like iop_pick_port.
iop_pick_media_port() {
  local p k
  for _ in $(seq 100); do
    p=$(iop_free_port)
    p=$((p - p % 2))
    for k in 0 1 2 3; do
      iop_port_in_use $((p + k)) && continue 2
      [[ " ${IOP_USED_PORTS[*]+"${IOP_USED_PORTS[*]}"} " == *" $((p + k)) "* ]] && continue 2
    done
    IOP_USED_PORTS+=("$p" $((p + 1)) $((p + 2)) $((p + 3)))
    printf -v "$1" '%s' "$p"
    return 0
  done
  iop_fail "no four free consecutive ports for media"
}

# iop_sipp VAR LOGBASE ARGS...: starts SIPp in the background (like iop_spawn, pid in VAR) in $IOP_DIR,
# without stdin, its control socket on 127.0.0.1 and a free port (not 0.0.0.0:8888), with its message
# trace in $IOP_DIR/LOGBASE-messages.log, unexpected messages in LOGBASE-errors.log and its last screen
# in LOGBASE-screen.log (the periodic screens go to LOGBASE.out). SIPp's exit status: 0 all calls
# succeeded, 1 some failed, 97 stopped by a command, 99 no call, 255 fatal error, 254 cannot bind.
iop_sipp() {
  local __var=$1 base=$2 cp
  shift 2
  iop_pick_port cp
  iop_spawn "$__var" "$base" env -C "$IOP_DIR" "$IOP_SIPP" "$@" -nostdin -ci 127.0.0.1 -cp "$cp" \
    -trace_msg -message_file "$IOP_DIR/$base-messages.log" -trace_err -error_file "$IOP_DIR/$base-errors.log" \
    -trace_screen -screen_file "$IOP_DIR/$base-screen.log"
}

# iop_sipp_transport TRANSPORT: SIPp's -t value for udp or tcp (one socket: u1, t1).
iop_sipp_transport() {
  case "$1" in
    udp) echo u1 ;; tcp) echo t1 ;;
    *) iop_fail "SIPp (Debian's build) does udp and tcp, not '$1'" ;;
  esac
}

# iop_sipp_call_done SIPP_PID SIPP_LOGBASE ANSWER_PID OUT: the end of a SIPp call to our `answer
# --max-calls 1`: SIPp exits 0 (its scenario ran to the end) within 25 s, our answer prints its
# 'ended' line (in IOP_ENDED) within 5 s and exits 0 within 5 s more. Fails the test otherwise.
iop_sipp_call_done() {
  local sipp=$1 base=$2 ans=$3 out=$4
  iop_wait_exit "$sipp" 25
  [ "$IOP_EXIT" = 0 ] || iop_fail "SIPp exited '$IOP_EXIT' (0: its scenario ran to the end; see $base-errors.log, $base-messages.log)"
  iop_log "SIPp: call completed (exit 0)"
  wait_for_line "$out" '^ended ' 5 || iop_fail "no 'ended' line within 5 s of SIPp's BYE"
  IOP_ENDED=$IOP_LINE
  iop_wait_exit "$ans" 5
  [ "$IOP_EXIT" = 0 ] || iop_fail "sipvoice answer --max-calls 1 exited '$IOP_EXIT' after the call (expected 0)"
}

# iop_wait_listening TRANSPORT PORT TIMEOUT: waits until something listens on 127.0.0.1:PORT (udp or
# tcp); sets IOP_WAITED. Returns 1 on timeout.
iop_wait_listening() {
  local flag start
  case "$1" in udp) flag=-Hlnu ;; tcp) flag=-Hlnt ;; *) iop_fail "iop_wait_listening: udp or tcp, not '$1'" ;; esac
  start=$(iop_now)
  until [ -n "$(ss "$flag" "( sport = :$2 )" 2>/dev/null)" ]; do
    if ! iop_le "$(iop_elapsed "$start")" "$3"; then
      IOP_WAITED=$(iop_elapsed "$start")
      return 1
    fi
    sleep 0.05
  done
  IOP_WAITED=$(iop_elapsed "$start")
}

# iop_udp_recvq PORT: bytes waiting in the receive queue of the UDP socket bound to PORT (0 if none).
# SIPp's uac_pcap never reads its media socket, so what our side sends there piles up in this queue.
iop_udp_recvq() {
  ss -Hanu "( sport = :$1 )" 2>/dev/null | awk '{ q += $2 } END { print q + 0 }'
}

# iop_sipvoice_command COMMAND: the CLI must know COMMAND (`sipvoice COMMAND --help` exits 0).
iop_sipvoice_command() {
  "$SIPVOICE" "$1" --help >/dev/null 2>&1 \
    || iop_fail "'$SIPVOICE $1 --help' failed: this sipvoice has no '$1' command"
}

# iop_field LINE KEY: the value of KEY=VALUE in LINE (a CLI event line), empty if absent.
iop_field() { sed -n -E "s/^(.* )?$2=([^ ]*).*$/\2/p" <<<"$1"; }

# iop_check_transferred OUT TARGET WHO: the output of a `sipvoice call` that was transferred (REFER)
# to TARGET: "transfer to=TARGET?Referred-By=..." (the REFER's Referred-By as a header of the target
# URI, RFC 3892, for the INVITE), two "connected" lines, the first call ended by WHO's BYE (reason
# remote hangup), RTP both ways in the call to the target. Sets IOP_TRANSFERRED to that call's
# "ended" line.
iop_check_transferred() {
  local out=$1 target=$2 who=$3 first
  grep -q "^transfer to=$target?Referred-By=%3Csip:[^ ]*%3E\$" "$out" ||
    iop_fail "no 'transfer to=$target?Referred-By=...' line: the REFER (and its Referred-By) did not reach the call: $(cat "$out")"
  [ "$(grep -c '^connected ' "$out")" -eq 2 ] || iop_fail "expected two 'connected' lines ($who, then the target): $(cat "$out")"
  first=$(grep -m1 '^ended ' "$out")
  [ "$(iop_field "$first" reason)" = "remote" ] || iop_fail "the first call did not end by $who's BYE: $first"
  IOP_TRANSFERRED=$(grep '^ended ' "$out" | sed -n 2p)
  [ "$(iop_field "$IOP_TRANSFERRED" rtp_in)" -gt 0 ] && [ "$(iop_field "$IOP_TRANSFERRED" rtp_out)" -gt 0 ] ||
    iop_fail "no two-way RTP in the call to the target: $IOP_TRANSFERRED"
}

# iop_cli_lines FILE REGEX: the lines of FILE matching REGEX, joined with " | " (for messages).
iop_cli_lines() { grep -E -- "$2" "$1" 2>/dev/null | paste -sd'|' | sed 's/|/ | /g' || true; }

# ----------------------------------------------------------------------------------------------- pcap
# iop_pcap_rtp FILE: one line per RTP packet of a classic little-endian pcap (Ethernet or Linux cooked
# capture, IPv4/UDP): t=<seconds from the first> sport dport pt m(arker) seq ts ssrc len (payload bytes),
# plus for 4-byte payloads of a dynamic payload type (RFC 4733 telephone-event): event end vol dur.
iop_pcap_rtp() {
  od -An -v -t u1 "$1" | LC_ALL=C awk '
    { for (i = 1; i <= NF; i++) b[n++] = $i }
    function u16(o) { return b[o] * 256 + b[o + 1] }
    function u32(o) { return ((b[o] * 256 + b[o + 1]) * 256 + b[o + 2]) * 256 + b[o + 3] }
    function le32(o) { return ((b[o + 3] * 256 + b[o + 2]) * 256 + b[o + 1]) * 256 + b[o] }
    END {
      if (!(b[0] == 212 && b[1] == 195 && b[2] == 178 && b[3] == 161)) { print "not a little-endian pcap" > "/dev/stderr"; exit 1 }
      link = le32(20); o = 24; t0 = -1
      while (o + 16 <= n) {
        sec = le32(o); usec = le32(o + 4); len = le32(o + 8); p = o + 16; o = p + len
        if (link == 1) { if (u16(p + 12) != 2048) continue; p += 14 }
        else if (link == 113) { if (u16(p + 14) != 2048) continue; p += 16 }
        else continue
        if (int(b[p] / 16) != 4 || b[p + 9] != 17) continue
        u = p + (b[p] % 16) * 4; r = u + 8; rlen = u16(u + 4) - 8
        if (rlen < 12 || int(b[r] / 64) != 2) continue
        t = sec + usec / 1e6; if (t0 < 0) t0 = t
        pt = b[r + 1] % 128; h = r + 12 + 4 * (b[r] % 16)
        line = sprintf("t=%.3f sport=%d dport=%d pt=%d m=%d seq=%d ts=%d ssrc=%08x len=%d", t - t0, u16(u), u16(u + 2),
                       pt, int(b[r + 1] / 128), u16(r + 2), u32(r + 4), u32(r + 8), rlen - (h - r))
        if (rlen - (h - r) == 4 && pt >= 96)
          line = line sprintf(" event=%d end=%d vol=%d dur=%d", b[h], int(b[h + 1] / 128), b[h + 1] % 64, u16(h + 2))
        print line
      }
    }'
}

# iop_pcap_dtmf FILES...: the DTMF digits (RFC 4733 events 0-15 as 0-9 * # A-D) in the pcap files, in
# order, one per event (an event is its timestamp; the repeated end packets count once).
iop_pcap_dtmf() {
  local f
  for f in "$@"; do iop_pcap_rtp "$f"; done | awk '
    / event=/ {
      for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      key = v["ssrc"] ":" v["ts"]
      if (!(key in seen)) { seen[key] = 1; printf "%s", substr("0123456789*#ABCD", v["event"] + 1, 1) }
    }
    END { print "" }'
}

# iop_pcap_g711 FILE PT: the audio of payload type PT (0: PCMU, 8: PCMA) in FILE, decoded to 16-bit
# samples, one per line (G.711 as in ITU-T G.711 / the tables of every softphone).
iop_pcap_g711() {
  local pt=$2
  od -An -v -t u1 "$1" | LC_ALL=C awk -v want="$pt" '
    function alaw(a,   t, seg) {
      a = xorx(a, 85); t = (a % 16) * 16; seg = int((a % 128) / 16)
      if (seg == 0) t += 8; else { t += 264; if (seg > 1) t *= 2 ^ (seg - 1) }
      return a >= 128 ? t : -t
    }
    function ulaw(u,   t) {
      u = 255 - u; t = ((u % 16) * 8 + 132) * 2 ^ int((u % 128) / 16)
      return u >= 128 ? 132 - t : t - 132
    }
    function xorx(x, y,   r, i, bx, by) { r = 0; for (i = 0; i < 8; i++) { bx = int(x / 2 ^ i) % 2; by = int(y / 2 ^ i) % 2; if (bx != by) r += 2 ^ i } return r }
    { for (i = 1; i <= NF; i++) b[n++] = $i }
    function u16(o) { return b[o] * 256 + b[o + 1] }
    function le32(o) { return ((b[o + 3] * 256 + b[o + 2]) * 256 + b[o + 1]) * 256 + b[o] }
    END {
      link = le32(20); o = 24
      while (o + 16 <= n) {
        len = le32(o + 8); p = o + 16; o = p + len
        if (link == 1) p += 14; else if (link == 113) p += 16; else continue
        u = p + (b[p] % 16) * 4; r = u + 8; end = u + u16(u + 4)
        if (b[r + 1] % 128 != want) continue
        for (j = r + 12 + 4 * (b[r] % 16); j < end; j++) print (want == 8 ? alaw(b[j]) : ulaw(b[j]))
      }
    }'
}

# ------------------------------------------------------------------------------------------------ WAV
# iop_wav_tone FILE RATE FREQ SECONDS [AMPLITUDE]: writes a mono 16-bit PCM WAV with a sine tone
# (amplitude 8000 by default), preceded and followed by nothing.
iop_wav_tone() {
  LC_ALL=C awk -v r="$2" -v f="$3" -v s="$4" -v a="${5:-8000}" '
    function le16(x) { x = int(x); if (x < 0) x += 65536; printf "%c%c", x % 256, int(x / 256) }
    function le32(x) { le16(x % 65536); le16(int(x / 65536)) }
    BEGIN {
      n = int(r * s); printf "RIFF"; le32(36 + 2 * n); printf "WAVEfmt "; le32(16); le16(1); le16(1)
      le32(r); le32(2 * r); le16(2); le16(16); printf "data"; le32(2 * n)
      for (i = 0; i < n; i++) le16(a * sin(2 * 3.141592653589793 * f * i / r))
    }' >"$1"
}

# iop_wav_info FILE: reads the WAV header; sets IOP_WAV_FORMAT (1: PCM), IOP_WAV_CHANNELS, IOP_WAV_RATE,
# IOP_WAV_BITS, IOP_WAV_OFFSET and IOP_WAV_BYTES (of the data chunk), IOP_WAV_SECONDS. Returns 1 if
# FILE is not a RIFF/WAVE file with fmt and data chunks.
iop_wav_info() {
  local out
  [ -s "$1" ] || return 1
  out=$(od -An -v -t u1 -N 4096 "$1" | awk -v size="$(stat -c %s "$1")" '
    { for (i = 1; i <= NF; i++) b[n++] = $i }
    function s4(o) { return sprintf("%c%c%c%c", b[o], b[o + 1], b[o + 2], b[o + 3]) }
    function le16(o) { return b[o + 1] * 256 + b[o] }
    function le32(o) { return le16(o + 2) * 65536 + le16(o) }
    END {
      if (s4(0) != "RIFF" || s4(8) != "WAVE") exit 1
      o = 12
      while (o + 8 <= n) {
        id = s4(o); len = le32(o + 4)
        if (id == "fmt ") { fmt = le16(o + 8); ch = le16(o + 10); rate = le32(o + 12); bits = le16(o + 22) }
        # a writer that has not closed its file yet leaves 0 (or 0xffffffff): the data runs to the end
        if (id == "data") { if (len == 0 || len > size - o - 8) len = size - o - 8; data = o + 8; break }
        o += 8 + len + len % 2
      }
      if (!rate || !data) exit 1
      printf "%d %d %d %d %d %d %.3f\n", fmt, ch, rate, bits, data, len, len / (rate * ch * bits / 8)
    }') || return 1
  read -r IOP_WAV_FORMAT IOP_WAV_CHANNELS IOP_WAV_RATE IOP_WAV_BITS IOP_WAV_OFFSET IOP_WAV_BYTES IOP_WAV_SECONDS <<<"$out"
}

# iop_wav_samples FILE: the samples of a 16-bit PCM WAV, one per line (the first channel).
iop_wav_samples() {
  iop_wav_info "$1" || { echo "iop_wav_samples: $1 is not a WAV file" >&2; return 1; }
  od -An -v -t d2 -w2 -j "$IOP_WAV_OFFSET" -N "$IOP_WAV_BYTES" "$1" \
    | awk -v ch="$IOP_WAV_CHANNELS" '(NR - 1) % ch == 0 { print $1 + 0 }'
}

# iop_tone_check RATE FREQ < SAMPLES: cuts the samples (one per line) into 20 ms blocks and prints
#   blocks=<n> active=<seconds of blocks with an RMS above 300> rms=<RMS of the active blocks>
#   tone=<share of the active blocks' energy at FREQ, 0..1 (Goertzel)> delay=<s to the first active block>
# A clean sine at FREQ gives tone=1.00 (FREQ a multiple of 50 Hz falls on a bin); speech or noise far less.
iop_tone_check() {
  awk -v rate="$1" -v f="$2" '
    BEGIN { N = int(rate / 50); w = 2 * cos(2 * 3.141592653589793 * f / rate); first = -1 }
    { x[k++] = $1 }
    k == N {
      s1 = s2 = 0; e = 0
      for (i = 0; i < N; i++) { s0 = x[i] + w * s1 - s2; s2 = s1; s1 = s0; e += x[i] * x[i] }
      p = s1 * s1 + s2 * s2 - w * s1 * s2; blocks++
      if (sqrt(e / N) > 300) { act++; tot += e; tone += 2 * p / N; if (first < 0) first = blocks - 1 }
      k = 0
    }
    END {
      printf "blocks=%d active=%.2f rms=%d tone=%.2f delay=%.2f\n", blocks, act * 0.02, (act ? sqrt(tot / (act * N)) : 0),
             (tot > 0 ? tone / tot : 0), (first < 0 ? -1 : first * 0.02)
    }'
}

# iop_envelope_corr RATE_A FILE_A RATE_B FILE_B: FILE_A and FILE_B hold samples, one per line. Compares
# their loudness envelopes (RMS of 20 ms blocks) over the lags of -2..+2 s and prints
#   corr=<best Pearson correlation> lag=<s by which B lags A> overlap=<s compared>
# Speech that went through G.711 and a jitter buffer keeps its envelope: corr stays above 0.9.
iop_envelope_corr() {
  awk -v ra="$1" -v rb="$3" '
    FNR == 1 { fi++; k = 0; e = 0 }
    { n = (fi == 1 ? int(ra / 50) : int(rb / 50)); e += $1 * $1; k++
      if (k == n) { v = sqrt(e / n); if (fi == 1) a[na++] = v; else b[nb++] = v; k = 0; e = 0 } }
    END {
      best = -2; bestlag = 0; bestn = 0
      for (lag = -100; lag <= 100; lag++) {
        sx = sy = sxx = syy = sxy = m = 0
        for (i = 0; i < na; i++) {
          j = i + lag; if (j < 0 || j >= nb) continue
          x = a[i]; y = b[j]; sx += x; sy += y; sxx += x * x; syy += y * y; sxy += x * y; m++
        }
        if (m < 50) continue
        vx = sxx - sx * sx / m; vy = syy - sy * sy / m
        if (vx <= 0 || vy <= 0) continue
        c = (sxy - sx * sy / m) / sqrt(vx * vy)
        if (c > best) { best = c; bestlag = lag; bestn = m }
      }
      printf "corr=%.3f lag=%.2f overlap=%.2f\n", best, bestlag * 0.02, bestn * 0.02
    }' "$2" "$4"
}

# ------------------------------------------------------------------------------------------- baresip
# baresip (Debian's baresip-core, 1.0) as a headless peer: no sound card, no UI. Its audio source is
# the ausine module (a sine tone at a chosen frequency; ausine makes 48 kHz stereo, resampled by
# baresip to the codec's rate), its player aubridge (a device nobody reads: a sink), and the sndfile
# filter writes what it sends and what it hears to WAV files (dump-<time>-enc.wav / -dec.wav). Its
# codecs: g711, opus and g722, loaded in that order, which is the order of its offers (PCMU first).
IOP_BARESIP=${IOP_BARESIP:-$(command -v baresip || echo /usr/bin/baresip)}
IOP_BARESIP_MODULES=${IOP_BARESIP_MODULES:-/usr/lib/baresip/modules}

# iop_require_baresip: baresip and the modules the tests load must be installed.
iop_require_baresip() {
  local m
  command -v "$IOP_BARESIP" >/dev/null 2>&1 \
    || iop_fail "baresip not found (Debian package baresip-core; tools/setup.sh installs it)"
  for m in g711 g722 opus ausine aubridge sndfile account menu; do
    [ -f "$IOP_BARESIP_MODULES/$m.so" ] || iop_fail "baresip module $m.so not in $IOP_BARESIP_MODULES (package baresip-core)"
  done
}

# iop_start_baresip NAME PORT FREQ ACCOUNT [BARESIP ARGS...]: writes the configuration directory
# $IOP_DIR/NAME (config, accounts with the one line ACCOUNT, e.g.
# "<sip:1001@127.0.0.1:5060;transport=udp>;auth_pass=...;answermode=auto") and starts baresip with it
# (pid in IOP_BARESIP_PID, logs NAME.out/.err; -v: verbose, -s: SIP trace), listening on
# 127.0.0.1:PORT (UDP and TCP) on the loopback interface, sending a FREQ Hz tone in every call.
# The WAV files of its calls land in $IOP_DIR/NAME. Waits until it listens.
iop_start_baresip() {
  local name=$1 port=$2 freq=$3 account=$4 dir
  shift 4
  dir=$IOP_DIR/$name
  mkdir -p "$dir"
  cat >"$dir/config" <<CFG
# written by tests/interop/lib.sh (iop_start_baresip)
poll_method		epoll
net_interface		127.0.0.1
sip_listen		127.0.0.1:$port
call_max_calls		4
audio_player		aubridge,sink
audio_alert		aubridge,sink
audio_source		ausine,$freq
ausrc_srate		48000
ausrc_channels		2
rtp_stats		yes
module_path		$IOP_BARESIP_MODULES
module			g711.so
module			opus.so
module			g722.so
module			ausine.so
module			aubridge.so
module			sndfile.so
module_tmp		account.so
module_app		menu.so
snd_path		$dir
CFG
  printf '%s\n' "$account" >"$dir/accounts"
  : >"$dir/contacts"
  iop_spawn IOP_BARESIP_PID "$name" "$IOP_BARESIP" -f "$dir" -v -s "$@"
  iop_wait_listening udp "$port" 10 || iop_fail "baresip does not listen on udp:127.0.0.1:$port after 10 s (see $name.out)"
  iop_log "baresip $name listening on 127.0.0.1:$port (udp, tcp), tone $freq Hz"
}

# iop_baresip_wav NAME enc|dec: the newest WAV file baresip NAME wrote for what it sent (enc) or heard
# (dec); empty if none.
iop_baresip_wav() {
  ls -t "$IOP_DIR/$1"/dump-*-"$2".wav 2>/dev/null | head -n1 || true
}

# iop_audio_check FILE FREQ: iop_tone_check of a 16-bit WAV file at its own rate (first channel); fails
# if FILE is not such a WAV file. Sets IOP_AUDIO (the check's line) and prints nothing.
iop_audio_check() {
  iop_wav_info "$1" || iop_fail "$1 is missing or not a WAV file"
  [ "$IOP_WAV_FORMAT/$IOP_WAV_BITS" = 1/16 ] || iop_fail "$1: not 16-bit PCM (format $IOP_WAV_FORMAT, $IOP_WAV_BITS bits)"
  IOP_AUDIO="rate=$IOP_WAV_RATE channels=$IOP_WAV_CHANNELS seconds=$IOP_WAV_SECONDS $(iop_wav_samples "$1" | iop_tone_check "$IOP_WAV_RATE" "$2")"
}

# iop_expect_tone WAV FREQ WHAT: iop_audio_check, logged as "WHAT: ...", and fails unless WAV holds at
# least 1 s of sound with at least 80% of its energy at FREQ (a tone sent across a call and heard).
# Sets IOP_AUDIO.
iop_expect_tone() {
  iop_audio_check "$1" "$2"
  iop_log "$3: $IOP_AUDIO"
  iop_le 1 "$(iop_field "$IOP_AUDIO" active)" && iop_le 0.8 "$(iop_field "$IOP_AUDIO" tone)" \
    || iop_fail "$3: not at least 1 s of sound with >= 80% of its energy at $2 Hz: $IOP_AUDIO"
}

# iop_start_dnsmasq PORT ARGS...: dnsmasq (Debian package dnsmasq-base) as the name server on
# 127.0.0.1:PORT/udp, answering only from ARGS (--local=, --host-record=, --srv-host=...): no
# resolv.conf, no hosts file. Its query log is $IOP_DIR/dnsmasq.err; its pid IOP_DNSMASQ_PID.
iop_start_dnsmasq() {
  local port=$1
  shift
  command -v dnsmasq >/dev/null 2>&1 || iop_fail "dnsmasq not found (Debian package dnsmasq-base; tools/setup.sh installs it)"
  iop_spawn IOP_DNSMASQ_PID dnsmasq dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
    --listen-address=127.0.0.1 --bind-interfaces --port="$port" --pid-file= --log-queries --log-facility=- "$@"
  iop_wait_listening udp "$port" 5 || iop_fail "dnsmasq is not listening on UDP $port: $(tail -n3 "$IOP_DIR/dnsmasq.err")"
}
