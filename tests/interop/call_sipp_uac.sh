#!/usr/bin/env bash
# SIPp calls our `sipvoice answer --echo` over TRANSPORT with its built-in uac_pcap scenario: INVITE
# offering PCMA (8) and telephone-event (101), then 7 s of speech from the sip-tester package's
# g711a.pcap (236 packets of 30 ms, PCMA), one RFC 4733 DTMF '1' (dtmf_2833_1.pcap, 10 packets) and a
# BYE 9 s after the ACK. Passes when:
#  - SIPp exits 0 (the call completed: 180/200, ACK, BYE answered 200);
#  - our answer prints incoming, connected codec=PCMA/8000 and ended with rtp_in > 0 and rtp_out > 0,
#    and exits 0 after the call (--max-calls 1);
#  - our echo reached SIPp: its media socket (the port its SDP names, which it never reads) has bytes
#    queued during the call;
#  - what we recorded (--record) is the pcap's speech: 8 kHz 16-bit mono, and the loudness envelope
#    of the recording correlates with the pcap's (decoded here) above 0.9.
# MEASURED: rtp_in, rtp_out, bytes queued at SIPp, recording length, envelope correlation and lag.
# Usage: call_sipp_uac.sh SIPVOICE udp|tcp
set -euo pipefail
source "$(dirname "$0")/lib.sh"
iop_sipvoice_check "${1:-}"
t=${2:?usage: call_sipp_uac.sh SIPVOICE udp|tcp}
iop_init "call-sipp-uac-$t"
iop_require_sipp
iop_require_pcap_play
iop_sipvoice_command answer
iop_sipp_pcaps
out=$IOP_DIR/answer.out

# ---- our answer, echoing and recording
iop_pick_port ap
iop_spawn ans answer "$SIPVOICE" answer --listen "$t:127.0.0.1:$ap" --echo --record "$IOP_DIR/heard.wav" \
  --max-calls 1 -v
iop_wait_listening "$t" "$ap" 10 || iop_fail "sipvoice answer does not listen on $t:127.0.0.1:$ap after 10 s"

# ---- SIPp's uac_pcap calls it
iop_pick_port sp
iop_pick_media_port mp
iop_sipp sipp sipp-uac -sn uac_pcap -t "$(iop_sipp_transport "$t")" -i 127.0.0.1 -p "$sp" -mi 127.0.0.1 \
  -mp "$mp" -m 1 -l 1 -timeout 30s -timeout_error "127.0.0.1:$ap"
wait_for_line "$out" '^connected ' 10 || iop_fail "no 'connected' line within 10 s of SIPp's INVITE"
iop_log "answer: $IOP_LINE"
# our echo piles up in SIPp's (unread) media socket
sleep 3
queued=$(iop_udp_recvq "$mp")
iop_log "bytes queued on SIPp's media socket (port $mp) 3 s into the call: $queued"

iop_sipp_call_done "$sipp" sipp-uac "$ans" "$out"
ended=$IOP_ENDED
iop_show "$out" 10

# ---- the event lines
grep -q '^incoming from=sip:sipp@127.0.0.1' "$out" || iop_fail "no 'incoming from=sip:sipp@127.0.0.1...' line"
grep -q '^connected codec=PCMA/8000$' "$out" \
  || iop_fail "expected 'connected codec=PCMA/8000' (SIPp offers PCMA and telephone-event only), got: $(iop_cli_lines "$out" '^connected')"
rtp_in=$(iop_field "$ended" rtp_in)
rtp_out=$(iop_field "$ended" rtp_out)
[[ "$rtp_in" =~ ^[0-9]+$ && "$rtp_out" =~ ^[0-9]+$ ]] || iop_fail "cannot read rtp_in/rtp_out in: $ended"
[ "$rtp_in" -gt 0 ] && [ "$rtp_out" -gt 0 ] || iop_fail "no two-way RTP: $ended"
sent=$(iop_pcap_rtp "$IOP_SIPP_PCAP_DIR/g711a.pcap" | wc -l)
sent=$((sent + $(iop_pcap_rtp "$IOP_SIPP_PCAP_DIR/dtmf_2833_1.pcap" | wc -l)))
[ "$rtp_in" -ge $((sent * 9 / 10)) ] || iop_fail "rtp_in=$rtp_in, but SIPp sent $sent packets (over loopback: none should be lost)"
[ "$queued" -gt 0 ] || iop_fail "nothing arrived on SIPp's media port $mp (rtp_out=$rtp_out: sent elsewhere?)"

# ---- what we heard is SIPp's speech
iop_wav_info "$IOP_DIR/heard.wav" || iop_fail "--record: $IOP_DIR/heard.wav is missing or not a WAV file"
[ "$IOP_WAV_FORMAT/$IOP_WAV_CHANNELS/$IOP_WAV_RATE/$IOP_WAV_BITS" = 1/1/8000/16 ] \
  || iop_fail "--record: expected 16-bit PCM mono 8 kHz, got format $IOP_WAV_FORMAT, $IOP_WAV_CHANNELS channel(s), $IOP_WAV_RATE Hz, $IOP_WAV_BITS bits"
iop_pcap_g711 "$IOP_SIPP_PCAP_DIR/g711a.pcap" 8 >"$IOP_DIR/sent.txt"
iop_wav_samples "$IOP_DIR/heard.wav" >"$IOP_DIR/heard.txt"
corr=$(iop_envelope_corr 8000 "$IOP_DIR/sent.txt" 8000 "$IOP_DIR/heard.txt")
level=$(iop_tone_check 8000 1000 <"$IOP_DIR/heard.txt")
iop_log "recording: $IOP_WAV_SECONDS s, $level; against g711a.pcap: $corr"
c=$(iop_field "$corr" corr)
iop_le 0.9 "$c" || iop_fail "the recording is not SIPp's speech: envelope correlation $c (< 0.9)"
echo "MEASURED call-sipp-uac-$t: rtp_in=$rtp_in (SIPp sent $sent) rtp_out=$rtp_out sipp_media_queued_bytes=$queued" \
  "recorded_s=$IOP_WAV_SECONDS envelope_corr=$c lag_s=$(iop_field "$corr" lag) $(iop_cli_lines "$out" '^dtmf')"
iop_pass
