#!/usr/bin/env bash
# examples/echo (sipvoice-echo) against a real Kamailio, over TRANSPORT (udp, tcp, tls):
#  1. sipvoice-echo registers 1002 with digest auth (auth user auth1002, 401 challenge), configured
#     through the environment as its README shows (SIP_REGISTRAR, SIP_USER, SIP_AUTH_USER,
#     SIP_PASSWORD), and prints "registered expires=N"; Kamailio holds its binding;
#  2. our `sipvoice call sip:1002@<Kamailio>;transport=T` plays a 1000 Hz tone for 2.5 s and records
#     what it hears for 4 s: Kamailio routes the INVITE to the example (Record-Routed), which echoes
#     every frame back;
#  3. SIGTERM: the example hangs up nothing (the call is over), un-REGISTERs and exits 0.
# Passes when the call exits 0 (answered, RTP both ways), the recording is our tone echoed (>= 1 s of
# sound, >= 80% of its energy at 1000 Hz), the example printed incoming/connected/ended, and after
# SIGTERM it exited 0 within 5 s and the binding of 1002 is gone.
# MEASURED: time to register, codec, rtp_in/rtp_out of the call, echo tone share and delay.
# Usage: echo_example_kamailio.sh SIPVOICE SIPVOICE_ECHO udp|tcp|tls
set -euo pipefail
source "$(dirname "$0")/lib.sh"
iop_sipvoice_check "${1:-}"
echo_bin=${2:?usage: echo_example_kamailio.sh SIPVOICE SIPVOICE_ECHO udp|tcp|tls}
t=${3:?usage: echo_example_kamailio.sh SIPVOICE SIPVOICE_ECHO udp|tcp|tls}
[ -x "$echo_bin" ] || iop_fail "sipvoice-echo '$echo_bin' not found (build the sipvoice_echo_example target)"
iop_init "echo-example-$t"
iop_sipvoice_command call
iop_start_kamailio 401
registrar=$(iop_registrar_uri "$t")
kport=$(iop_port_of "$t")

# ---- the example registers 1002 (over TLS it trusts the test CA through OpenSSL's SSL_CERT_FILE, as
# the example has no option of its own for it)
start=$(iop_now)
tls_env=()
[ "$t" = tls ] && tls_env=(SSL_CERT_FILE="$IOP_CA")
iop_spawn ex echo env "${tls_env[@]}" SIP_REGISTRAR="$registrar" SIP_USER=1002 SIP_AUTH_USER=auth1002 \
  SIP_PASSWORD=secret1002 "$echo_bin"
wait_for_line "$IOP_DIR/echo.out" '^registered expires=' 10 \
  || iop_fail "sipvoice-echo did not print 'registered' within 10 s"
reg_s=$(iop_elapsed "$start")
wait_for_binding 1002 5 || iop_fail "no binding of 1002 in Kamailio although sipvoice-echo says registered"
iop_log "sipvoice-echo registered after $reg_s s; binding: $(iop_binding_field 1002 Address | tr '\n' ' ')"
[ "$(iop_count "$IOP_DIR/kamailio.log" 'CHALLENGE 401 .*aor=1002')" -ge 1 ] \
  || iop_fail "Kamailio never challenged the example's REGISTER (digest auth not exercised)"

# ---- our call hears its own tone
iop_wav_tone "$IOP_DIR/tone.wav" 8000 1000 2.5
iop_cli_net "$t"
iop_run 20 call "$SIPVOICE" call "sip:1002@127.0.0.1:$kport;transport=$t" --codec pcmu --play "$IOP_DIR/tone.wav" \
  --record "$IOP_DIR/heard.wav" --duration 4 "${IOP_CLI_NET[@]}" -v
out=$IOP_DIR/call.out
iop_show "$out" 10
[ "$IOP_RC" -eq 0 ] || iop_fail "sipvoice call via Kamailio to sipvoice-echo exited $IOP_RC: $(tail -n 2 "$IOP_DIR/call.err" | tr '\n' ' ')"
[ "$(iop_count "$IOP_DIR/kamailio.log" 'ROUTE INVITE 1002')" -ge 1 ] || iop_fail "Kamailio did not route our INVITE to 1002"
ended=$(grep -m1 '^ended ' "$out" || true)
rtp_in=$(iop_field "$ended" rtp_in)
rtp_out=$(iop_field "$ended" rtp_out)
wait_for_line "$IOP_DIR/echo.out" '^ended ' 5 || iop_fail "sipvoice-echo printed no 'ended' line"
iop_show "$IOP_DIR/echo.out" 10
grep -q '^incoming from=' "$IOP_DIR/echo.out" || iop_fail "sipvoice-echo printed no 'incoming' line"
grep -q '^connected codec=PCMU/8000' "$IOP_DIR/echo.out" || iop_fail "sipvoice-echo printed no 'connected codec=PCMU/8000' line"

iop_expect_tone "$IOP_DIR/heard.wav" 1000 "we heard (our 1000 Hz tone, echoed)"
heard=$IOP_AUDIO

# ---- SIGTERM: un-REGISTER and exit 0
kill -TERM "$ex"
iop_wait_exit "$ex" 5
[ "$IOP_EXIT" = 0 ] || iop_fail "sipvoice-echo exited '$IOP_EXIT' on SIGTERM (expected 0 within 5 s)"
wait_for_no_binding 1002 3 || iop_fail "the binding of 1002 is still there after sipvoice-echo exited (no un-REGISTER)"
grep -q '^unregistered' "$IOP_DIR/echo.out" || iop_fail "sipvoice-echo did not print 'unregistered'"
echo "MEASURED echo-example-$t: registered_after_s=$reg_s $(grep -m1 '^connected ' "$out") rtp_in=$rtp_in rtp_out=$rtp_out" \
  "echo_1000Hz_share=$(iop_field "$heard" tone) echo_seconds=$(iop_field "$heard" active) first_echo_s=$(iop_field "$heard" delay)"
iop_pass
