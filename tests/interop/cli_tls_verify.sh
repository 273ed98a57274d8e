#!/usr/bin/env bash
# TLS certificate verification of our CLI against Kamailio (self-signed test CA):
#  - without --ca-file, verification is on by default and the CA is unknown: register --once and
#    options fail within 10 s with a certificate error, and no REGISTER reaches Kamailio;
#  - with --insecure both work;
#  - with --ca-file (the other TLS tests) verification on succeeds.
# Usage: cli_tls_verify.sh SIPVOICE
set -euo pipefail
source "$(dirname "$0")/lib.sh"
iop_sipvoice_check "${1:-}"
iop_init "cli-tls-verify"
iop_start_kamailio 401
log=$IOP_DIR/kamailio.log
registrar=$(iop_registrar_uri tls)

iop_pick_port lp
iop_run 15 no-ca "$SIPVOICE" register --registrar "$registrar" --user 1001 --password secret1001 \
  --expires 30 --once --bind 127.0.0.1 --port "$lp"
iop_show "$IOP_DIR/no-ca.out"
iop_show "$IOP_DIR/no-ca.err" 10
[ "$IOP_RC" -ne 124 ] || iop_fail "register --once without the CA still running after 15 s"
[ "$IOP_RC" -ne 0 ] || iop_fail "register --once succeeded against an unknown self-signed CA: verification is off?"
iop_le "$IOP_WAITED" 10 || iop_fail "failing took $IOP_WAITED s (limit 10 s)"
cat "$IOP_DIR/no-ca.out" "$IOP_DIR/no-ca.err" | grep -Eiq 'certificate|verify' \
  || iop_fail "the failure does not mention the certificate"
iop_log "without --ca-file: exit $IOP_RC in $IOP_WAITED s: $(cat "$IOP_DIR/no-ca.out" "$IOP_DIR/no-ca.err" | grep -Ei -m1 'certificate|verify')"
[ "$(iop_count "$log" 'REGISTER proto=')" -eq 0 ] || iop_fail "a REGISTER reached Kamailio over an unverified connection"

iop_run 10 options-no-ca "$SIPVOICE" options "$registrar" --timeout 5
[ "$IOP_RC" -eq 1 ] || iop_fail "sipvoice options without the CA exited $IOP_RC (expected 1)"
cat "$IOP_DIR/options-no-ca.out" "$IOP_DIR/options-no-ca.err" | grep -Eiq 'certificate|verify' \
  || iop_fail "sipvoice options: the failure does not mention the certificate"

iop_pick_port lp
iop_run 15 insecure "$SIPVOICE" register --registrar "$registrar" --user 1001 --password secret1001 \
  --expires 30 --once --insecure --bind 127.0.0.1 --port "$lp"
iop_show "$IOP_DIR/insecure.out"
[ "$IOP_RC" -eq 0 ] || iop_fail "register --once --insecure exited $IOP_RC"
grep -Eq '^registered( |$)' "$IOP_DIR/insecure.out" || iop_fail "--insecure: no 'registered' line"
[ "$(iop_count "$log" 'SAVED proto=tls aor=1001')" -ge 1 ] || iop_fail "--insecure: Kamailio saved no binding over TLS"

iop_run 10 options-insecure "$SIPVOICE" options "$registrar" --timeout 5 --insecure
[ "$IOP_RC" -eq 0 ] && head -n1 "$IOP_DIR/options-insecure.out" | grep -q '^SIP/2.0 200' \
  || iop_fail "sipvoice options --insecure: exit $IOP_RC, $(head -n1 "$IOP_DIR/options-insecure.out")"
iop_pass
