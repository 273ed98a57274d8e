#!/usr/bin/env bash
# sipvoice options, and our client answering OPTIONS, over TRANSPORT:
#  1. `sipvoice options sip:127.0.0.1:PORT;transport=T` prints Kamailio's 200 (status line first,
#     then headers) and exits 0; to an unknown user it prints the 404 and exits 0 too (any final
#     response); to a port where nothing listens it exits 1.
#  2. with `sipvoice register` running as 1001 over T, an OPTIONS sent by sipsak to Kamailio for
#     sip:1001@ is routed to our client over its registration flow and answered 200 with Allow,
#     Accept and Supported.
# Usage: cli_options.sh SIPVOICE udp|tcp|tls
set -euo pipefail
source "$(dirname "$0")/lib.sh"
iop_sipvoice_check "${1:-}"
t=${2:?usage: cli_options.sh SIPVOICE udp|tcp|tls}
iop_init "cli-options-$t"
iop_start_kamailio 401
log=$IOP_DIR/kamailio.log
port=$(iop_port_of "$t")
tls=()
[ "$t" = tls ] && tls=(--ca-file "$IOP_CA")

# ---- 1. sipvoice options
iop_run 10 options "$SIPVOICE" options "sip:127.0.0.1:$port;transport=$t" --timeout 5 "${tls[@]}"
iop_show "$IOP_DIR/options.out" 12
[ "$IOP_RC" -eq 0 ] || iop_fail "sipvoice options to Kamailio exited $IOP_RC"
head -n1 "$IOP_DIR/options.out" | grep -q '^SIP/2.0 200' || iop_fail "first line is not 'SIP/2.0 200 ...': $(head -n1 "$IOP_DIR/options.out")"
grep -qi '^CSeq:.*OPTIONS' "$IOP_DIR/options.out" || iop_fail "the response's headers are not printed (no CSeq line)"
grep -qi '^Server: kamailio-interop' "$IOP_DIR/options.out" || iop_fail "the printed response is not Kamailio's (no Server: kamailio-interop)"
[ "$(iop_count "$log" "OPTIONS-SELF proto=$t")" -ge 1 ] || iop_fail "Kamailio did not get the OPTIONS over $t"

iop_run 10 options-404 "$SIPVOICE" options "sip:nobody@127.0.0.1:$port;transport=$t" --timeout 5 "${tls[@]}"
[ "$IOP_RC" -eq 0 ] || iop_fail "sipvoice options answered 404 exited $IOP_RC (expected 0 on any final response)"
head -n1 "$IOP_DIR/options-404.out" | grep -q '^SIP/2.0 404' || iop_fail "expected 'SIP/2.0 404' first, got: $(head -n1 "$IOP_DIR/options-404.out")"

iop_pick_port dead
iop_run 10 options-dead "$SIPVOICE" options "sip:127.0.0.1:$dead;transport=$t" --timeout 2 "${tls[@]}"
[ "$IOP_RC" -eq 1 ] || iop_fail "sipvoice options to a port where nothing listens exited $IOP_RC (expected 1)"
iop_log "sipvoice options: 200 from Kamailio, 404 for an unknown user (exit 0), exit 1 with nobody listening ($IOP_WAITED s)"

# ---- 2. our client answers an OPTIONS routed through Kamailio
iop_cli_net "$t"
iop_spawn cli cli "$SIPVOICE" register --registrar "$(iop_registrar_uri "$t")" --user 1001 \
  --password secret1001 --expires 30 "${IOP_CLI_NET[@]}"
wait_for_line "$IOP_DIR/cli.out" '^registered' 10 || iop_fail "no 'registered' line within 10 s"
wait_for_binding 1001 3 || iop_fail "no binding of 1001"
iop_log "binding: $(iop_binding_field 1001 Address | tr '\n' ' ')received $(iop_binding_field 1001 Received | tr '\n' ' ')"
iop_run 10 sipsak-options sipsak -vv -s "sip:1001@127.0.0.1:$IOP_UDP_PORT"
reply=$IOP_DIR/sipsak-options.out
iop_show "$reply" 20
iop_log "Kamailio: $(iop_kam_events 'ROUTE OPTIONS 1001' | tail -n1 | sed 's/.*IOP //')"
[ "$IOP_RC" -eq 0 ] && grep -q '^SIP/2.0 200' "$reply" \
  || iop_fail "OPTIONS through Kamailio to our client over $t: no 200 (sipsak exit $IOP_RC)"
[ "$(iop_count "$log" "REPLY 200 OPTIONS from $t:")" -ge 1 ] || iop_fail "the 200 did not come from our client over $t"
for h in Allow Accept Supported; do
  grep -qi "^$h:" "$reply" || iop_fail "our 200 to OPTIONS has no $h header"
done
kill -TERM "$cli"
iop_wait_exit "$cli" 5
[ "$IOP_EXIT" = 0 ] || iop_fail "after SIGTERM the CLI exited with '$IOP_EXIT'"
iop_pass
