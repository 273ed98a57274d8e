#!/usr/bin/env bash
# Our `sipvoice call` follows a 302 (RFC 3261 section 8.1.3.4): SIPp (sipp/uas_redirect.xml) redirects
# the INVITE to our own `sipvoice answer --echo`, where the call connects and hears its tone back.
# Usage: call_sipp_redirect.sh SIPVOICE udp|tcp
set -euo pipefail
source "$(dirname "$0")/lib.sh"
iop_sipvoice_check "${1:-}"
t=${2:?usage: call_sipp_redirect.sh SIPVOICE udp|tcp}
iop_init "call-sipp-redirect-$t"
iop_require_sipp
iop_sipvoice_command call

iop_pick_port ap
iop_spawn ans answer "$SIPVOICE" answer --listen "$t:127.0.0.1:$ap" --echo --max-calls 1 -v
iop_wait_listening "$t" "$ap" 10 || iop_fail "sipvoice answer does not listen on $t:127.0.0.1:$ap after 10 s"
iop_pick_port sp
iop_sipp sipp sipp-uas -sf "$IOP_SRC_DIR/sipp/uas_redirect.xml" -t "$(iop_sipp_transport "$t")" -i 127.0.0.1 \
  -p "$sp" -set target_port "$ap" -m 1 -timeout 20s -timeout_error
iop_wait_listening "$t" "$sp" 10 || iop_fail "SIPp does not listen on $t:127.0.0.1:$sp after 10 s"

iop_wav_tone "$IOP_DIR/tone.wav" 8000 1000 2
iop_cli_net "$t"
iop_run 20 call "$SIPVOICE" call "sip:sales@127.0.0.1:$sp;transport=$t" --codec pcmu --duration 3 \
  --play "$IOP_DIR/tone.wav" --record "$IOP_DIR/heard.wav" "${IOP_CLI_NET[@]}" -v
call_rc=$IOP_RC
out=$IOP_DIR/call.out
iop_show "$out" 10
[ "$call_rc" -eq 0 ] || iop_fail "sipvoice call exited $call_rc (expected 0 after following the 302): $(tail -n 2 "$IOP_DIR/call.err" | tr '\n' ' ')"
iop_wait_exit "$sipp" 10
[ "$IOP_EXIT" = 0 ] || iop_fail "SIPp exited '$IOP_EXIT' (0: it sent the 302 and got its ACK; see sipp-uas-errors.log)"
grep -q '^incoming ' "$IOP_DIR/answer.out" || iop_fail "our answer saw no call: the 302 was not followed"
iop_wait_exit "$ans" 5
level=$(iop_wav_samples "$IOP_DIR/heard.wav" | iop_tone_check 8000 1000)
iop_le 0.5 "$(iop_field "$level" active)" && iop_le 0.8 "$(iop_field "$level" tone)" \
  || iop_fail "after the redirect we did not hear our tone echoed: $level"
echo "MEASURED call-sipp-redirect-$t: $(iop_cli_lines "$out" '^(connected|ended)') heard: $level"
iop_pass
