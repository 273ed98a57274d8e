#!/usr/bin/env bash
# baresip calls our `sipvoice answer --register` through a real Kamailio, over TRANSPORT (udp, tcp):
#  1. our answer listens on a free port and registers 1002 itself (--register --registrar
#     <Kamailio>;transport=T --user 1002 --auth-user auth1002 --password ...: 401 digest), prints
#     "registered expires=N"; Kamailio holds the binding (over TCP the connection's address);
#  2. baresip (account 1001 over T, no registration of its own, a 600 Hz tone) dials
#     sip:1002@<Kamailio>, which looks the binding up and relays the INVITE (Record-Routed, so ACK
#     and BYE come back through it; over TCP over the connection our answer registered from);
#     our answer plays a 1000 Hz tone and records; baresip hangs up after 6 s;
#  3. END=maxcalls (default): --max-calls 1: after baresip's BYE our answer shuts down: un-REGISTER
#     (binding gone, "unregistered"), exit 0;
#     END=sigterm: 3 s into the call our answer gets SIGTERM: BYE to baresip (through Kamailio) and
#     un-REGISTER, exit 0, before baresip's own 6 s are up.
# Passes when both sides heard the other's tone and not their own (>= 1 s of sound, >= 80% of the
# energy at the other's frequency), our answer printed connected/ended with RTP both ways, and the
# binding is gone after it exited 0.
# MEASURED: time to register, codec, rtp_in/rtp_out, tone shares, delays to the first sound.
# Usage: call_register_baresip.sh SIPVOICE udp|tcp [pcmu|pcma|opus|any] [maxcalls|sigterm]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
iop_sipvoice_check "${1:-}"
t=${2:?usage: call_register_baresip.sh SIPVOICE udp|tcp [pcmu|pcma|opus|any] [maxcalls|sigterm]}
codec=${3:-any}
end=${4:-maxcalls}
case "$end" in maxcalls|sigterm) ;; *) iop_fail "end: maxcalls or sigterm, not '$end'" ;; esac
case "$codec" in
  pcmu) want='PCMU/8000' ;; pcma) want='PCMA/8000' ;; opus) want='[Oo][Pp][Uu][Ss]/48000(/2)?' ;; any) want='.*' ;;
  *) iop_fail "codec: pcmu, pcma, opus or any, not '$codec'" ;;
esac
codec_opt=()
[ "$codec" = any ] || codec_opt=(--codec "$codec")
iop_init "call-register-baresip-$t-$codec-$end"
iop_require_baresip
iop_sipvoice_command answer
iop_start_kamailio 401
kport=$(iop_port_of "$t")
rate=8000
[ "$codec" = opus ] && rate=48000
iop_wav_tone "$IOP_DIR/tone.wav" "$rate" 1000 2.5

# ---- our answer registers 1002
iop_pick_port ap
start=$(iop_now)
iop_spawn ans answer "$SIPVOICE" answer --listen "$t:127.0.0.1:$ap" --play "$IOP_DIR/tone.wav" \
  --record "$IOP_DIR/heard.wav" --max-calls 1 "${codec_opt[@]}" --register --registrar "$(iop_registrar_uri "$t")" \
  --user 1002 --auth-user auth1002 --password secret1002 --expires 60 -v
out=$IOP_DIR/answer.out
wait_for_line "$out" '^registered expires=' 10 || iop_fail "sipvoice answer --register printed no 'registered' line within 10 s"
reg_s=$(iop_elapsed "$start")
grep -q "^listening udp=127.0.0.1:$ap tcp=127.0.0.1:$ap\$" "$out" || iop_fail "no 'listening' line for port $ap"
wait_for_binding 1002 5 || iop_fail "no binding of 1002 in Kamailio although our answer says registered"
iop_log "registered after $reg_s s; binding of 1002: $(iop_binding_field 1002 Address | tr '\n' ' ')"
[ "$(iop_count "$IOP_DIR/kamailio.log" "SAVED proto=$t aor=1002 auth=auth1002")" -ge 1 ] \
  || iop_fail "Kamailio did not save a binding of 1002 over $t with auth user auth1002"

# ---- baresip dials 1002 through Kamailio
iop_pick_port bp
iop_start_baresip baresip "$bp" 600 "<sip:1001@127.0.0.1:$kport;transport=$t>;regint=0" \
  -e "/dial sip:1002@127.0.0.1:$kport" -t 6
wait_for_line "$out" '^connected ' 10 || iop_fail "no 'connected' line within 10 s (baresip dials through Kamailio)"
iop_log "answer: $IOP_LINE"
if [ "$end" = sigterm ]; then
  sleep 3
  term_at=$(iop_now)
  kill -TERM "$ans"
  wait_for_line "$out" '^ended ' 2 || iop_fail "no 'ended' line within 2 s of SIGTERM"
  iop_wait_exit "$ans" 8
  [ "$IOP_EXIT" = 0 ] || iop_fail "sipvoice answer exited '$IOP_EXIT' on SIGTERM (expected 0)"
  stop_s=$(iop_elapsed "$term_at")
  grep -q '^ended reason=local hangup ' "$out" || iop_fail "on SIGTERM our answer did not hang up itself: $(grep '^ended' "$out")"
  bye=$(iop_kam_events 'IN-DIALOG BYE' | head -n1)
  [ -n "$bye" ] || iop_fail "our BYE did not pass through Kamailio"
  bye_s=$(awk -v a="$term_at" -v b="$(iop_event_time "$bye")" 'BEGIN { printf "%.2f", b - a }')
  iop_le "$bye_s" 1 || iop_fail "our BYE passed Kamailio $bye_s s after SIGTERM (expected within 1 s)"
  iop_log "SIGTERM: BYE through Kamailio after $bye_s s, exit 0 after $stop_s s"
else
  wait_for_line "$out" '^ended ' 15 || iop_fail "no 'ended' line within 15 s (baresip quits and hangs up after 6 s)"
  iop_wait_exit "$ans" 8
  [ "$IOP_EXIT" = 0 ] || iop_fail "sipvoice answer --max-calls 1 exited '$IOP_EXIT' after the call (expected 0)"
fi
iop_show "$out" 12
[ "$(iop_count "$IOP_DIR/kamailio.log" 'ROUTE INVITE 1002')" -ge 1 ] || iop_fail "Kamailio did not route baresip's INVITE to 1002"
[ "$(iop_count "$IOP_DIR/kamailio.log" 'IN-DIALOG BYE')" -ge 1 ] || iop_fail "the BYE did not come through Kamailio (Record-Route)"
grep -q '^unregistered$' "$out" || iop_fail "our answer did not print 'unregistered' when it shut down"
wait_for_no_binding 1002 3 || iop_fail "the binding of 1002 is still there after our answer exited (no un-REGISTER)"

grep -Eq "^connected codec=$want\$" "$out" || iop_fail "expected 'connected codec=$want', got: $(iop_cli_lines "$out" '^connected')"
codec_line=$(grep -m1 '^connected ' "$out")
ended=$(grep -m1 '^ended ' "$out")
rtp_in=$(iop_field "$ended" rtp_in)
rtp_out=$(iop_field "$ended" rtp_out)
[ "${rtp_in:-0}" -gt 0 ] && [ "${rtp_out:-0}" -gt 0 ] || iop_fail "no two-way RTP: $ended"

# ---- each side heard the other's tone (baresip closes its WAV files when the call ends)
wait_for_line "$IOP_DIR/baresip.out" 'Call with .* terminated' 5 || iop_log "baresip did not log the end of the call (its log: baresip.out)"
iop_expect_tone "$IOP_DIR/heard.wav" 600 "we heard (600 Hz is baresip's tone)"
ours=$IOP_AUDIO
theirs_wav=$(iop_baresip_wav baresip dec)
[ -n "$theirs_wav" ] || iop_fail "baresip wrote no decoded-audio WAV (sndfile) in $IOP_DIR/baresip"
iop_expect_tone "$theirs_wav" 1000 "baresip heard (1000 Hz is ours)"
theirs=$IOP_AUDIO
[ "$end" = sigterm ] && reg_s="$reg_s bye_after_sigterm_s=$bye_s exit_after_sigterm_s=$stop_s"
echo "MEASURED call-register-baresip-$t-$codec-$end: registered_after_s=$reg_s ${codec_line#connected } rtp_in=$rtp_in" \
  "rtp_out=$rtp_out we_heard_600Hz_share=$(iop_field "$ours" tone) our_first_sound_s=$(iop_field "$ours" delay)" \
  "baresip_heard_1000Hz_share=$(iop_field "$theirs" tone) baresip_first_sound_s=$(iop_field "$theirs" delay)"
kill -TERM "$IOP_BARESIP_PID" 2>/dev/null || true
iop_wait_exit "$IOP_BARESIP_PID" 5
iop_pass
