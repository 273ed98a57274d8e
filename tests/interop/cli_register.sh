#!/usr/bin/env bash
# sipvoice register against Kamailio (401, qop=auth) over TRANSPORT: registers, the binding shows in
# Kamailio's location table on that transport, the refresh comes before the granted 4 s lapse, and
# SIGTERM un-registers (binding gone, un-REGISTER seen by Kamailio) with exit status 0.
# Usage: cli_register.sh SIPVOICE udp|tcp|tls
set -euo pipefail
source "$(dirname "$0")/lib.sh"
iop_sipvoice_check "${1:-}"
t=${2:?usage: cli_register.sh SIPVOICE udp|tcp|tls}
iop_init "cli-register-$t"
iop_start_kamailio 401
log=$IOP_DIR/kamailio.log
out=$IOP_DIR/cli.out

iop_cli_net "$t"
iop_spawn cli cli "$SIPVOICE" register --registrar "$(iop_registrar_uri "$t")" --user 1001 \
  --password secret1001 --expires 4 "${IOP_CLI_NET[@]}"

wait_for_line "$out" '^registered' 10 || iop_fail "no 'registered' line within 10 s"
iop_log "CLI: '$IOP_LINE' after $IOP_WAITED s"
[[ "$IOP_LINE" =~ ^registered\ expires=4([^0-9]|$) ]] || iop_fail "expected 'registered expires=4' (Kamailio grants 4 s), got '$IOP_LINE'"
wait_for_binding 1001 3 || iop_fail "the CLI says registered but Kamailio has no binding of 1001"
sockets=$(iop_binding_field 1001 Socket | tr '\n' ' ')
[[ " $sockets" == *" $t:127.0.0.1:"* ]] || iop_fail "binding not registered over $t (Kamailio socket: $sockets)"
iop_log "binding: $(iop_binding_field 1001 Address | tr '\n' ' ')received $(iop_binding_field 1001 Received | tr '\n' ' ')socket $sockets"
# The refresh: a successful REGISTER at least 1 s after the one before it (the registration itself may
# be two REGISTERs in a row, e.g. again with a Contact learned from received/rport), before the
# granted 4 s lapse.
saved_re="SAVED proto=$t aor=1001 "
saved_times() { iop_kam_events "$saved_re" | sed -n 's/.*IOP t=\([0-9.]*\) .*/\1/p'; }
gap=""
for _ in $(seq 140); do
  gap=$(saved_times | awk 'NR > 1 && $1 - prev >= 1.0 { printf "%.2f", $1 - prev; exit } { prev = $1 }')
  [ -n "$gap" ] && break
  sleep 0.05
done
[ -n "$gap" ] || iop_fail "no refresh: no successful REGISTER over $t in 7 s after the registration (granted expiry 4 s)"
burst=$(saved_times | awk 'NR == 1 { first = $1 } $1 - first < 1.0 { n++ } END { print n }')
iop_log "MEASURED $t: refresh $gap s after the registration (granted expiry 4 s; the registration took $burst successful REGISTERs)"
iop_le "$gap" 3.9 || iop_fail "the refresh came $gap s after the registration: the 4 s binding lapsed or nearly did"
has_binding 1001 || iop_fail "binding gone after the refresh"
[ "$(iop_binding_field 1001 Address | wc -l)" -eq 1 ] || iop_fail "the refresh added a second binding: $(iop_binding_field 1001 Address | tr '\n' ' ')"
challenges=$(iop_count "$log" 'CHALLENGE 401')
iop_log "Kamailio so far: $(iop_count "$log" 'REGISTER proto=') REGISTERs, $challenges challenges"

# SIGTERM: un-REGISTER, exit 0.
registers_before=$(iop_count "$log" "REGISTER proto=$t")
term_at=$(date +%s.%N)
kill -TERM "$cli"
iop_wait_exit "$cli" 5
[ "$IOP_EXIT" = 0 ] || iop_fail "after SIGTERM the CLI exited with '$IOP_EXIT' (expected 0 within 5 s)"
iop_log "CLI exited 0 $IOP_WAITED s after SIGTERM"
has_binding 1001 && iop_fail "binding of 1001 still in Kamailio after the CLI exited: no un-REGISTER"
[ "$(iop_count "$log" "REGISTER proto=$t")" -gt "$registers_before" ] || iop_fail "Kamailio saw no REGISTER after SIGTERM"
last_saved=$(iop_kam_events "$saved_re" | tail -n1)
iop_le "$term_at" "$(iop_event_time "$last_saved")" || iop_fail "no successful un-REGISTER after SIGTERM"
grep -q '^unregistered' "$out" || iop_log "note: no 'unregistered' line on stdout"
iop_show "$out"
iop_pass
