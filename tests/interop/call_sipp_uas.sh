#!/usr/bin/env bash
# Our `sipvoice call` to SIPp as the callee over TRANSPORT, with CODEC: SIPp runs sipp/uas_echo.xml
# (100, 180, then a 200 whose SDP answers the offered CODEC and telephone-event) with -rtp_echo, which
# sends every RTP packet back to where it came from. Our call plays a 1000 Hz tone (--play), records
# what it hears (--record) and sends DTMF 12 (echoed back like the audio).
#   WHO=caller (default): our call hangs up after --duration 3 (BYE, SIPp answers 200);
#   WHO=callee: SIPp hangs up 2 s after the ACK; our call (--duration 20) must end then.
# Passes when:
#  - our call exits 0 (answered, RTP both ways) and prints progress 180, connected codec=<CODEC> and
#    ended with rtp_in > 0 and rtp_out > 0; for WHO=callee within 6 s of the answer, not after 20;
#  - SIPp exits 0 (the call completed as its scenario says);
#  - the recording is the tone we sent, echoed: mono 16-bit at the codec's rate (8 kHz for G.711,
#    48 kHz for Opus), at least 1 s of sound, at least 80% of its energy at 1000 Hz (Goertzel).
# MEASURED: rtp_in, rtp_out, the call's length, the tone share, the delay before the first echo
# (about 0.44 s: the DTMF 12 goes first and the tone waits for it; 0.10 s without --dtmf).
#   100rel (fifth argument): SIPp sends its 180 reliably (RFC 3262), answers only once our PRACK came,
#   and sends the 180 again first, which must get no second PRACK.
# Usage: call_sipp_uas.sh SIPVOICE udp|tcp [pcmu|pcma|opus] [caller|callee] [100rel]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
iop_sipvoice_check "${1:-}"
t=${2:?usage: call_sipp_uas.sh SIPVOICE udp|tcp [pcmu|pcma|opus] [caller|callee]}
codec=${3:-pcmu}
who=${4:-caller}
reliable=0
case "${5:-}" in
  '') ;;
  100rel) reliable=1 ;;
  *) iop_fail "the fifth argument is 100rel or nothing, not '$5'" ;;
esac
case "$codec" in
  pcmu) rate=8000 want='PCMU/8000' ;;
  pcma) rate=8000 want='PCMA/8000' ;;
  opus) rate=48000 want='[Oo][Pp][Uu][Ss]/48000(/2)?' ;;
  *) iop_fail "codec: pcmu, pcma or opus, not '$codec'" ;;
esac
case "$who" in
  caller) duration=3 hangup_ms=0 ;;
  callee) duration=20 hangup_ms=2000 ;;
  *) iop_fail "who hangs up: caller or callee, not '$who'" ;;
esac
iop_init "call-sipp-uas-$t-$codec-$who${5:+-$5}"
iop_require_sipp
iop_sipvoice_command call
out=$IOP_DIR/call.out

# ---- SIPp answers and echoes
iop_pick_port sp
iop_pick_media_port mp
iop_sipp sipp sipp-uas -sf "$IOP_SRC_DIR/sipp/uas_echo.xml" -t "$(iop_sipp_transport "$t")" -i 127.0.0.1 \
  -p "$sp" -mi 127.0.0.1 -mp "$mp" -rtp_echo -set hangup_ms "$hangup_ms" -set reliable "$reliable" -m 1 -timeout 40s -timeout_error
iop_wait_listening "$t" "$sp" 10 || iop_fail "SIPp does not listen on $t:127.0.0.1:$sp after 10 s"
iop_wait_listening udp "$mp" 5 || iop_fail "SIPp's RTP echo does not listen on udp:127.0.0.1:$mp"

# ---- our call
iop_wav_tone "$IOP_DIR/tone.wav" "$rate" 1000 2.5
iop_cli_net "$t"
iop_run $((duration + 15)) call "$SIPVOICE" call "sip:echo@127.0.0.1:$sp;transport=$t" --codec "$codec" \
  --play "$IOP_DIR/tone.wav" --record "$IOP_DIR/heard.wav" --dtmf 12 --duration "$duration" "${IOP_CLI_NET[@]}" -v
call_rc=$IOP_RC
call_s=$IOP_WAITED
iop_show "$out" 12
iop_show "$IOP_DIR/call.err" 5
[ "$call_rc" -eq 0 ] || iop_fail "sipvoice call exited $call_rc (expected 0: answered, two-way RTP): $(tail -n 2 "$IOP_DIR/call.err" | tr '\n' ' ')"
grep -q '^progress 180$' "$out" || iop_fail "no 'progress 180' line (SIPp sends 180 Ringing)"
if [ "$reliable" = 1 ]; then
  grep -q '^PRACK ' "$IOP_DIR/sipp-uas-messages.log" || iop_fail "SIPp's trace shows no PRACK (its 180 was reliable)"
  [ "$(grep -c '^progress 180$' "$out")" = 1 ] || iop_fail "the reliable 180 was reported $(grep -c '^progress 180$' "$out") times (expected once)"
fi
grep -Eq "^connected codec=$want\$" "$out" || iop_fail "expected 'connected codec=$want', got: $(iop_cli_lines "$out" '^connected')"
ended=$(grep -m1 '^ended ' "$out" || true)
[ -n "$ended" ] || iop_fail "no 'ended' line"
rtp_in=$(iop_field "$ended" rtp_in)
rtp_out=$(iop_field "$ended" rtp_out)
[ "${rtp_in:-0}" -gt 0 ] && [ "${rtp_out:-0}" -gt 0 ] || iop_fail "no two-way RTP: $ended"
if [ "$who" = callee ]; then
  iop_le "$call_s" 12 || iop_fail "SIPp hung up 2 s after the answer, but our call ran $call_s s (--duration $duration)"
fi

iop_wait_exit "$sipp" 10
[ "$IOP_EXIT" = 0 ] || iop_fail "SIPp exited '$IOP_EXIT' (0: the call went as uas_echo.xml says; see sipp-uas-errors.log, sipp-uas-messages.log)"
grep -q "^$(tr '[:lower:]' '[:upper:]' <<<"$t") message received" "$IOP_DIR/sipp-uas-messages.log" \
  || iop_fail "SIPp's trace shows no $t message"

# ---- we heard our tone, echoed
iop_wav_info "$IOP_DIR/heard.wav" || iop_fail "--record: $IOP_DIR/heard.wav is missing or not a WAV file"
[ "$IOP_WAV_FORMAT/$IOP_WAV_CHANNELS/$IOP_WAV_RATE/$IOP_WAV_BITS" = "1/1/$rate/16" ] \
  || iop_fail "--record: expected 16-bit PCM mono $rate Hz, got format $IOP_WAV_FORMAT, $IOP_WAV_CHANNELS channel(s), $IOP_WAV_RATE Hz, $IOP_WAV_BITS bits"
level=$(iop_wav_samples "$IOP_DIR/heard.wav" | iop_tone_check "$rate" 1000)
iop_log "recording: $IOP_WAV_SECONDS s, $level"
active=$(iop_field "$level" active)
tone=$(iop_field "$level" tone)
iop_le 1 "$active" || iop_fail "the recording has $active s of sound (expected the 2.5 s tone echoed back, at least 1 s)"
iop_le 0.8 "$tone" || iop_fail "only $tone of the recording's energy is at 1000 Hz (expected >= 0.8: our tone, echoed)"
echo "MEASURED call-sipp-uas-$t-$codec-$who${5:+-$5}: rtp_in=$rtp_in rtp_out=$rtp_out call_s=$call_s" \
  "recorded_s=$IOP_WAV_SECONDS sound_s=$active tone_share=$tone first_sound_s=$(iop_field "$level" delay)" \
  "reason='$(sed -n 's/^ended reason=\(.*\) rtp_in=.*/\1/p' <<<"$ended")' $(iop_cli_lines "$out" '^dtmf')"
iop_pass
