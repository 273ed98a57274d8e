# shellcheck shell=bash
# A minimal SIP user agent in bash over one TCP or TLS connection, to prove the Kamailio set-up where
# the packaged tools cannot: Debian's SIPp is built without TLS, and sipsak 0.9.8's TLS mode sends but
# never reads the reply. TLS goes through `openssl s_client` with certificate verification on
# (-verify_return_error, our test CA, the server's IP checked against its certificate), so this is
# also what a verifying client sees. Digest (MD5, qop=auth or none) is computed with md5sum.
# Source after lib.sh. Functions:
#   rawsip_open tcp|tls PORT          connects (from a free local port, RAW_LPORT)
#   rawsip_register USER AUTHUSER PASSWORD EXPIRES CSEQ
#                                     REGISTER, answers one 401/407; RAW_STATUS = final status
#   rawsip_answer_options TIMEOUT     reads one request; answers an OPTIONS with 200
#   rawsip_close
# RAW_LOG ($IOP_DIR/rawsip.log) has every message sent and received.

RAW_TRANSPORT=""
RAW_IN=""
RAW_OUT=""
RAW_PID=""
RAW_LPORT=""
RAW_PORT=""
RAW_CALLID=""
RAW_TAG=""
RAW_NC=0

rawsip_open() {
  RAW_TRANSPORT=$1
  RAW_PORT=$2
  RAW_LOG=$IOP_DIR/rawsip.log
  iop_pick_port RAW_LPORT
  RAW_CALLID="rawsip-$RANDOM$RANDOM@127.0.0.1"
  RAW_TAG="raw$RANDOM"
  case "$RAW_TRANSPORT" in
    tls)
      # stdin/stdout of s_client are the TLS stream; -quiet: no session chatter on stdout.
      coproc RAWSIP_TLS {
        exec openssl s_client -connect "127.0.0.1:$RAW_PORT" -bind "127.0.0.1:$RAW_LPORT" \
          -CAfile "$IOP_CA" -verify_return_error -verify_ip 127.0.0.1 -quiet 2>>"$IOP_DIR/rawsip-openssl.err"
      }
      RAW_PID=$RAWSIP_TLS_PID
      IOP_PIDS+=("$RAW_PID")
      RAW_IN=${RAWSIP_TLS[0]}
      RAW_OUT=${RAWSIP_TLS[1]}
      ;;
    tcp)
      # bash's /dev/tcp cannot choose its local port: take the one the kernel gave
      exec {RAW_IN}<>"/dev/tcp/127.0.0.1/$RAW_PORT"
      RAW_OUT=$RAW_IN
      RAW_LPORT=$(ss -Htn state established "( dport = :$RAW_PORT )" | awk '{print $3}' | sed 's/.*://' | tail -n1)
      ;;
    *) iop_fail "rawsip_open: transport tcp or tls, not '$RAW_TRANSPORT'" ;;
  esac
  iop_log "rawsip: $RAW_TRANSPORT connection 127.0.0.1:$RAW_LPORT -> 127.0.0.1:$RAW_PORT"
}

rawsip_close() {
  if [ "$RAW_TRANSPORT" = tcp ]; then
    exec {RAW_IN}>&- || true
  elif [ -n "$RAW_PID" ]; then
    kill -TERM "$RAW_PID" 2>/dev/null || true
    wait "$RAW_PID" 2>/dev/null || true
    iop_forget "$RAW_PID"
  fi
  RAW_PID=""
}

# rawsip_send LINES...: one message, each argument a line; CRLF endings, empty line at the end.
rawsip_send() {
  local msg="" l
  for l in "$@"; do msg+="$l"$'\r\n'; done
  msg+=$'\r\n'
  printf '%s' "$msg" >&"$RAW_OUT"
  { echo "----- sent $(date +%T.%N)"; printf '%s' "$msg" | tr -d '\r'; } >>"$RAW_LOG"
}

# rawsip_read TIMEOUT: reads one message; sets RAW_START (start line), RAW_HEADERS (one header per
# line, no CR) and RAW_BODY. Returns 1 on timeout or EOF.
rawsip_read() {
  local timeout=$1 line len body
  RAW_START="" RAW_HEADERS="" RAW_BODY=""
  while :; do   # skip CRLF keep-alives
    IFS= read -r -t "$timeout" -u "$RAW_IN" line || return 1
    line=${line%$'\r'}
    [ -n "$line" ] && break
  done
  RAW_START=$line
  while IFS= read -r -t "$timeout" -u "$RAW_IN" line; do
    line=${line%$'\r'}
    [ -z "$line" ] && break
    RAW_HEADERS+="$line"$'\n'
  done
  len=$(rawsip_header Content-Length l)
  if [ -n "$len" ] && [ "$len" -gt 0 ]; then
    IFS= read -r -t "$timeout" -N "$len" -u "$RAW_IN" body || return 1
    RAW_BODY=$body
  fi
  { echo "----- received $(date +%T.%N)"; echo "$RAW_START"; printf '%s' "$RAW_HEADERS"; printf '%s\n' "$RAW_BODY"; } >>"$RAW_LOG"
}

# rawsip_header NAME [COMPACT]: value of the first header NAME (or its compact form) of the last message
rawsip_header() {
  local name=$1 compact=${2:-}
  printf '%s' "$RAW_HEADERS" | awk -v n="$name" -v c="$compact" '
    { i = index($0, ":"); if (i == 0) next
      h = tolower($0); sub(/[ \t]*:.*/, "", h)
      if (h == tolower(n) || (c != "" && h == tolower(c))) { v = substr($0, i + 1); sub(/^[ \t]+/, "", v); print v; exit } }'
}

# rawsip_param VALUE NAME: a (possibly quoted) parameter of a challenge
rawsip_param() {
  printf '%s' "$1" | sed -n -E "s/.*[ ,]$2=(\"([^\"]*)\"|([^ ,]*)).*/\2\3/p"
}

md5hex() { printf '%s' "$1" | md5sum | cut -d' ' -f1; }

# rawsip_credentials CHALLENGE AUTHUSER PASSWORD METHOD URI: the Authorization value for a challenge
rawsip_credentials() {
  local ch=$1 user=$2 pw=$3 method=$4 uri=$5 realm nonce qop opaque ha1 ha2 resp cnonce nc
  realm=$(rawsip_param "$ch" realm)
  nonce=$(rawsip_param "$ch" nonce)
  qop=$(rawsip_param "$ch" qop)
  opaque=$(rawsip_param "$ch" opaque)
  ha1=$(md5hex "$user:$realm:$pw")
  ha2=$(md5hex "$method:$uri")
  local out="Digest username=\"$user\", realm=\"$realm\", nonce=\"$nonce\", uri=\"$uri\", algorithm=MD5"
  if [[ ",$qop," == *,auth,* ]]; then
    RAW_NC=$((RAW_NC + 1))
    nc=$(printf '%08x' "$RAW_NC")
    cnonce=$(md5hex "$RANDOM$RANDOM" | cut -c1-16)
    resp=$(md5hex "$ha1:$nonce:$nc:$cnonce:auth:$ha2")
    out+=", qop=auth, nc=$nc, cnonce=\"$cnonce\", response=\"$resp\""
  else
    resp=$(md5hex "$ha1:$nonce:$ha2")
    out+=", response=\"$resp\""
  fi
  [ -n "$opaque" ] && out+=", opaque=\"$opaque\""
  printf '%s' "$out"
}

# rawsip_register_once USER AUTHUSER EXPIRES CSEQ [AUTH-HEADER-LINE]: sends one REGISTER, reads its
# final response into RAW_*; RAW_STATUS = status code.
rawsip_register_once() {
  local user=$1 expires=$3 cseq=$4 authline=${5:-} proto
  proto=$(tr '[:lower:]' '[:upper:]' <<<"$RAW_TRANSPORT")
  local lines=(
    "REGISTER sip:127.0.0.1:$RAW_PORT;transport=$RAW_TRANSPORT SIP/2.0"
    "Via: SIP/2.0/$proto 127.0.0.1:$RAW_LPORT;branch=z9hG4bK-raw-$cseq-$RANDOM;rport"
    "Max-Forwards: 70"
    "From: <sip:$user@127.0.0.1>;tag=$RAW_TAG"
    "To: <sip:$user@127.0.0.1>"
    "Call-ID: $RAW_CALLID"
    "CSeq: $cseq REGISTER"
    "Contact: <sip:$user@127.0.0.1:$RAW_LPORT;transport=$RAW_TRANSPORT>"
    "Expires: $expires"
    "User-Agent: rawsip-interop"
  )
  [ -n "$authline" ] && lines+=("$authline")
  lines+=("Content-Length: 0")
  rawsip_send "${lines[@]}"
  RAW_STATUS=""
  while rawsip_read 5; do
    RAW_STATUS=$(awk '{print $2}' <<<"$RAW_START")
    [ "${RAW_STATUS:0:1}" = 1 ] && continue
    return 0
  done
  RAW_STATUS=timeout
}

# rawsip_register USER AUTHUSER PASSWORD EXPIRES CSEQ: REGISTER, answering one challenge (no retry
# after a second one). RAW_STATUS: the final status; RAW_CHALLENGES: the challenges seen (401/407).
rawsip_register() {
  local user=$1 auser=$2 pw=$3 expires=$4 cseq=$5 ch hdr
  RAW_CHALLENGES=""
  rawsip_register_once "$user" "$auser" "$expires" "$cseq"
  case "$RAW_STATUS" in
    401) ch=$(rawsip_header WWW-Authenticate); hdr=Authorization ;;
    407) ch=$(rawsip_header Proxy-Authenticate); hdr=Proxy-Authorization ;;
    *) return 0 ;;
  esac
  RAW_CHALLENGES+="$RAW_STATUS "
  rawsip_register_once "$user" "$auser" "$expires" "$((cseq + 1))" \
    "$hdr: $(rawsip_credentials "$ch" "$auser" "$pw" REGISTER "sip:127.0.0.1:$RAW_PORT;transport=$RAW_TRANSPORT")"
  case "$RAW_STATUS" in 401|407) RAW_CHALLENGES+="$RAW_STATUS " ;; esac
  return 0
}

# rawsip_answer_options TIMEOUT: waits for a request; answers OPTIONS with 200. RAW_METHOD is the
# request's method (empty on timeout).
rawsip_answer_options() {
  RAW_METHOD=""
  rawsip_read "$1" || return 1
  RAW_METHOD=$(awk '{print $1}' <<<"$RAW_START")
  [ "$RAW_METHOD" = OPTIONS ] || return 0
  local lines=("SIP/2.0 200 OK") l
  while IFS= read -r l; do
    case "${l,,}" in
      via:*|v:*|from:*|f:*|call-id:*|i:*|cseq:*) lines+=("$l") ;;
      to:*|t:*) if [[ "${l,,}" == *";tag="* ]]; then lines+=("$l"); else lines+=("$l;tag=raw-options"); fi ;;
    esac
  done <<<"$RAW_HEADERS"
  lines+=("Allow: INVITE, ACK, CANCEL, BYE, OPTIONS" "Accept: application/sdp" "Supported: path" "Content-Length: 0")
  rawsip_send "${lines[@]}"
}
