#!/usr/bin/env bash
# sipvoice register --once against Kamailio challenging with 407/Proxy-Authenticate (no qop, as 3CX)
# over TRANSPORT, for extension 1002 whose authentication user is auth1002 (3CX's "authentication
# ID"): exits 0 after printing 'registered'; Kamailio accepted credentials of auth1002 for 1002.
# (--once un-registers before it exits, so the binding is checked in Kamailio's log, not its table.)
# Usage: cli_auth_user.sh SIPVOICE udp|tcp|tls
set -euo pipefail
source "$(dirname "$0")/lib.sh"
iop_sipvoice_check "${1:-}"
t=${2:?usage: cli_auth_user.sh SIPVOICE udp|tcp|tls}
iop_init "cli-auth-user-407-$t"
iop_start_kamailio 407
log=$IOP_DIR/kamailio.log

iop_cli_net "$t"
iop_run 15 cli "$SIPVOICE" register --registrar "$(iop_registrar_uri "$t")" --user 1002 --auth-user auth1002 \
  --password secret1002 --expires 30 --once "${IOP_CLI_NET[@]}"
iop_show "$IOP_DIR/cli.out"
[ "$IOP_RC" -eq 0 ] || iop_fail "register --once exited $IOP_RC (124: still running after 15 s)"
grep -Eq '^registered( |$)' "$IOP_DIR/cli.out" || iop_fail "exit 0 but no 'registered' line on stdout"
[ "$(iop_count "$log" "CHALLENGE 407 .*aor=1002")" -ge 1 ] || iop_fail "Kamailio did not challenge with 407"
[ "$(iop_count "$log" "SAVED proto=$t aor=1002 auth=auth1002 expires=30")" -ge 1 ] \
  || iop_fail "Kamailio has no binding of 1002 saved with auth user auth1002 and Expires 30 over $t (see kamailio.log)"
iop_log "Kamailio: $(iop_kam_events "SAVED proto=$t aor=1002" | head -n1 | sed 's/.*IOP //')"
[ "$(iop_count "$log" 'FORBIDDEN')" -eq 0 ] || iop_fail "Kamailio refused the auth user"
if has_binding 1002; then
  iop_log "note: --once left the binding in place: $(iop_binding_field 1002 Address | tr '\n' ' ')"
fi
iop_pass
