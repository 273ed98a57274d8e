#!/usr/bin/env bash
# SIPp calls our `sipvoice answer --echo` over TRANSPORT with an INVITE that requires reliable
# provisional responses (Require: 100rel, RFC 3262): sipp/uac_100rel.xml. Passes when:
#  - SIPp exits 0: our 180 carried Require: 100rel and an RSeq, the call was answered, its PRACK for
#    the 180 got a 200 and a PRACK naming another RSeq a 481, its BYE a 200;
#  - our answer prints incoming, connected and ended, and exits 0 after the call (--max-calls 1).
# Before RFC 3262 was implemented such an INVITE got 420 Bad Extension (Unsupported: 100rel).
# Usage: call_sipp_100rel.sh SIPVOICE udp|tcp
set -euo pipefail
source "$(dirname "$0")/lib.sh"
iop_sipvoice_check "${1:-}"
t=${2:?usage: call_sipp_100rel.sh SIPVOICE udp|tcp}
iop_init "call-sipp-100rel-$t"
iop_require_sipp
iop_sipvoice_command answer
out=$IOP_DIR/answer.out

iop_pick_port ap
iop_spawn ans answer "$SIPVOICE" answer --listen "$t:127.0.0.1:$ap" --echo --max-calls 1 -v
iop_wait_listening "$t" "$ap" 10 || iop_fail "sipvoice answer does not listen on $t:127.0.0.1:$ap after 10 s"

iop_pick_port sp
iop_pick_media_port mp
iop_sipp sipp sipp-uac -sf "$IOP_SRC_DIR/sipp/uac_100rel.xml" -t "$(iop_sipp_transport "$t")" -i 127.0.0.1 \
  -p "$sp" -mi 127.0.0.1 -mp "$mp" -s 1002 -m 1 -timeout 20s -timeout_error "127.0.0.1:$ap"
iop_sipp_call_done "$sipp" sipp-uac "$ans" "$out"
ended=$IOP_ENDED
iop_show "$out" 10
grep -q '^incoming from=sip:sipp@127.0.0.1' "$out" || iop_fail "no 'incoming from=sip:sipp@127.0.0.1...' line"
grep -q '^connected ' "$out" || iop_fail "no 'connected' line"
rseq=$(sed -n 's/^RSeq: *//p' "$IOP_DIR/sipp-uac-messages.log" | head -n 1 | tr -d '\r')
echo "MEASURED call-sipp-100rel-$t: rseq=$rseq $ended"
iop_pass
