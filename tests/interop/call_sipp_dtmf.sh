#!/usr/bin/env bash
# RFC 4733 DTMF from SIPp to our `sipvoice answer --echo` over TRANSPORT: sipp/uac_pcap_dtmf.xml offers
# PCMA and telephone-event 101, plays 2 s of g711a.pcap, then one dtmf_2833_*.pcap per digit (the
# sip-tester package's files: 1, 5, 9, *, #, 0), 400 ms apart, and hangs up. The digits a pcap holds
# are read from the pcap itself (iop_pcap_dtmf), in the order the scenario plays them. Note: the
# digit files come from two captures: dtmf_2833_0.pcap's sequence numbers jump by 3637 after the
# '#' file and its timestamp goes back, as after a stream restart; a receiver must report it anyway.
# Passes when SIPp exits 0 and our answer prints one `dtmf digit=D` line per digit, in that order,
# nothing else, and an ended line with two-way RTP.
# MEASURED: the digits, rtp_in, rtp_out.
# Usage: call_sipp_dtmf.sh SIPVOICE udp|tcp
set -euo pipefail
source "$(dirname "$0")/lib.sh"
iop_sipvoice_check "${1:-}"
t=${2:?usage: call_sipp_dtmf.sh SIPVOICE udp|tcp}
iop_init "call-sipp-dtmf-$t"
iop_require_sipp
iop_require_pcap_play
iop_sipvoice_command answer
iop_sipp_pcaps
out=$IOP_DIR/answer.out
# SIPp looks for pcap files next to the scenario first: run a copy in $IOP_DIR, next to pcap/.
cp "$IOP_SRC_DIR/sipp/uac_pcap_dtmf.xml" "$IOP_DIR/"
scenario=$IOP_DIR/uac_pcap_dtmf.xml

# ---- the digits the scenario sends: its play_pcap_audio files, in order
mapfile -t pcaps < <(sed -n 's/.*play_pcap_audio="\(pcap\/dtmf_[^"]*\)".*/\1/p' "$scenario")
[ ${#pcaps[@]} -gt 0 ] || iop_fail "no dtmf pcap in $scenario"
expected=$(cd "$IOP_DIR" && iop_pcap_dtmf "${pcaps[@]}")
iop_log "the scenario plays ${pcaps[*]}: digits '$expected'"
[ "${#expected}" -eq "${#pcaps[@]}" ] || iop_fail "expected one digit per pcap file, read '$expected'"

# ---- our answer
iop_pick_port ap
iop_spawn ans answer "$SIPVOICE" answer --listen "$t:127.0.0.1:$ap" --echo --max-calls 1 -v
iop_wait_listening "$t" "$ap" 10 || iop_fail "sipvoice answer does not listen on $t:127.0.0.1:$ap after 10 s"

# ---- SIPp calls, plays audio then the digits
iop_pick_port sp
iop_pick_media_port mp
iop_sipp sipp sipp-dtmf -sf "$scenario" -t "$(iop_sipp_transport "$t")" -i 127.0.0.1 -p "$sp" -mi 127.0.0.1 \
  -mp "$mp" -set audio_ms 2000 -m 1 -l 1 -timeout 30s -timeout_error "127.0.0.1:$ap"
wait_for_line "$out" '^connected ' 10 || iop_fail "no 'connected' line within 10 s of SIPp's INVITE"
iop_log "answer: $IOP_LINE"
iop_sipp_call_done "$sipp" sipp-dtmf "$ans" "$out"
ended=$IOP_ENDED
iop_show "$out" 15

got=$(sed -n 's/^dtmf digit=\(.\).*/\1/p' "$out" | tr -d '\n')
rtp_in=$(iop_field "$ended" rtp_in)
rtp_out=$(iop_field "$ended" rtp_out)
[ "${rtp_in:-0}" -gt 0 ] && [ "${rtp_out:-0}" -gt 0 ] || iop_fail "no two-way RTP: $ended"
echo "MEASURED call-sipp-dtmf-$t: sent='$expected' reported='$got' rtp_in=$rtp_in rtp_out=$rtp_out"
if [ "$got" != "$expected" ]; then
  missing=""
  for ((i = 0; i < ${#expected}; i++)); do
    [[ "$got" == *"${expected:i:1}"* ]] && continue
    missing+=" ${expected:i:1} (${pcaps[i]})"
    # what the RTP headers did there: the last packet of the file before, the first of this one
    if [ "$i" -gt 0 ]; then
      iop_log "before ${expected:i:1}: last packet of ${pcaps[i - 1]}: $(iop_pcap_rtp "$IOP_DIR/${pcaps[i - 1]}" | tail -n1)"
    fi
    iop_log "digit ${expected:i:1}: first packet of ${pcaps[i]}: $(iop_pcap_rtp "$IOP_DIR/${pcaps[i]}" | head -n1)"
  done
  iop_fail "DTMF: SIPp sent '$expected', our answer reported '$got'${missing:+; missing:$missing}"
fi
iop_pass
