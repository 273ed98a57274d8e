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
