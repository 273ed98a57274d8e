#!/usr/bin/env bash
# Registrar restart over TRANSPORT: sipvoice register (--keepalive 1) is registered; Kamailio stops
# (its bindings are in memory, so they are lost); during ~4 s without it the CLI reports the loss
# (failed/registering lines); Kamailio starts again on the same ports; the binding must be back
# within 5 s of Kamailio listening again. The measured time is printed either way.
# Usage: cli_restart.sh SIPVOICE udp|tcp|tls
set -euo pipefail
source "$(dirname "$0")/lib.sh"
iop_sipvoice_check "${1:-}"
t=${2:?usage: cli_restart.sh SIPVOICE udp|tcp|tls}
iop_init "cli-restart-$t"
iop_start_kamailio 401
out=$IOP_DIR/cli.out
limit=${IOP_RESTART_LIMIT:-5}

iop_cli_net "$t"
iop_spawn cli cli "$SIPVOICE" register --registrar "$(iop_registrar_uri "$t")" --user 1001 \
  --password secret1001 --expires 30 --keepalive 1 "${IOP_CLI_NET[@]}"
wait_for_line "$out" '^registered' 10 || iop_fail "no 'registered' line within 10 s"
wait_for_binding 1001 3 || iop_fail "no binding of 1001"

mark=$(iop_lines "$out")
iop_stop_kamailio
sleep 4
kill -0 "$cli" 2>/dev/null || iop_fail "the CLI exited while Kamailio was down"
down_lines=$(tail -n "+$((mark + 1))" "$out")
iop_log "CLI while Kamailio was down: $(tr '\n' '|' <<<"$down_lines")"
grep -Eq '^(failed|registering)' <<<"$down_lines" \
  || iop_fail "the CLI printed no failed/registering line in 4 s without Kamailio (keep-alive 1 s)"

iop_launch_kamailio || iop_fail "Kamailio did not start again on the same ports"
up=$IOP_KAM_UP_AT
if wait_for_binding 1001 15; then
  back=$(iop_elapsed "$up")
  iop_log "MEASURED $t: registered again $back s after Kamailio was back (limit $limit s)"
else
  iop_fail "MEASURED $t: not registered again within 15 s after Kamailio was back (limit $limit s)"
fi
wait_for_line "$out" '^registered' 2 "$mark" || iop_fail "binding is back but the CLI printed no new 'registered' line"
iop_le "$back" "$limit" || iop_fail "re-registration took $back s after the restart (limit $limit s)"
iop_log "CLI lines since the stop: $(tail -n "+$((mark + 1))" "$out" | tr '\n' '|')"

kill -TERM "$cli"
iop_wait_exit "$cli" 5
[ "$IOP_EXIT" = 0 ] || iop_fail "after SIGTERM the CLI exited with '$IOP_EXIT'"
wait_for_no_binding 1001 2 || iop_fail "binding still there after the CLI exited"
iop_pass
