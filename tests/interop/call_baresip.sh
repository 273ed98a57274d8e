#!/usr/bin/env bash
# Calls between our CLI and baresip (Debian's baresip-core 1.0, headless: see iop_start_baresip in
# lib.sh) through a real Kamailio, our leg over TRANSPORT, in DIRECTION:
#   out: baresip registers as 1001 over UDP (digest auth, answermode=auto, a 600 Hz tone from ausine);
#        our `sipvoice call sip:1001@<Kamailio>;transport=T` (--codec CODEC) is routed by Kamailio to
#        it, plays a 1000 Hz tone for 3 s and hangs up. baresip stays on UDP: over TCP its 180/200
#        carry a Contact with the local port of its connection to Kamailio, where nothing listens,
#        and this Kamailio does not Record-Route, so our ACK and BYE could not reach it.
#   in:  our `sipvoice answer --play` (a 1000 Hz tone) listens; a binding of 1002 to its address is
#        put into Kamailio's location table over RPC (iop_add_binding: the answer command has no
#        registration of its own yet, and a REGISTER by sipsak from another port would be stored
#        with sipsak's address by Kamailio's NAT test);
#        baresip (account over T) dials sip:1002@<Kamailio> and quits, hanging up, after 6 s.
#        CODEC: what our answer accepts ("any": all, the offer decides; baresip offers PCMU first).
# Passes when our side prints connected and ended with rtp_in > 0 and rtp_out > 0 (the call command:
# exits 0) and each side heard the other's tone and not its own: our --record has >= 1 s of sound
# with >= 80% of its energy at 600 Hz; baresip's decoded-audio WAV (sndfile) the same at 1000 Hz.
# MEASURED: rtp_in, rtp_out, codec, both tone shares and the delay to the first sound.
# Usage: call_baresip.sh SIPVOICE udp|tcp out|in [pcmu|pcma|g722|opus|any]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
iop_sipvoice_check "${1:-}"
t=${2:?usage: call_baresip.sh SIPVOICE udp|tcp out|in [pcmu|pcma|g722|opus|any]}
dir=${3:?usage: call_baresip.sh SIPVOICE udp|tcp out|in [pcmu|pcma|g722|opus|any]}
codec=${4:-pcmu}
case "$codec" in
  pcmu) want='PCMU/8000' ;; pcma) want='PCMA/8000' ;; g722) want='G722/8000' ;; opus) want='[Oo][Pp][Uu][Ss]/48000(/2)?' ;; any) want='.*' ;;
  *) iop_fail "codec: pcmu, pcma, g722, opus or any, not '$codec'" ;;
esac
codec_opt=()
[ "$codec" = any ] || codec_opt=(--codec "$codec")
iop_init "call-baresip-$t-$dir-$codec"
iop_require_baresip
iop_start_kamailio 401
kport=$(iop_port_of "$t")
# our side plays at the stream's rate: 48 kHz for Opus, 16 kHz for G.722, 8 kHz otherwise
rate=8000
[ "$codec" = opus ] && rate=48000
[ "$codec" = g722 ] && rate=16000
iop_wav_tone "$IOP_DIR/tone.wav" "$rate" 1000 2.5

case "$dir" in
out)
  iop_sipvoice_command call
  iop_pick_port bp
  iop_start_baresip baresip "$bp" 600 \
    "<sip:1001@127.0.0.1:$IOP_UDP_PORT;transport=udp>;auth_pass=secret1001;answermode=auto;regint=60"
  wait_for_binding 1001 10 || iop_fail "baresip did not register 1001 with Kamailio within 10 s (see baresip.out)"
  iop_log "baresip's binding: $(iop_binding_field 1001 Address | tr '\n' ' ')"
  iop_cli_net "$t"
  iop_run 20 call "$SIPVOICE" call "sip:1001@127.0.0.1:$kport;transport=$t" "${codec_opt[@]}" \
    --play "$IOP_DIR/tone.wav" --record "$IOP_DIR/heard.wav" --duration 3 "${IOP_CLI_NET[@]}" -v
  out=$IOP_DIR/call.out
  iop_show "$out" 10
  [ "$IOP_RC" -eq 0 ] || iop_fail "sipvoice call via Kamailio to baresip exited $IOP_RC: $(tail -n 2 "$IOP_DIR/call.err" | tr '\n' ' ')"
  [ "$(iop_count "$IOP_DIR/kamailio.log" 'ROUTE INVITE 1001')" -ge 1 ] || iop_fail "Kamailio did not route our INVITE to 1001"
  ;;
in)
  iop_sipvoice_command answer
  iop_pick_port ap
  # the binding of 1002 to our answer, put into Kamailio's location table over RPC
  iop_add_binding 1002 "sip:1002@127.0.0.1:$ap;transport=$t"
  iop_log "binding of 1002: $(iop_binding_field 1002 Address | tr '\n' ' ')"
  iop_spawn ans answer "$SIPVOICE" answer --listen "$t:127.0.0.1:$ap" --play "$IOP_DIR/tone.wav" \
    --record "$IOP_DIR/heard.wav" --max-calls 1 "${codec_opt[@]}" -v
  iop_wait_listening "$t" "$ap" 10 || iop_fail "sipvoice answer does not listen on $t:127.0.0.1:$ap"
  iop_pick_port bp
  iop_start_baresip baresip "$bp" 600 "<sip:1001@127.0.0.1:$kport;transport=$t>;regint=0" \
    -e "/dial sip:1002@127.0.0.1:$kport" -t 6
  out=$IOP_DIR/answer.out
  wait_for_line "$out" '^connected ' 10 || iop_fail "no 'connected' line within 10 s (baresip dials through Kamailio)"
  iop_log "answer: $IOP_LINE"
  wait_for_line "$out" '^ended ' 15 || iop_fail "no 'ended' line within 15 s (baresip quits and hangs up after 6 s)"
  iop_wait_exit "$ans" 5
  [ "$IOP_EXIT" = 0 ] || iop_fail "sipvoice answer --max-calls 1 exited '$IOP_EXIT' after the call"
  iop_show "$out" 10
  [ "$(iop_count "$IOP_DIR/kamailio.log" 'ROUTE INVITE 1002')" -ge 1 ] || iop_fail "Kamailio did not route baresip's INVITE to 1002"
  ;;
*) iop_fail "direction: out or in, not '$dir'" ;;
esac

grep -Eq "^connected codec=$want\$" "$out" || iop_fail "expected 'connected codec=$want', got: $(iop_cli_lines "$out" '^connected')"
codec_line=$(grep -m1 '^connected ' "$out")
ended=$(grep -m1 '^ended ' "$out" || true)
[ -n "$ended" ] || iop_fail "no 'ended' line"
rtp_in=$(iop_field "$ended" rtp_in)
rtp_out=$(iop_field "$ended" rtp_out)
[ "${rtp_in:-0}" -gt 0 ] && [ "${rtp_out:-0}" -gt 0 ] || iop_fail "no two-way RTP: $ended"

# ---- each side heard the other's tone (baresip closes its WAV files when the call ends)
wait_for_line "$IOP_DIR/baresip.out" 'Call with .* terminated' 5 || iop_log "baresip did not log the end of the call (its log: baresip.out)"

iop_audio_check "$IOP_DIR/heard.wav" 1000
ours_self=$(iop_field "$IOP_AUDIO" tone)
iop_expect_tone "$IOP_DIR/heard.wav" 600 "we heard (600 Hz is baresip's tone; share at our own 1000 Hz: $ours_self)"
ours=$IOP_AUDIO
theirs_wav=$(iop_baresip_wav baresip dec)
[ -n "$theirs_wav" ] || iop_fail "baresip wrote no decoded-audio WAV (sndfile) in $IOP_DIR/baresip"
iop_expect_tone "$theirs_wav" 1000 "baresip heard (1000 Hz is ours)"
theirs=$IOP_AUDIO
echo "MEASURED call-baresip-$t-$dir-$codec: ${codec_line#connected } rtp_in=$rtp_in rtp_out=$rtp_out" \
  "we_heard_600Hz_share=$(iop_field "$ours" tone) our_first_sound_s=$(iop_field "$ours" delay)" \
  "baresip_heard_1000Hz_share=$(iop_field "$theirs" tone) baresip_first_sound_s=$(iop_field "$theirs" delay)"
kill -TERM "$IOP_BARESIP_PID" 2>/dev/null || true
iop_wait_exit "$IOP_BARESIP_PID" 5
iop_pass
