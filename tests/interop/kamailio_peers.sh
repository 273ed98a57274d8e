#!/usr/bin/env bash
# Proves the interop harness itself, without our code: the Kamailio that lib.sh writes and starts is a
# registrar that challenges with MODE (401 or 407), authenticates 1001 and 1002 (auth user auth1002)
# without a database, refuses a wrong password, routes a request to a registered user over the flow
# it registered from, answers OPTIONS itself, and shows its bindings through kamcmd. Peers:
#   sipsak  REGISTER (usrloc mode) over UDP and TCP, wrong password, wrong auth user, OPTIONS
#   SIPp    register + answer an OPTIONS routed through Kamailio + unregister, over UDP and TCP
#   rawsip  (bash + openssl s_client, verification on) the same over TLS, since Debian's SIPp has no
#           TLS and sipsak's TLS mode does not read replies
#   openssl s_client: the certificate chain verifies with the test CA, and fails without it.
# Usage: kamailio_peers.sh 401|407
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/rawsip.sh"

mode=${1:?usage: kamailio_peers.sh 401|407}
iop_init "kamailio-peers-$mode"
command -v sipp >/dev/null || iop_fail "sipp not found (Debian package sip-tester; tools/setup.sh installs it)"
iop_start_kamailio "$mode"
log=$IOP_DIR/kamailio.log
if [ "$mode" = 401 ]; then hdr=WWW-Authenticate; else hdr=Proxy-Authenticate; fi

# check_binding USER TRANSPORT: USER has a binding, registered over TRANSPORT
check_binding() {
  wait_for_binding "$1" 3 || iop_fail "no binding of $1 in Kamailio after a successful REGISTER over $2"
  local sockets
  sockets=$(iop_binding_field "$1" Socket | tr '\n' ' ')
  [[ " $sockets" == *" $2:127.0.0.1:"* ]] || iop_fail "binding of $1 not on a $2 socket: $sockets"
  iop_log "binding of $1 over $2: $(iop_binding_field "$1" Address | tr '\n' ' ')(socket $sockets)"
}
clear_bindings() { iop_kamcmd ul.rm location s:1001 >/dev/null 2>&1 || true; iop_kamcmd ul.rm location s:1002 >/dev/null 2>&1 || true; }

# ---- OPTIONS to Kamailio itself
for t in udp tcp; do
  iop_run 10 "sipsak-options-$t" sipsak -vv -E "$t" -s "sip:127.0.0.1:$(iop_port_of "$t")"
  [ "$IOP_RC" -eq 0 ] && grep -q 'SIP/2.0 200' "$IOP_DIR/sipsak-options-$t.out" \
    || iop_fail "sipsak OPTIONS to Kamailio over $t: exit $IOP_RC, no 200"
  grep -qi '^Server: kamailio-interop' "$IOP_DIR/sipsak-options-$t.out" || iop_fail "the 200 to OPTIONS is not Kamailio's"
done
iop_log "OPTIONS to Kamailio over udp and tcp: 200"

# ---- sipsak REGISTER with digest, UDP and TCP: 1001, then 1002 authenticated as auth1002
for t in udp tcp; do
  p=$(iop_port_of "$t")
  n0=$(iop_lines "$log")
  iop_run 10 "sipsak-register-1001-$t" sipsak -U -E "$t" -s "sip:1001@127.0.0.1:$p" -a secret1001 -x 30 -vv
  [ "$IOP_RC" -eq 0 ] || iop_fail "sipsak REGISTER 1001 over $t failed (exit $IOP_RC)"
  [ "$(iop_count "$log" "CHALLENGE $mode rc=-5 aor=1001" "$n0")" -ge 1 ] || iop_fail "Kamailio did not challenge with $mode"
  check_binding 1001 "$t"
  iop_run 10 "sipsak-register-1002-$t" sipsak -U -E "$t" -s "sip:1002@127.0.0.1:$p" -u auth1002 -a secret1002 -x 30 -vv
  [ "$IOP_RC" -eq 0 ] || iop_fail "sipsak REGISTER 1002 (auth user auth1002) over $t failed (exit $IOP_RC)"
  check_binding 1002 "$t"
  [ "$(iop_count "$log" "SAVED proto=$t aor=1002 auth=auth1002" "$n0")" -ge 1 ] || iop_fail "no SAVED line for 1002/auth1002"
  clear_bindings
done
iop_log "sipsak REGISTER with $mode digest over udp and tcp: 1001, and 1002 as auth1002, bound"

# ---- refusals: wrong password; a right password of another auth user (auth1002 must not register 1001)
n0=$(iop_lines "$log")
iop_run 15 sipsak-wrong-password sipsak -U -E udp -s "sip:1001@127.0.0.1:$IOP_UDP_PORT" -a not-the-password -x 30 -vv
[ "$IOP_RC" -ne 0 ] || iop_fail "sipsak REGISTER with a wrong password succeeded"
has_binding 1001 && iop_fail "a binding exists after a wrong password"
[ "$(iop_count "$log" "CHALLENGE $mode rc=-2 aor=1001" "$n0")" -ge 1 ] \
  || iop_fail "Kamailio did not answer the wrong password with a new $mode challenge (rc=-2)"
iop_log "wrong password: refused with a new $mode challenge (sipsak exit $IOP_RC); Kamailio saw $(iop_count "$log" 'REGISTER proto=udp' "$n0") REGISTERs"
iop_run 15 sipsak-foreign-user sipsak -U -E udp -s "sip:1001@127.0.0.1:$IOP_UDP_PORT" -u auth1002 -a secret1002 -x 30 -vv
[ "$IOP_RC" -ne 0 ] || iop_fail "auth1002 could register 1001"
cat "$IOP_DIR"/sipsak-foreign-user.out "$IOP_DIR"/sipsak-foreign-user.err | grep -q "SIP/2.0 403" || iop_fail "auth1002 registering 1001: no 403"
has_binding 1001 && iop_fail "a binding of 1001 exists after auth1002 tried to register it"
iop_log "auth1002 registering 1001: 403"

# ---- SIPp over UDP and TCP: register, answer an OPTIONS routed by Kamailio over its flow, unregister
if [ "$mode" = 401 ]; then user=1001 auser=1001 pw=secret1001; else user=1002 auser=auth1002 pw=secret1002; fi
for t in udp tcp; do
  clear_bindings
  iop_pick_port lp
  case $t in udp) st=u1 ;; tcp) st=t1 ;; esac
  iop_spawn sipp_pid "sipp-$t" sipp -sf "$IOP_SRC_DIR/sipp/register_answer.xml" -t "$st" -i 127.0.0.1 -p "$lp" \
    "127.0.0.1:$(iop_port_of "$t")" -m 1 -s "$user" -au "$auser" -ap "$pw" -set expires 30 -cid_str 'iop-sipp-%u' \
    -timeout 20s -nostdin -trace_msg -message_file "$IOP_DIR/sipp-$t-messages.log" \
    -trace_err -error_file "$IOP_DIR/sipp-$t-errors.log"
  check_binding "$user" "$t"
  # An OPTIONS inside SIPp's call (SIPp ignores requests of unknown calls), sent to Kamailio over UDP.
  printf 'OPTIONS sip:%s@127.0.0.1:%s SIP/2.0\nFrom: <sip:sipsak@127.0.0.1>;tag=iop1\nTo: <sip:%s@127.0.0.1>\nCall-ID: iop-sipp-1\nCSeq: 1 OPTIONS\nMax-Forwards: 70\nContent-Length: 0\n\n' \
    "$user" "$IOP_UDP_PORT" "$user" >"$IOP_DIR/options-$t.sip"
  iop_run 10 "sipsak-routed-options-$t" sipsak -vv -f "$IOP_DIR/options-$t.sip" -s "sip:$user@127.0.0.1:$IOP_UDP_PORT"
  [ "$IOP_RC" -eq 0 ] && grep -q 'SIP/2.0 200' "$IOP_DIR/sipsak-routed-options-$t.out" \
    || iop_fail "OPTIONS routed through Kamailio to SIPp over $t: no 200 (exit $IOP_RC)"
  grep -q 'Allow: INVITE' "$IOP_DIR/sipsak-routed-options-$t.out" || iop_fail "the routed 200 is not SIPp's"
  iop_wait_exit "$sipp_pid" 10
  [ "$IOP_EXIT" = 0 ] || iop_fail "SIPp over $t: exit $IOP_EXIT (see sipp-$t-errors.log)"
  wait_for_no_binding "$user" 3 || iop_fail "binding of $user still there after SIPp's un-REGISTER over $t"
  iop_log "SIPp over $t: registered $user (auth user $auser), answered the routed OPTIONS, unregistered"
done

# ---- TLS: the certificate verifies with the test CA and the IP SAN, and fails without the CA
iop_run 10 tls-verify-ok openssl s_client -connect "127.0.0.1:$IOP_TLS_PORT" -CAfile "$IOP_CA" \
  -verify_return_error -verify_ip 127.0.0.1 -brief
grep -q 'Verification: OK' "$IOP_DIR/tls-verify-ok.err" || iop_fail "TLS: Kamailio's certificate does not verify with the test CA"
iop_run 10 tls-verify-name openssl s_client -connect "127.0.0.1:$IOP_TLS_PORT" -CAfile "$IOP_CA" \
  -verify_return_error -verify_hostname localhost -servername localhost -brief
grep -q 'Verification: OK' "$IOP_DIR/tls-verify-name.err" || iop_fail "TLS: the certificate does not verify for the name localhost"
iop_run 10 tls-verify-no-ca openssl s_client -connect "127.0.0.1:$IOP_TLS_PORT" -verify_return_error -brief
[ "$IOP_RC" -ne 0 ] || iop_fail "TLS: the handshake succeeded without the test CA"
grep -qi 'self-signed certificate in certificate chain\|unable to get local issuer' "$IOP_DIR/tls-verify-no-ca.err" \
  || iop_fail "TLS without the CA: unexpected error: $(head -3 "$IOP_DIR/tls-verify-no-ca.err")"
iop_log "TLS: verifies with the CA (IP 127.0.0.1 and name localhost); without it: $(grep -i -m1 'verify error' "$IOP_DIR/tls-verify-no-ca.err")"

# ---- TLS register, routed OPTIONS, unregister, wrong password (rawsip through openssl s_client)
clear_bindings
rawsip_open tls "$IOP_TLS_PORT"
rawsip_register "$user" "$auser" "$pw" 30 1
[ "$RAW_STATUS" = 200 ] || iop_fail "TLS REGISTER $user: status $RAW_STATUS (see rawsip.log)"
[ "$RAW_CHALLENGES" = "$mode " ] || iop_fail "TLS REGISTER: challenges '$RAW_CHALLENGES', expected one $mode"
grep -q "^$hdr: Digest" "$RAW_LOG" || iop_fail "no $hdr header in the challenge"
check_binding "$user" tls
iop_run 10 sipsak-routed-options-tls sipsak -vv -s "sip:$user@127.0.0.1:$IOP_UDP_PORT" &
sipsak_pid=$!
rawsip_answer_options 8 || iop_fail "no request routed to the TLS binding"
[ "$RAW_METHOD" = OPTIONS ] || iop_fail "routed request is $RAW_METHOD, not OPTIONS"
wait "$sipsak_pid" || true
grep -q 'SIP/2.0 200' "$IOP_DIR/sipsak-routed-options-tls.out" || iop_fail "sipsak did not get the 200 routed back from the TLS binding"
rawsip_register "$user" "$auser" "$pw" 0 10
[ "$RAW_STATUS" = 200 ] || iop_fail "TLS un-REGISTER: status $RAW_STATUS"
wait_for_no_binding "$user" 3 || iop_fail "binding still there after the TLS un-REGISTER"
n0=$(iop_lines "$log")
rawsip_register "$user" "$auser" wrong-password 30 20
[ "$RAW_STATUS" = "$mode" ] && [ "$RAW_CHALLENGES" = "$mode $mode " ] \
  || iop_fail "TLS wrong password: status $RAW_STATUS, challenges '$RAW_CHALLENGES'"
[ "$(iop_count "$log" "CHALLENGE $mode rc=-2" "$n0")" -eq 1 ] || iop_fail "TLS wrong password: no rc=-2 challenge in Kamailio's log"
rawsip_close
iop_log "TLS (verified): registered $user, answered the routed OPTIONS, unregistered; wrong password re-challenged"

# ---- Kamailio answers a REGISTER over TCP/TLS on the connection and puts received/rport in the Via
grep -q 'rport=[0-9]*;received=127.0.0.1' "$RAW_LOG" || iop_fail "no rport/received in the Via of Kamailio's responses"
iop_pass
