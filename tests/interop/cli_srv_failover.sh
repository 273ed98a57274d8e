#!/usr/bin/env bash
# DNS SRV fail-over (RFC 3263 §4.3) against a real name server, Kamailio and SIPp: dnsmasq serves
#   _sip._tcp.pbx.test  priority 10 -> a TCP port where nothing listens (the connection is refused)
#                       priority 20 -> Kamailio's TCP port
#   _sip._tcp.alt.test  priority 10 -> SIPp over TCP, which answers 503 Service Unavailable
#                       priority 20 -> Kamailio's TCP port
#   _sip._tcp.ha.test   priority 10 -> Kamailio's TCP port
#                       priority 20 -> SIPp over TCP as a second registrar
#  1. `sipvoice options sip:pbx.test`: the first target refuses the connection; the OPTIONS goes to
#     the second in a new transaction and gets Kamailio's 200, exit 0.
#  2. `sipvoice register --registrar sip:pbx.test`: the same for the REGISTER; the binding is made
#     over TCP, and removed on SIGTERM.
#  3. `sipvoice options sip:alt.test`: SIPp's 503 sends it on to Kamailio: 200, exit 0.
#  3b. `sipvoice call sip:1002@pbx.test`: the INVITE's first target refuses the connection; it goes
#     to Kamailio, which routes it to our `answer --echo` registered as 1002: the call connects, RTP
#     both ways, exit 0.
#  4. `sipvoice register --registrar sip:ha.test` (priority 10: Kamailio, priority 20: SIPp as a
#     second registrar) registers at Kamailio; Kamailio is stopped, the CLI notices the lost TCP
#     connection and registers at SIPp at once.
#  5. Kamailio is started again and SIPp killed: with every target tried, the CLI's probe (every
#     4 s) looks ha.test up again and registers at Kamailio, the first target; SIGTERM un-registers.
# Each step checks the order from the CLI's log (the dead or 503 target first) and that Kamailio
# got the request.
# Usage: cli_srv_failover.sh SIPVOICE
set -euo pipefail
source "$(dirname "$0")/lib.sh"
iop_sipvoice_check "${1:-}"
iop_init "cli-srv-failover"
iop_require_sipp
iop_start_kamailio 401
log=$IOP_DIR/kamailio.log

iop_pick_port dns
iop_pick_port dead
iop_pick_port busy
iop_pick_port backup
iop_start_dnsmasq "$dns" --local=/pbx.test/ --local=/alt.test/ --local=/ha.test/ --host-record=kam.pbx.test,127.0.0.1 \
  --srv-host="_sip._tcp.pbx.test,kam.pbx.test,$dead,10,100" \
  --srv-host="_sip._tcp.pbx.test,kam.pbx.test,$IOP_TCP_PORT,20,100" \
  --srv-host="_sip._tcp.alt.test,kam.pbx.test,$busy,10,100" \
  --srv-host="_sip._tcp.alt.test,kam.pbx.test,$IOP_TCP_PORT,20,100" \
  --srv-host="_sip._tcp.ha.test,kam.pbx.test,$IOP_TCP_PORT,10,100" \
  --srv-host="_sip._tcp.ha.test,kam.pbx.test,$backup,20,100"
! iop_port_in_use "$dead" || iop_fail "port $dead was to be dead, but something listens there"

# in_order FILE FIRST SECOND: FIRST occurs on an earlier line of FILE than SECOND.
in_order() {
  local a b
  a=$(grep -n -m1 -F -- "$2" "$1" | cut -d: -f1)
  b=$(grep -n -m1 -F -- "$3" "$1" | cut -d: -f1)
  [ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ]
}

# ---- 1. OPTIONS: the first target refuses the connection
iop_run 15 options "$SIPVOICE" options "sip:pbx.test" --dns-server "127.0.0.1:$dns" --timeout 5 -v
iop_show "$IOP_DIR/options.out" 4
iop_show "$IOP_DIR/options.err" 10
[ "$IOP_RC" -eq 0 ] || iop_fail "sipvoice options sip:pbx.test exited $IOP_RC"
head -n1 "$IOP_DIR/options.out" | grep -q '^SIP/2.0 200' || iop_fail "first line is not 'SIP/2.0 200 ...': $(head -n1 "$IOP_DIR/options.out")"
grep -q "trying the next SRV target" "$IOP_DIR/options.err" || iop_fail "the CLI did not say it moved on to the next SRV target"
in_order "$IOP_DIR/options.err" "SRV _sip._tcp.pbx.test -> kam.pbx.test:$dead" "SRV _sip._tcp.pbx.test -> kam.pbx.test:$IOP_TCP_PORT" \
  || iop_fail "not the dead target (priority 10) first, then Kamailio (priority 20): $(grep SRV "$IOP_DIR/options.err" | tr '\n' ' ')"
[ "$(iop_count "$log" "OPTIONS-SELF proto=tcp")" -ge 1 ] || iop_fail "Kamailio did not get the OPTIONS over TCP"
iop_log "OPTIONS: refused by the priority 10 target, 200 from the priority 20 one"

# ---- 2. REGISTER: the same fail-over for the registration
iop_spawn cli cli "$SIPVOICE" register --registrar "sip:pbx.test" --user 1001 --password secret1001 --expires 30 \
  --dns-server "127.0.0.1:$dns" -v
wait_for_line "$IOP_DIR/cli.out" '^registered' 10 || iop_fail "no 'registered' line within 10 s: $(tail -n3 "$IOP_DIR/cli.err")"
wait_for_binding 1001 3 || iop_fail "no binding of 1001"
[ "$(iop_count "$log" "SAVED proto=tcp aor=1001 ")" -ge 1 ] || iop_fail "the REGISTER that made the binding did not come over TCP"
grep -q "REGISTER to sip:pbx.test: .*trying the next SRV target" "$IOP_DIR/cli.err" \
  || iop_fail "the CLI did not say the REGISTER moved on to the next SRV target: $(grep -i srv "$IOP_DIR/cli.err" | tr '\n' ' ')"
kill -TERM "$cli"
iop_wait_exit "$cli" 5
[ "$IOP_EXIT" = 0 ] || iop_fail "after SIGTERM the CLI exited with '$IOP_EXIT'"
wait_for_no_binding 1001 3 || iop_fail "the binding of 1001 is still there after the un-REGISTER"
iop_log "REGISTER: refused by the priority 10 target, registered at the priority 20 one, un-registered on SIGTERM"

# ---- 3. OPTIONS: the first target answers 503
iop_sipp sipp sipp-503 -sf "$IOP_SRC_DIR/sipp/uas_unavailable.xml" -t t1 -i 127.0.0.1 -p "$busy" -m 1
iop_wait_listening tcp "$busy" 10 || iop_fail "SIPp is not listening on TCP $busy"
iop_run 15 options-503 "$SIPVOICE" options "sip:alt.test" --dns-server "127.0.0.1:$dns" --timeout 5 -v
iop_show "$IOP_DIR/options-503.err" 10
[ "$IOP_RC" -eq 0 ] || iop_fail "sipvoice options sip:alt.test exited $IOP_RC"
head -n1 "$IOP_DIR/options-503.out" | grep -q '^SIP/2.0 200' || iop_fail "first line is not 'SIP/2.0 200 ...': $(head -n1 "$IOP_DIR/options-503.out")"
grep -q "503 from 127.0.0.1:$busy; trying the next SRV target" "$IOP_DIR/options-503.err" \
  || iop_fail "the CLI did not move on after SIPp's 503: $(grep -i 'srv\|503' "$IOP_DIR/options-503.err" | tr '\n' ' ')"
iop_wait_exit "$sipp" 10
[ "$IOP_EXIT" = 0 ] || iop_fail "SIPp exited '$IOP_EXIT' (0: it got the OPTIONS and answered 503; see sipp-503-errors.log)"
[ "$(iop_count "$log" "OPTIONS-SELF proto=tcp")" -ge 2 ] || iop_fail "Kamailio did not get the second OPTIONS"
iop_log "OPTIONS: 503 from SIPp (priority 10), 200 from Kamailio (priority 20)"

# ---- 3b. a call: the INVITE moves on from the refused target to Kamailio
iop_sipvoice_command call
iop_wav_tone "$IOP_DIR/tone.wav" 8000 1000 2
iop_pick_port ap
iop_spawn ans answer "$SIPVOICE" answer --listen "tcp:127.0.0.1:$ap" --echo --max-calls 1 \
  --registrar "sip:127.0.0.1:$IOP_TCP_PORT;transport=tcp" --user 1002 --auth-user auth1002 --password secret1002 -v
wait_for_line "$IOP_DIR/answer.out" '^registered ' 10 || iop_fail "our answer --register printed no 'registered' line"
iop_run 25 call "$SIPVOICE" call "sip:1002@pbx.test" --dns-server "127.0.0.1:$dns" --codec pcmu \
  --play "$IOP_DIR/tone.wav" --duration 2 -v
iop_show "$IOP_DIR/call.out" 6
[ "$IOP_RC" -eq 0 ] || iop_fail "sipvoice call sip:1002@pbx.test exited $IOP_RC: $(grep -v ': debug:' "$IOP_DIR/call.err" | tail -n 3 | tr '\n' ' ')"
grep -q "INVITE: TCP to 127.0.0.1:$dead: .*trying the next SRV target" "$IOP_DIR/call.err" \
  || iop_fail "the CLI did not say the INVITE moved on to the next SRV target: $(grep -i 'srv\|invite' "$IOP_DIR/call.err" | tr '\n' ' ')"
[ "$(iop_count "$log" 'ROUTE INVITE 1002')" -ge 1 ] || iop_fail "Kamailio did not route the INVITE to 1002"
grep -q '^connected ' "$IOP_DIR/call.out" || iop_fail "no 'connected' line"
iop_wait_exit "$ans" 8
[ "$IOP_EXIT" = 0 ] || iop_fail "our answer --max-calls 1 exited '$IOP_EXIT' (expected 0)"
iop_log "call: refused by the priority 10 target, connected through Kamailio (priority 20): $(grep -m1 '^ended ' "$IOP_DIR/call.out")"

# ---- 4. a registered CLI whose registrar goes away registers at the next SRV target
iop_sipp backup_sipp sipp-backup -sf "$IOP_SRC_DIR/sipp/registrar_backup.xml" -t t1 -i 127.0.0.1 -p "$backup" -m 1
iop_wait_listening tcp "$backup" 10 || iop_fail "SIPp is not listening on TCP $backup"
iop_spawn ha cli-ha "$SIPVOICE" register --registrar "sip:ha.test" --user 1001 --password secret1001 --expires 30 \
  --dns-server "127.0.0.1:$dns" -v
wait_for_line "$IOP_DIR/cli-ha.out" '^registered' 10 || iop_fail "no 'registered' line within 10 s: $(tail -n3 "$IOP_DIR/cli-ha.err")"
wait_for_binding 1001 3 || iop_fail "no binding of 1001 at Kamailio (the priority 10 target)"
[ "$(grep -c '^registered' "$IOP_DIR/cli-ha.out")" -eq 1 ] || iop_fail "registered more than once before Kamailio stopped"
iop_stop_kamailio
start=$(iop_now)
for _ in $(seq 100); do
  [ "$(grep -c '^registered' "$IOP_DIR/cli-ha.out")" -ge 2 ] && break
  sleep 0.1
done
[ "$(grep -c '^registered' "$IOP_DIR/cli-ha.out")" -ge 2 ] \
  || iop_fail "not registered again within 10 s of Kamailio's stop: $(tail -n4 "$IOP_DIR/cli-ha.err" | tr '\n' ' ')"
waited=$(iop_elapsed "$start")
grep -q "registrar sip:ha.test at 127.0.0.1:$IOP_TCP_PORT unreachable: .*trying the next SRV target" "$IOP_DIR/cli-ha.err" \
  || iop_fail "the CLI did not say it left Kamailio for the next SRV target: $(grep -i 'srv\|unreachable' "$IOP_DIR/cli-ha.err" | tr '\n' ' ')"
in_order "$IOP_DIR/cli-ha.err" "SRV _sip._tcp.ha.test -> kam.pbx.test:$IOP_TCP_PORT" "SRV _sip._tcp.ha.test -> kam.pbx.test:$backup" \
  || iop_fail "not Kamailio (priority 10) first, then SIPp (priority 20): $(grep SRV "$IOP_DIR/cli-ha.err" | tr '\n' ' ')"
grep -q "REGISTER sip:ha.test" "$IOP_DIR/sipp-backup-messages.log" || iop_fail "SIPp (the second registrar) got no REGISTER"
iop_log "registered at Kamailio; Kamailio stopped; registered at SIPp (the priority 20 target) after $waited s"

# ---- 5. every target has failed: the probes look the domain up again and find Kamailio back
iop_restart_kamailio
kill -KILL "$backup_sipp"
iop_wait_exit "$backup_sipp" 5
start=$(iop_now)
wait_for_binding 1001 12 || iop_fail "not registered at the restarted Kamailio within 12 s of SIPp's end: $(tail -n4 "$IOP_DIR/cli-ha.err" | tr '\n' ' ')"
waited=$(iop_elapsed "$start")
[ "$(grep -c '^registered' "$IOP_DIR/cli-ha.out")" -ge 3 ] || iop_fail "the CLI did not report the third registration"
[ "$(grep -c "SRV _sip._tcp.ha.test -> kam.pbx.test:$IOP_TCP_PORT" "$IOP_DIR/cli-ha.err")" -ge 2 ] \
  || iop_fail "Kamailio (priority 10) was not looked up again: $(grep SRV "$IOP_DIR/cli-ha.err" | tr '\n' ' ')"
kill -TERM "$ha"
iop_wait_exit "$ha" 5
[ "$IOP_EXIT" = 0 ] || iop_fail "after SIGTERM the CLI exited with '$IOP_EXIT'"
wait_for_no_binding 1001 3 || iop_fail "the binding of 1001 is still there after the un-REGISTER"
iop_log "SIPp gone: the next probe looked ha.test up again and registered at the restarted Kamailio after $waited s; un-registered on SIGTERM"
iop_pass
