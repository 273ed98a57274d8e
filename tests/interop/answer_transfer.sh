#!/usr/bin/env bash
# A blind transfer of our `sipvoice answer` (RFC 3515): SIPp (sipp/uac_transferor.xml) calls our
# `answer --play tone.wav --max-calls 1` and sends it a REFER to a second `sipvoice answer --echo`
# (the target); our answer must answer 202, call the target, report the progress in NOTIFYs
# (message/sipfrag: 100, 180, 200; or 100, 200 when the target answered before the NOTIFY 100
# was answered: one NOTIFY at a time, the newest state) and carry on with the target after SIPp's BYE. Passes when:
#  - SIPp's scenario completed (so the NOTIFYs said 100, (180,) 200, and its BYE was answered);
#  - our answer printed "transfer to=TARGET", two "connected" lines and an "ended reason=remote"
#    line for SIPp's call, and is still running after it: --max-calls counts the incoming call,
#    and the call it was transferred to keeps the program up until it ends;
#  - the call to the target had RTP both ways (the target echoes our tone back), and the target's
#    recording holds the tone;
#  - on SIGTERM our answer hangs up the target (its "ended" line says remote) and exits 0.
# MEASURED: the sipfrags SIPp received, and the RTP of the call to the target.
# Usage: answer_transfer.sh SIPVOICE udp|tcp
set -euo pipefail
source "$(dirname "$0")/lib.sh"
iop_sipvoice_check "${1:-}"
t=${2:?usage: answer_transfer.sh SIPVOICE udp|tcp}
iop_init "answer-transfer-$t"
iop_require_sipp
iop_sipvoice_command answer
out=$IOP_DIR/answer.out
tout=$IOP_DIR/target.out

# ---- the transfer target: a second answer, echoing and recording
iop_pick_port tp
iop_spawn tgt target "$SIPVOICE" answer --listen "$t:127.0.0.1:$tp" --echo --record "$IOP_DIR/target-heard.wav" \
  --codec pcmu --max-calls 1 -v
iop_wait_listening "$t" "$tp" 10 || iop_fail "the target (sipvoice answer) does not listen on $t:127.0.0.1:$tp"
target="sip:target@127.0.0.1:$tp;transport=$t"

# ---- the transferee: our answer, playing a tone
iop_wav_tone "$IOP_DIR/tone.wav" 8000 1000 20
iop_pick_port ap
iop_spawn ans answer "$SIPVOICE" answer --listen "$t:127.0.0.1:$ap" --play "$IOP_DIR/tone.wav" --codec pcmu \
  --max-calls 1 -v
iop_wait_listening "$t" "$ap" 10 || iop_fail "sipvoice answer does not listen on $t:127.0.0.1:$ap after 10 s"

# ---- the transferor: SIPp calls it, then REFERs it to the target
iop_pick_port sp
iop_pick_media_port mp
iop_sipp sipp sipp-uac -sf "$IOP_SRC_DIR/sipp/uac_transferor.xml" -t "$(iop_sipp_transport "$t")" -i 127.0.0.1 \
  -p "$sp" -mi 127.0.0.1 -mp "$mp" -rtp_echo -m 1 -l 1 -set target "$target" -timeout 30s -timeout_error \
  "127.0.0.1:$ap"
iop_wait_exit "$sipp" 30
[ "$IOP_EXIT" = 0 ] || iop_fail "SIPp exited '$IOP_EXIT' (0: 200, 202, NOTIFYs up to 200, then its BYE; see sipp-uac-errors.log, sipp-uac-messages.log)"
notifies=$(awk '/^NOTIFY / { n = 1; next } n && /^SIP\/2.0 / { print; n = 0 }' "$IOP_DIR/sipp-uac-messages.log" | paste -sd, -)
wait_for_line "$out" '^ended ' 5 || iop_fail "SIPp's call did not end at our answer: $(cat "$out")"

# The transferred call is still up: 2 s of it, then our answer must still be running.
sleep 2
kill -0 "$ans" 2>/dev/null || iop_fail "answer exited with the transfer's call still up (--max-calls 1 counts incoming calls only): $(cat "$out")"
[ "$(grep -c '^ended ' "$out")" -eq 1 ] || iop_fail "expected one 'ended' line before SIGTERM: $(cat "$out")"
kill -TERM "$ans"
iop_wait_exit "$ans" 10
iop_show "$out" 14
iop_show "$IOP_DIR/answer.err" 5
[ "$IOP_EXIT" = 0 ] || iop_fail "sipvoice answer exited '$IOP_EXIT' after SIGTERM (expected 0)"
grep -q '^incoming from=sip:sipp@127.0.0.1' "$out" || iop_fail "no 'incoming from=sip:sipp@127.0.0.1...' line"
[ "$(grep -c '^ended ' "$out")" -eq 2 ] || iop_fail "expected two 'ended' lines: $(cat "$out")"
iop_check_transferred "$out" "$target" SIPp

# ---- the target heard our tone, and was hung up by our SIGTERM
iop_wait_exit "$tgt" 10
# RFC 3892: SIPp's Referred-By came along in our INVITE.
grep -q '^incoming from=.* referred_by=sip:sipp@127.0.0.1' "$tout" ||
  iop_fail "the target's call does not say SIPp referred it (Referred-By): $(grep '^incoming' "$tout")"
[ "$IOP_EXIT" = 0 ] || iop_fail "the target (sipvoice answer --max-calls 1) exited '$IOP_EXIT'"
ended_t=$(grep -m1 '^ended ' "$tout" || true)
[ "$(iop_field "$ended_t" reason)" = remote ] || iop_fail "the target's call did not end by our BYE: $ended_t"
[ "$(iop_field "$ended_t" rtp_in)" -gt 0 ] || iop_fail "the target got no RTP: $ended_t"
level=$(iop_wav_samples "$IOP_DIR/target-heard.wav" | iop_tone_check 8000 1000) \
  || iop_fail "the target's recording $IOP_DIR/target-heard.wav is missing or not a WAV file"
iop_le 1 "$(iop_field "$level" active)" || iop_fail "the target heard under 1 s of sound (expected our tone): $level"
iop_le 0.8 "$(iop_field "$level" tone)" || iop_fail "the target did not hear our 1000 Hz tone: $level"
echo "MEASURED answer-transfer-$t: sipfrags=[$notifies] call to the target: $IOP_TRANSFERRED; target: $ended_t; heard: $level"
iop_pass
