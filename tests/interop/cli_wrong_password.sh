#!/usr/bin/env bash
# sipvoice register --once with a wrong password (Kamailio 401, qop=auth) over TRANSPORT: a clear
# failure, not a loop. Exits non-zero within 10 s, says "authentication failed for realm
# sipvoice-interop", Kamailio saw at most 3 REGISTERs, no binding, and the password is not printed.
# Usage: cli_wrong_password.sh SIPVOICE udp|tcp|tls
set -euo pipefail
source "$(dirname "$0")/lib.sh"
iop_sipvoice_check "${1:-}"
t=${2:?usage: cli_wrong_password.sh SIPVOICE udp|tcp|tls}
iop_init "cli-wrong-password-$t"
iop_start_kamailio 401
log=$IOP_DIR/kamailio.log
password=Wr0ng-pa55word-$RANDOM

iop_cli_net "$t"
iop_run 20 cli "$SIPVOICE" register --registrar "$(iop_registrar_uri "$t")" --user 1001 \
  --password "$password" --expires 30 --once "${IOP_CLI_NET[@]}"
iop_show "$IOP_DIR/cli.out"
iop_show "$IOP_DIR/cli.err" 10
[ "$IOP_RC" -ne 124 ] || iop_fail "register --once still running after 20 s with a wrong password (a loop?)"
[ "$IOP_RC" -ne 0 ] || iop_fail "register --once exited 0 with a wrong password"
iop_le "$IOP_WAITED" 10 || iop_fail "failing took $IOP_WAITED s (limit 10 s)"
iop_log "MEASURED $t: wrong password reported in $IOP_WAITED s, exit $IOP_RC"
cat "$IOP_DIR/cli.out" "$IOP_DIR/cli.err" | grep -q "authentication failed for realm $IOP_REALM" \
  || iop_fail "output does not say 'authentication failed for realm $IOP_REALM'"
sleep 1   # anything still in flight reaches Kamailio
registers=$(iop_count "$log" 'REGISTER proto=')
iop_log "Kamailio saw $registers REGISTERs ($(iop_count "$log" 'CHALLENGE 401 rc=-2') with wrong credentials)"
[ "$registers" -le 3 ] || iop_fail "Kamailio saw $registers REGISTERs: the client retried a wrong password"
[ "$(iop_count "$log" 'CHALLENGE 401 rc=-2')" -ge 1 ] || iop_fail "Kamailio never saw the (wrong) credentials"
has_binding 1001 && iop_fail "a binding of 1001 exists"
if grep -qF -- "$password" "$IOP_DIR/cli.out" "$IOP_DIR/cli.err"; then
  iop_fail "the password appears in the CLI's output"
fi
iop_pass
