#!/usr/bin/env bash
# DNS SRV (RFC 3263 §4.2, RFC 2782) against a real name server: dnsmasq on 127.0.0.1 serves the
# domain pbx.test, which has SRV records for SIP over TCP only (priority 10: Kamailio's TCP port;
# priority 20: a port where nothing listens) and an A record for the target; _sip._udp.pbx.test and
# pbx.test itself have none (NXDOMAIN: dnsmasq answers for the domain alone, --local).
#  1. `sipvoice options sip:pbx.test` asks for _sip._udp, then _sip._tcp, takes the priority 10
#     record, looks its target's address up, and reaches Kamailio over TCP: 200, exit 0.
#  2. `sipvoice register --registrar sip:pbx.test` registers over TCP the same way (the binding's
#     REGISTER came over TCP), and un-registers on SIGTERM.
#  3. With --no-srv the URI's host is looked up as it is: pbx.test has no address, exit 1.
#  4. NAPTR (RFC 3263 §4.1): naptr.test has SRV records for UDP and TCP (both to Kamailio) and NAPTR
#     records that prefer SIP+D2T (order 10) to SIP+D2U (order 20), after an SCTP service we do not
#     speak (order 5). `sipvoice options sip:naptr.test` asks for the NAPTR records, passes over the
#     SCTP one, asks _sip._tcp.naptr.test and never _sip._udp, and gets its 200 over TCP (without
#     NAPTR it would have taken UDP, the first transport with records).
# Usage: cli_srv.sh SIPVOICE
set -euo pipefail
source "$(dirname "$0")/lib.sh"
iop_sipvoice_check "${1:-}"
iop_init "cli-srv"
iop_start_kamailio 401
log=$IOP_DIR/kamailio.log

iop_pick_port dns
iop_pick_port dead
iop_start_dnsmasq "$dns" --local=/pbx.test/ --local=/naptr.test/ --host-record=kam.pbx.test,127.0.0.1 \
  --srv-host="_sip._tcp.pbx.test,kam.pbx.test,$IOP_TCP_PORT,10,100" \
  --srv-host="_sip._tcp.pbx.test,kam.pbx.test,$dead,20,100" \
  --naptr-record="naptr.test,5,10,s,SIP+D2S,,_sip._sctp.naptr.test" \
  --naptr-record="naptr.test,20,50,s,SIP+D2U,,_sip._udp.naptr.test" \
  --naptr-record="naptr.test,10,50,s,SIP+D2T,,_sip._tcp.naptr.test" \
  --srv-host="_sip._udp.naptr.test,kam.pbx.test,$IOP_UDP_PORT,10,100" \
  --srv-host="_sip._tcp.naptr.test,kam.pbx.test,$IOP_TCP_PORT,10,100"
queries=$IOP_DIR/dnsmasq.err

# ---- 1. OPTIONS to the domain
iop_run 15 options "$SIPVOICE" options "sip:pbx.test" --dns-server "127.0.0.1:$dns" --timeout 5 -v
iop_show "$IOP_DIR/options.out" 6
iop_show "$IOP_DIR/options.err" 8
[ "$IOP_RC" -eq 0 ] || iop_fail "sipvoice options sip:pbx.test exited $IOP_RC"
head -n1 "$IOP_DIR/options.out" | grep -q '^SIP/2.0 200' || iop_fail "first line is not 'SIP/2.0 200 ...': $(head -n1 "$IOP_DIR/options.out")"
grep -qi '^Via: SIP/2.0/TCP' "$IOP_DIR/options.out" || iop_fail "the OPTIONS did not go over TCP (Via of the response: $(grep -i '^Via' "$IOP_DIR/options.out" | head -n1))"
[ "$(iop_count "$log" "OPTIONS-SELF proto=tcp")" -ge 1 ] || iop_fail "Kamailio did not get the OPTIONS over TCP"
for name in _sip._udp.pbx.test _sip._tcp.pbx.test kam.pbx.test; do
  grep -q "query\[[A-Z]*\] $name from 127.0.0.1" "$queries" || iop_fail "dnsmasq was not asked for $name: $(grep 'query\[' "$queries" | tr '\n' ' ')"
done
grep -q "SRV _sip._tcp.pbx.test -> kam.pbx.test:$IOP_TCP_PORT" "$IOP_DIR/options.err" \
  || iop_fail "the CLI did not take the priority 10 record (port $IOP_TCP_PORT): $(grep SRV "$IOP_DIR/options.err" | tr '\n' ' ')"
iop_log "OPTIONS: _sip._udp (none), _sip._tcp -> kam.pbx.test:$IOP_TCP_PORT, 200 over TCP ($IOP_WAITED s)"

# ---- 2. REGISTER to the domain
iop_spawn cli cli "$SIPVOICE" register --registrar "sip:pbx.test" --user 1001 --password secret1001 --expires 30 \
  --dns-server "127.0.0.1:$dns"
wait_for_line "$IOP_DIR/cli.out" '^registered' 10 || iop_fail "no 'registered' line within 10 s: $(tail -n3 "$IOP_DIR/cli.err")"
wait_for_binding 1001 3 || iop_fail "no binding of 1001"
[ "$(iop_count "$log" "SAVED proto=tcp aor=1001 ")" -ge 1 ] || iop_fail "the REGISTER that made the binding did not come over TCP: $(grep -o 'SAVED proto=[a-z]* aor=1001' "$log" | tail -n1)"
kill -TERM "$cli"
iop_wait_exit "$cli" 5
[ "$IOP_EXIT" = 0 ] || iop_fail "after SIGTERM the CLI exited with '$IOP_EXIT'"
wait_for_no_binding 1001 3 || iop_fail "the binding of 1001 is still there after the un-REGISTER"
iop_log "REGISTER: over TCP by the SRV record, un-registered on SIGTERM"

# ---- 3. --no-srv: the host as it is
iop_run 15 options-nosrv "$SIPVOICE" options "sip:pbx.test" --dns-server "127.0.0.1:$dns" --no-srv --timeout 3
[ "$IOP_RC" -eq 1 ] || iop_fail "with --no-srv, sipvoice options sip:pbx.test exited $IOP_RC (expected 1: pbx.test has no address)"
grep -q "cannot resolve pbx.test" "$IOP_DIR/options-nosrv.err" || iop_fail "no 'cannot resolve pbx.test': $(tail -n2 "$IOP_DIR/options-nosrv.err")"

# ---- 4. NAPTR: the domain prefers TCP
tcp_before=$(iop_count "$log" "OPTIONS-SELF proto=tcp")
iop_run 15 options-naptr "$SIPVOICE" options "sip:naptr.test" --dns-server "127.0.0.1:$dns" --timeout 5 -v
iop_show "$IOP_DIR/options-naptr.err" 8
[ "$IOP_RC" -eq 0 ] || iop_fail "sipvoice options sip:naptr.test exited $IOP_RC"
head -n1 "$IOP_DIR/options-naptr.out" | grep -q '^SIP/2.0 200' || iop_fail "first line is not 'SIP/2.0 200 ...': $(head -n1 "$IOP_DIR/options-naptr.out")"
grep -q "query\[NAPTR\] naptr.test from 127.0.0.1" "$queries" || iop_fail "dnsmasq was not asked for the NAPTR records of naptr.test"
grep -q "query\[SRV\] _sip._tcp.naptr.test from 127.0.0.1" "$queries" || iop_fail "dnsmasq was not asked for _sip._tcp.naptr.test"
grep -q "_sip._udp.naptr.test\|_sip._sctp.naptr.test" "$queries" && iop_fail "the CLI asked for the SRV records of a transport the NAPTR records do not prefer: $(grep 'query\[SRV\].*naptr' "$queries" | tr '\n' ' ')"
grep -q "NAPTR naptr.test -> SIP+D2T _sip._tcp.naptr.test" "$IOP_DIR/options-naptr.err" || iop_fail "the CLI did not log the NAPTR record it took"
[ "$(iop_count "$log" "OPTIONS-SELF proto=tcp")" -gt "$tcp_before" ] || iop_fail "Kamailio did not get the OPTIONS over TCP"
iop_log "NAPTR: SIP+D2S passed over, SIP+D2T (order 10) before SIP+D2U (order 20): 200 over TCP"
iop_pass
