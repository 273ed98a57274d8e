// `sipvoice call` and `sipvoice answer`: a headless softphone. Audio comes from a WAV file (or an
// echo of what is heard) and what is heard can be recorded to a WAV file; no sound card.
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <charconv>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "account_options.hpp"
#include "commands.hpp"
#include "net_options.hpp"
#include "sipvoice/codec/resampler.hpp"
#include "sipvoice/media/wav.hpp"
#include "sipvoice/ua/call_media.hpp"

namespace sipvoice::cli {
namespace {

constexpr std::string_view call_usage = R"(usage: sipvoice call SIP-URI|EXT [options]

Places a call to SIP-URI (e.g. 'sip:1002@192.0.2.1;transport=tcp'), plays a WAV file (or silence),
sends DTMF digits after the answer (RFC 4733), records what it hears, and hangs up after the
duration or when the peer does. With --registrar the INVITE goes through the registrar as outbound
proxy, From is sip:EXT@DOMAIN, a 401/407 is answered with --auth-user/--password, and a bare EXT
as target means sip:EXT@DOMAIN. Prints: progress N | connected codec=... | dtmf digit=D
(RFC 4733) | dtmf digit=D source=info (SIP INFO) | hold | unhold | reoffer rejected status=N |
transfer to=URI (the peer's REFER: we call URI and report how it goes; the lines of that call
follow; URI carries the REFER's Referred-By as a header, ?Referred-By=..., for our INVITE) |
ended reason=... rtp_in=N rtp_out=M [lost=N jitter_ms=X] [rtt_ms=X] (lost and jitter of what we
received, once RTP came in; rtt once the peer's RTCP reported on ours). Exit 0 only for a call that
was answered and had RTP in both directions and no RTP timeout; 1 otherwise (the reason on stderr);
2 on a usage error.

  --play WAV       audio to send (16-bit PCM, or 8-bit G.711 WAV; mono; other rates converted)
  --record WAV     write what is heard (16-bit PCM, mono)
  --dtmf DIGITS    digits to send once connected, e.g. 123#
  --dtmf-info      send the --dtmf digits as SIP INFO (application/dtmf-relay, one every 250 ms)
                   instead of RFC 4733 events in the media
  --duration S     hang up after S seconds of conversation (default 5)
  --codec C        pcmu, pcma, g722 or opus (default: offer PCMU, PCMA, Opus in that order)
  --from URI       our address of record (default sip:EXT@DOMAIN with --user, else
                   sip:sipvoice@<local address>)
  --hold-after S   S seconds after the answer put the call on hold: a re-INVITE with a=sendonly;
                   prints "hold" when the peer answered it
  --unhold-after S S seconds after the answer (after --hold-after) resume: a re-INVITE with
                   a=sendrecv; prints "unhold"
  --reoffer-by M   invite (default) or update: hold and resume by UPDATE (RFC 3311) when the peer
                   allows it, else by re-INVITE
  --rtp-timeout S  hang up when no RTP came from the peer for S seconds while it should send
                   (not on hold); the ended line says reason=rtp timeout (default 30; 0 off)
  --session-expires S
                   RFC 4028 session timer we ask for, refreshed with re-INVITEs (default 1800;
                   0 off; below 90 it also lowers our Min-SE, for tests)
  -h, --help       this help

)";

constexpr std::string_view answer_usage = R"(usage: sipvoice answer [options]

Answers every incoming call (180, then 200 with an SDP answer) and echoes the audio back or plays a
WAV file; records what it hears. With --register it registers the listening address with the
registrar first and keeps it registered, so callers reach it through the registrar. Prints:
listening udp=... tcp=... | registering | registered expires=N | failed retry_in=Ns reason=... |
incoming from=URI [referred_by=URI] (a call a transfer sent here: who referred it, RFC 3892) |
connected codec=... | dtmf digit=D (RFC 4733) | dtmf digit=D source=info (SIP INFO) | transfer
to=URI | ended reason=... rtp_in=N rtp_out=M [lost=N jitter_ms=X] [rtt_ms=X] | unregistered. A
caller's REFER (a blind transfer, RFC 3515) is taken: we call URI (through the registrar when
registered), echo or play there as to the caller, and report how it goes in NOTIFYs; that call's
lines follow; URI carries the REFER's Referred-By as a header (?Referred-By=...), which goes into
our INVITE. SIGINT/SIGTERM end the calls (BYE), un-register and exit 0.

  --listen udp:HOST:PORT|tcp:HOST:PORT   where to listen (default udp:0.0.0.0:5060; TCP and UDP both
                   listen on PORT; port 0 picks free ones, printed as "listening udp=... tcp=...")
  --echo           send back what is heard (default when --play is not given)
  --play WAV       play this file to every caller instead
  --record WAV     write what the caller said (each call writes it when it ends, so the last call
                   to end wins; with a transfer, usually the call to the transfer target)
  --codec C        pcmu, pcma, g722 or opus (default: accept PCMU, PCMA, Opus in that order)
  --max-calls N    exit 0 after N incoming calls have ended (and the calls they were transferred
                   to)
  --register       register with the account options below (they imply it)
  --rtp-timeout S  hang up a call when no RTP came from the caller for S seconds while it should
                   send (not on hold); its ended line says reason=rtp timeout (default 30; 0 off)
  --session-expires S
                   RFC 4028 session timer for calls (default 1800; 0 off; below 90 it also lowers
                   our Min-SE, for tests)
  -h, --help       this help

)";

// The options call and answer share.
struct common_options {
    std::string play;
    std::string record;
    std::vector<sdp::codec> codecs = {sdp::pcmu(), sdp::pcma(), sdp::opus()};
    std::uint32_t app_rate = 8000;
    duration rtp_timeout = ua::media_config{}.rtp_timeout;
};

bool parse_number(std::string_view v, unsigned& out) {
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    return ec == std::errc() && end == v.data() + v.size();
}

// Parses args[i] if it is one of the options call and answer share (--play, --record, --codec,
// --rtp-timeout, --session-expires). Returns 1 when consumed, 0 when not one, -1 on error (printed).
int parse_common_option(std::span<const std::string_view> args, std::size_t& i, common_options& o, net_options& net,
                        const char* command) {
    const std::string_view a = args[i];
    if (a != "--play" && a != "--record" && a != "--codec" && a != "--rtp-timeout" && a != "--session-expires") return 0;
    auto v = option_value(args, i);
    if (!v) return -1;
    unsigned n = 0;
    if (a == "--play") o.play = std::string(*v);
    if (a == "--record") o.record = std::string(*v);
    if (a == "--codec") {
        if (*v == "pcmu") o.codecs = {sdp::pcmu()};
        else if (*v == "pcma") o.codecs = {sdp::pcma()};
        else if (*v == "g722") {
            o.codecs = {sdp::g722()};
            o.app_rate = 16000;  // G.722 samples at 16 kHz (its RTP clock says 8000: RFC 3551 §4.5.2)
        }
        else if (*v == "opus") {
            o.codecs = {sdp::opus()};
            o.app_rate = 48000;
        } else {
            std::fprintf(stderr, "%s: --codec: pcmu, pcma, g722 or opus\n", command);
            return -1;
        }
    }
    if ((a == "--rtp-timeout" || a == "--session-expires") && !parse_number(*v, n)) {
        std::fprintf(stderr, "%s: %.*s: not a number of seconds\n", command, static_cast<int>(a.size()), a.data());
        return -1;
    }
    if (a == "--rtp-timeout") o.rtp_timeout = std::chrono::seconds(n);
    if (a == "--session-expires") {
        net.config.session_expires = n;
        // RFC 4028 §5 wants a Min-SE of at least 90 s; a shorter interval is asked for by tests only.
        if (n != 0 && n < net.config.min_se) net.config.min_se = n;
    }
    return 1;
}

// Loads the file to play at the stream's rate: G.711 calls run at 8 kHz, G.722 at 16 kHz, Opus at 48 kHz.
bool load_play(const std::string& path, std::uint32_t rate, std::vector<std::int16_t>& out) {
    auto wav = media::read_wav(path);
    if (!wav) {
        std::fprintf(stderr, "sipvoice: %s: %s\n", path.c_str(), std::string(wav.error().what()).c_str());
        return false;
    }
    if (wav->channels != 1) {
        std::fprintf(stderr, "sipvoice: %s: must be mono (it has %u channels)\n", path.c_str(), wav->channels);
        return false;
    }
    if (wav->sample_rate == rate) {
        out = std::move(wav->samples);
        return true;
    }
    // Another rate is converted (a 16 kHz recording played into a G.711 call).
    auto rs = codec::resampler::create(wav->sample_rate, rate, codec::resampler_quality::medium);
    if (!rs) {
        std::fprintf(stderr, "sipvoice: %s: cannot convert %u Hz to %u Hz\n", path.c_str(), wav->sample_rate, rate);
        return false;
    }
    // The filter's delay comes out first as zeros; the input is padded by as much so its end is kept.
    auto in = std::move(wav->samples);
    in.resize(in.size() + static_cast<std::size_t>(rs->delay()) * wav->sample_rate / rate + 1, 0);
    out.resize(rs->output_samples(in.size()));
    auto n = rs->process(in, out);
    if (!n) return false;
    out.resize(*n);
    return true;
}

bool save_record(const std::string& path, std::uint32_t rate, std::vector<std::int16_t> samples) {
    media::wav_audio a;
    a.sample_rate = rate;
    a.channels = 1;
    a.samples = std::move(samples);
    if (auto e = media::write_wav(path, a); e.failed()) {
        std::fprintf(stderr, "sipvoice: cannot write %s: %s\n", path.c_str(), std::string(e.what()).c_str());
        return false;
    }
    return true;
}

// What one call does with its media, and what it prints.
struct call_printer : ua::call_handler {
    enum class reoffering : std::uint8_t { none, hold, unhold };

    std::unique_ptr<ua::call_media> media;
    std::vector<std::int16_t> recorded;
    std::vector<std::int16_t> play;
    bool echo = false;
    bool record = false;
    bool connected = false;
    bool ended = false;
    bool rtp_timed_out = false;
    reoffering pending = reoffering::none;
    bool reoffer_by_update = false;
    int final_status = 0;
    std::string reason;
    std::function<void()> on_connected_extra;
    std::function<void()> on_end;
    // The peer asks us to call someone else (REFER, RFC 3515); unset: declined with 603.
    std::function<void(const std::string& target)> on_transfer;
    // This call is the one a REFER asked for: its progress and outcome go back to that call.
    ua::call transfer_of;
    bool transferred = false;  // a REFER of this call's peer was taken (`answer`: one per call)
    std::vector<std::int16_t>* record_sink = &recorded;  // what is heard goes here
    std::uint64_t rtp_in = 0;
    std::uint64_t rtp_out = 0;
    ua::call self;  // to answer re-INVITEs and hang up on an RTP timeout

    void attach_audio() {
        media->on_frame([this](std::span<const std::int16_t> pcm) {
            if (record) record_sink->insert(record_sink->end(), pcm.begin(), pcm.end());
            if (echo && media->audio()) media->audio()->write(pcm);
        });
        // RFC 4733 digits; "source=rtp" is left out so that the line stays what scripts already parse.
        media->on_dtmf([](char d, std::chrono::milliseconds) {
            std::printf("dtmf digit=%c\n", d);
            std::fflush(stdout);
        });
        media->on_rtp_timeout([this] {
            rtp_timed_out = true;
            std::fprintf(stderr, "sipvoice: no RTP from the peer: hanging up\n");
            self.hangup();
        });
    }
    void on_progress(int status, const std::string& sdp) override {
        std::printf("progress %d\n", status);
        std::fflush(stdout);
        if (transfer_of.valid()) transfer_of.notify_refer(status);
        if (!sdp.empty()) media->on_answer(sdp);  // early media
    }
    void on_offer(const std::string& sdp) override {
        // A re-INVITE or UPDATE (hold, unhold, a new address or codec), or the 200 to an offerless
        // INVITE. Empty: a re-INVITE without offer, which takes ours.
        if (sdp.empty()) return self.answer(media->offer());
        if (auto a = media->answer(sdp)) return self.answer(*a);
        std::fprintf(stderr, "sipvoice: re-offer refused: %s\n", media->last_error().c_str());
        self.reject(media->last_status() >= 400 ? media->last_status() : 488);
    }
    void on_answer(const std::string& sdp) override {
        if (!media->on_answer(sdp)) {
            std::fprintf(stderr, "sipvoice: %s\n", media->last_error().c_str());
            return;
        }
        const reoffering done = std::exchange(pending, reoffering::none);
        if (done == reoffering::none) return;
        std::printf("%s\n", done == reoffering::hold ? "hold" : "unhold");
        std::fflush(stdout);
    }
    void on_offer_rejected(int status) override {
        // RFC 3261 §14.1: the session before the re-offer stays in force.
        media->on_offer_rejected();
        pending = reoffering::none;
        std::printf("reoffer rejected status=%d\n", status);
        std::fflush(stdout);
    }
    void on_dtmf(char digit, int duration_ms) override {
        std::printf("dtmf digit=%c source=info duration_ms=%d\n", digit, duration_ms);
        std::fflush(stdout);
    }
    bool on_refer(const std::string& target) override {
        std::printf("transfer to=%s\n", target.c_str());
        std::fflush(stdout);
        if (!on_transfer) return false;  // declined: 603
        on_transfer(target);
        return true;
    }
    void on_connected() override {
        connected = true;
        std::printf("connected codec=%s\n", media->codec_name().c_str());
        std::fflush(stdout);
        if (transfer_of.valid()) transfer_of.notify_refer(200);
        if (!play.empty() && media->audio()) media->audio()->write(play);
        if (on_connected_extra) on_connected_extra();
    }
    // Hold (sendonly) or resume (sendrecv) with a re-INVITE or an UPDATE (RFC 3264 §8.4).
    void reoffer(reoffering what) {
        if (!connected || ended) return;
        media->set_direction(what == reoffering::hold ? sdp::direction::sendonly : sdp::direction::sendrecv);
        pending = what;
        self.reoffer(media->offer(), reoffer_by_update);
    }
    void on_terminated(int status, const std::string& why) override {
        ended = true;
        final_status = status;
        // A transfer that was not answered: its final status is the outcome (RFC 3515 §2.4.5).
        if (transfer_of.valid() && !connected) transfer_of.notify_refer(status >= 300 ? status : 500);
        reason = rtp_timed_out ? "rtp timeout" : why;
        rtp_in = media->socket().packets_received();
        rtp_out = media->socket().packets_sent();
        const ua::media_stats st = media->stats();
        media->stop();
        std::string extra;
        char buf[96];
        // Loss and jitter describe what we received, so they exist once RTP came in; the round trip
        // once the peer's RTCP reported on our sender reports.
        if (st.packets_received > 0) {
            std::snprintf(buf, sizeof buf, " lost=%lld jitter_ms=%.1f", static_cast<long long>(st.packets_lost), st.jitter_ms);
            extra += buf;
        }
        if (st.rtt_ms) {
            std::snprintf(buf, sizeof buf, " rtt_ms=%.1f", *st.rtt_ms);
            extra += buf;
        }
        std::printf("ended reason=%s rtp_in=%llu rtp_out=%llu%s\n", reason.c_str(), static_cast<unsigned long long>(rtp_in),
                    static_cast<unsigned long long>(rtp_out), extra.c_str());
        std::fflush(stdout);
        if (on_end) on_end();
    }
};

// The address our SDP advertises toward `peer`.
std::string media_address(ua::user_agent& agent, const net_options& net, std::string_view peer) {
    if (!net.config.advertised_host.empty()) return net.config.advertised_host;
    std::error_code ec;
    auto addr = asio::ip::make_address(peer, ec);
    if (ec) addr = asio::ip::make_address("127.0.0.1");
    return agent.transport().local_address_for(addr).to_string();
}

// The media settings of one call.
ua::media_config media_config_for(const common_options& co, std::string address) {
    ua::media_config mc;
    mc.address = std::move(address);
    mc.codecs = co.codecs;
    mc.app_rate = co.app_rate;
    mc.rtp_timeout = co.rtp_timeout;
    return mc;
}

// The call a REFER of `transferred`'s peer asks for (RFC 3515): media of its own toward the first hop
// (`opts.proxy`, else the target), the same audio as the transferred call, and its progress and
// outcome reported to that call (NOTIFY). The caller sets on_end and record_sink, places the call
// with agent.place_call() and sets self. nullptr, the REFER's outcome reported, when it cannot be.
std::shared_ptr<call_printer> start_transfer(asio::io_context& io, ua::user_agent& agent, const net_options& net,
                                             const common_options& co, call_printer& transferred,
                                             const std::string& target, const ua::call_options& opts,
                                             const char* who) {
    const auto hop = ua::target_of(opts.proxy.empty() ? target : opts.proxy);
    if (!hop) {
        std::fprintf(stderr, "%s: transfer: not a SIP URI: %s\n", who, target.c_str());
        transferred.self.notify_refer(400);
        return nullptr;
    }
    auto onward = std::make_shared<call_printer>();
    std::string err;
    onward->media = ua::call_media::create(io, media_config_for(co, media_address(agent, net, hop->host)), &err);
    if (!onward->media) {
        std::fprintf(stderr, "%s: transfer: %s\n", who, err.c_str());
        transferred.self.notify_refer(500);
        return nullptr;
    }
    onward->echo = transferred.echo;
    onward->play = transferred.play;
    onward->record = transferred.record;
    onward->transfer_of = transferred.self;
    onward->attach_audio();
    return onward;
}

constexpr std::string_view call_account_note =
    "  (call: the INVITE goes through --registrar as outbound proxy; --expires, --keepalive and\n"
    "  --options-ping are not used)\n";

// How an account's calls go out: through its registrar as outbound proxy, with its credentials for
// a 401/407, from its address of record.
ua::call_options account_call_options(const account_options& account) {
    ua::call_options opts;
    opts.proxy = account.acct.registrar;
    if (account.have_password) opts.credentials = ua::account_credentials(account.acct);
    opts.from = account_aor(account.acct);
    return opts;
}

}  // namespace

int call_command(std::span<const std::string_view> args) {
    net_options net = default_net_options();
    common_options co;
    account_options account;
    std::string uri;
    std::string dtmf;
    bool dtmf_info = false;
    std::string from;
    unsigned duration_s = 5;
    std::optional<unsigned> hold_after;
    std::optional<unsigned> unhold_after;
    bool reoffer_by_update = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string_view a = args[i];
        if (a == "-h" || a == "--help") {
            std::printf("%s%s%s\n%s", call_usage.data(), account_options_help.data(), call_account_note.data(),
                        net_options_help.data());
            return 0;
        }
        const int net_rc = parse_net_option(args, i, net);
        if (net_rc < 0) return 2;
        if (net_rc > 0) continue;
        const int acct_rc = parse_account_option(args, i, account, "sipvoice call");
        if (acct_rc < 0) return 2;
        if (acct_rc > 0) continue;
        const int common_rc = parse_common_option(args, i, co, net, "sipvoice call");
        if (common_rc < 0) return 2;
        if (common_rc > 0) continue;
        if (a == "--dtmf" || a == "--duration" || a == "--from" || a == "--hold-after" || a == "--unhold-after") {
            auto v = option_value(args, i);
            if (!v) return 2;
            if (a == "--dtmf") dtmf = std::string(*v);
            if (a == "--from") from = std::string(*v);
            unsigned n = 0;
            if (a != "--dtmf" && a != "--from" && !parse_number(*v, n)) {
                std::fprintf(stderr, "sipvoice call: %.*s: not a number of seconds\n", static_cast<int>(a.size()), a.data());
                return 2;
            }
            if (a == "--duration") duration_s = n;
            if (a == "--hold-after") hold_after = n;
            if (a == "--unhold-after") unhold_after = n;
        } else if (a == "--dtmf-info") {
            dtmf_info = true;
        } else if (a == "--reoffer-by") {
            auto v = option_value(args, i);
            if (!v) return 2;
            if (*v != "invite" && *v != "update") {
                std::fprintf(stderr, "sipvoice call: --reoffer-by: '%.*s' is neither invite nor update\n", static_cast<int>(v->size()), v->data());
                return 2;
            }
            reoffer_by_update = *v == "update";
        } else if (uri.empty() && !a.starts_with("-")) {
            uri = std::string(a);
        } else {
            std::fprintf(stderr, "sipvoice call: unexpected argument '%.*s' (see --help)\n", static_cast<int>(a.size()), a.data());
            return 2;
        }
    }
    if (unhold_after && (!hold_after || *unhold_after <= *hold_after)) {
        std::fprintf(stderr, "sipvoice call: --unhold-after needs --hold-after with a smaller number of seconds\n");
        return 2;
    }
    ua::call_options opts;
    if (!complete_account(account, "sipvoice call", false, false)) return 2;
    if (account.given) {
        opts = account_call_options(account);
        // A bare extension is dialled in the account's domain (sips: when the registrar is).
        if (!uri.empty() && !uri.starts_with("sip:") && !uri.starts_with("sips:") && uri.find('@') == std::string::npos)
            uri = (account.acct.registrar.starts_with("sips:") ? "sips:" : "sip:") + uri + "@" + account_domain(account.acct);
    }
    if (!from.empty()) opts.from = from;  // --from, over the account's
    auto where = ua::target_of(uri);
    if (!where) {
        std::fprintf(stderr, "sipvoice call: a SIP-URI is required (see --help)\n");
        return 2;
    }
    const auto first_hop = opts.proxy.empty() ? where : ua::target_of(opts.proxy);
    // The io_context outlives everything that holds its timers and sockets (the call's media).
    asio::io_context io;
    auto handler = std::make_shared<call_printer>();
    if (!co.play.empty() && !load_play(co.play, co.app_rate, handler->play)) return 1;

    ua::user_agent agent(io, net.config);
    agent.on_log(stderr_log(net.verbose));
    if (auto ec = agent.start()) {
        std::fprintf(stderr, "sipvoice call: cannot listen: %s\n", ec.message().c_str());
        return 1;
    }
    std::string error;
    handler->media = ua::call_media::create(io, media_config_for(co, media_address(agent, net, first_hop->host)), &error);
    if (!handler->media) {
        std::fprintf(stderr, "sipvoice call: %s\n", error.c_str());
        return 1;
    }
    handler->record = !co.record.empty();
    handler->reoffer_by_update = reoffer_by_update;
    handler->attach_audio();
    asio::steady_timer hangup_timer(io);
    asio::steady_timer hold_timer(io);
    asio::steady_timer unhold_timer(io);
    ua::call c;
    std::shared_ptr<call_printer> onward;  // the call a transfer (the peer's REFER) asked for
    ua::call onward_call;
    asio::steady_timer dtmf_timer(io);
    std::size_t dtmf_next = 0;
    // One INFO per digit, 250 ms apart: paced, so that each one's transaction has usually ended
    // before the next (nothing waits for it).
    std::function<void()> send_info_digit = [&] {
        if (dtmf_next >= dtmf.size()) return;
        if (!c.send_dtmf_info(dtmf[dtmf_next], 160))
            std::fprintf(stderr, "sipvoice call: DTMF '%c' not sent by INFO (not a key, or the call is not up)\n", dtmf[dtmf_next]);
        ++dtmf_next;
        dtmf_timer.expires_after(std::chrono::milliseconds(250));
        dtmf_timer.async_wait([&](std::error_code ec) {
            if (!ec) send_info_digit();
        });
    };
    handler->on_connected_extra = [&] {
        if (!dtmf.empty() && dtmf_info) send_info_digit();
        else if (!dtmf.empty() && handler->media->audio() && !handler->media->audio()->send_dtmf(dtmf))
            std::fprintf(stderr, "sipvoice call: the peer did not accept telephone-events; no DTMF sent\n");
        hangup_timer.expires_after(std::chrono::seconds(duration_s));
        hangup_timer.async_wait([&](std::error_code ec) {
            if (ec) return;
            c.hangup();
            onward_call.hangup();
        });
        if (hold_after) {
            hold_timer.expires_after(std::chrono::seconds(*hold_after));
            hold_timer.async_wait([&](std::error_code ec) {
                if (!ec) handler->reoffer(call_printer::reoffering::hold);
            });
        }
        if (unhold_after) {
            unhold_timer.expires_after(std::chrono::seconds(*unhold_after));
            unhold_timer.async_wait([&](std::error_code ec) {
                if (!ec) handler->reoffer(call_printer::reoffering::unhold);
            });
        }
    };
    // A blind transfer the peer asks for (REFER): we call the target with media of our own, report
    // how that goes (NOTIFY), and play and record on in the new call. The first call ends when the
    // transferor hangs it up; we exit when both have ended.
    int live_calls = 1;
    auto call_ended = [&] {
        if (--live_calls > 0) return;
        hangup_timer.cancel();
        hold_timer.cancel();
        unhold_timer.cancel();
        agent.shutdown([&io] { io.stop(); });
    };
    handler->on_end = [&] {
        hold_timer.cancel();
        unhold_timer.cancel();
        call_ended();
    };
    handler->on_transfer = [&](const std::string& target) {
        if (onward) return handler->self.notify_refer(603);  // one transfer per run
        // The same way as the first call: through the outbound proxy, with the same credentials.
        onward = start_transfer(io, agent, net, co, *handler, target, opts, "sipvoice call");
        if (!onward) return;
        onward->record_sink = &handler->recorded;  // one recording of the whole run
        onward->on_end = call_ended;
        ++live_calls;
        onward_call = agent.place_call(target, onward->media->offer(), onward, opts);
        onward->self = onward_call;
    };
    c = agent.place_call(uri, handler->media->offer(), handler, opts);
    handler->self = c;
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](std::error_code ec, int) {
        if (ec) return;
        c.hangup();
        onward_call.hangup();
    });
    io.run();
    if (!co.record.empty() && !save_record(co.record, co.app_rate, std::move(handler->recorded))) return 1;
    if (!handler->connected) {
        std::fprintf(stderr, "sipvoice call: not answered: %s\n", handler->reason.c_str());
        return 1;
    }
    if (handler->rtp_timed_out) {
        std::fprintf(stderr, "sipvoice call: rtp timeout: no RTP from the peer for %lld s\n",
                     static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(co.rtp_timeout).count()));
        return 1;
    }
    if (handler->rtp_in == 0 || handler->rtp_out == 0) {
        std::fprintf(stderr, "sipvoice call: no two-way audio (rtp_in=%llu rtp_out=%llu)\n",
                     static_cast<unsigned long long>(handler->rtp_in), static_cast<unsigned long long>(handler->rtp_out));
        return 1;
    }
    return 0;
}

int answer_command(std::span<const std::string_view> args) {
    net_options net = default_net_options();
    net.config.transport.udp_port = net.config.transport.tcp_port = 5060;
    common_options co;
    account_options account;
    bool echo = false;
    bool do_register = false;
    unsigned max_calls = 0;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string_view a = args[i];
        if (a == "-h" || a == "--help") {
            std::printf("%s%s\n%s", answer_usage.data(), account_options_help.data(), net_options_help.data());
            return 0;
        }
        const int net_rc = parse_net_option(args, i, net);
        if (net_rc < 0) return 2;
        if (net_rc > 0) continue;
        const int acct_rc = parse_account_option(args, i, account, "sipvoice answer");
        if (acct_rc < 0) return 2;
        if (acct_rc > 0) continue;
        const int common_rc = parse_common_option(args, i, co, net, "sipvoice answer");
        if (common_rc < 0) return 2;
        if (common_rc > 0) continue;
        if (a == "--echo") {
            echo = true;
            continue;
        }
        if (a == "--register") {
            do_register = true;
            continue;
        }
        if (a == "--listen" || a == "--max-calls") {
            auto v = option_value(args, i);
            if (!v) return 2;
            if (a == "--max-calls" && !parse_number(*v, max_calls)) {
                std::fprintf(stderr, "sipvoice answer: --max-calls: not a number\n");
                return 2;
            }
            if (a == "--listen") {
                // udp:HOST:PORT or tcp:HOST:PORT; both transports listen on the port either way.
                const std::string_view spec = *v;
                const auto first = spec.find(':');
                const auto last = spec.rfind(':');
                unsigned port = 0;
                if (first == std::string_view::npos || last == first || !parse_number(spec.substr(last + 1), port) || port > 65535) {
                    std::fprintf(stderr, "sipvoice answer: --listen: udp:HOST:PORT or tcp:HOST:PORT\n");
                    return 2;
                }
                std::string host(spec.substr(first + 1, last - first - 1));
                if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
                net.config.transport.bind_address = host;
                net.config.transport.udp_port = net.config.transport.tcp_port = static_cast<std::uint16_t>(port);
            }
        } else {
            std::fprintf(stderr, "sipvoice answer: unexpected argument '%.*s' (see --help)\n", static_cast<int>(a.size()), a.data());
            return 2;
        }
    }
    do_register = do_register || account.given;
    if (do_register) {
        if (!complete_account(account, "sipvoice answer --register", true)) return 2;
        apply_account(account.acct, net);
    }
    if (co.play.empty()) echo = true;
    std::vector<std::int16_t> play;
    if (!co.play.empty() && !load_play(co.play, co.app_rate, play)) return 1;

    // A transfer (the caller's REFER) goes out the way a `call` with the same account options would:
    // through the registrar as outbound proxy, with its credentials and our address of record.
    const ua::call_options transfer_opts = do_register ? account_call_options(account) : ua::call_options{};

    asio::io_context io;
    ua::user_agent agent(io, net.config);
    agent.on_log(stderr_log(net.verbose));
    if (auto ec = agent.start()) {
        std::fprintf(stderr, "sipvoice answer: cannot listen: %s\n", ec.message().c_str());
        return 1;
    }
    // With port 0 the system picked one: say which, so scripts can call us.
    const std::string shown = net.config.transport.bind_address.empty() ? "0.0.0.0" : net.config.transport.bind_address;
    std::printf("listening udp=%s:%u tcp=%s:%u\n", shown.c_str(), agent.transport().local_port(transport::protocol::udp),
                shown.c_str(), agent.transport().local_port(transport::protocol::tcp));
    std::fflush(stdout);
    unsigned ended = 0;
    bool stopping = false;
    // Ends the calls (BYE) and un-REGISTERs, then closes (user_agent::shutdown).
    auto stop = [&] {
        if (stopping) return;
        stopping = true;
        agent.shutdown([&io] { io.stop(); });
    };
    if (do_register) {
        agent.add_registration(account.acct, [&](const ua::registration_state& s) {
            if (stopping && s.status == ua::registration_status::failed) return;  // the un-REGISTER's fate
            print_registration(s);
        });
    }
    std::vector<std::shared_ptr<call_printer>> live;
    unsigned transfers_live = 0;  // calls placed for a caller's REFER, not ended yet
    auto call_ended = [&](call_printer* hp, bool incoming) {
        if (!co.record.empty()) save_record(co.record, co.app_rate, hp->recorded);
        std::erase_if(live, [hp](const std::shared_ptr<call_printer>& p) { return p.get() == hp; });
        if (incoming) ++ended;
        else --transfers_live;
        if (max_calls != 0 && ended >= max_calls && transfers_live == 0) stop();
    };
    agent.on_incoming_call([&](ua::call c, const sip::message& invite) {
        // Done with --max-calls, only waiting for a transfer's call to end: no new caller.
        if (max_calls != 0 && ended >= max_calls) return c.reject(486);
        auto from = invite.from();
        // A call a transfer sent here says who referred it (RFC 3892 Referred-By).
        auto by = invite.referred_by();
        std::printf("incoming from=%s%s%s\n", from ? std::string(from->address.text).c_str() : "?",
                    by ? " referred_by=" : "", by ? std::string(by->address.text).c_str() : "");
        std::fflush(stdout);
        auto h = std::make_shared<call_printer>();
        auto via = invite.top_via();
        const std::string address =
            media_address(agent, net, via && !via->received.empty() ? via->received : std::string_view("127.0.0.1"));
        std::string error;
        h->media = ua::call_media::create(io, media_config_for(co, address), &error);
        if (!h->media) {
            std::fprintf(stderr, "sipvoice answer: %s\n", error.c_str());
            c.reject(503);
            return;
        }
        h->echo = echo;
        h->play = play;
        h->record = !co.record.empty();
        h->self = c;
        h->attach_audio();
        // Raw pointers: the handler holding a shared_ptr to itself would never be freed.
        h->on_end = [&, hp = h.get()] { call_ended(hp, true); };
        h->on_transfer = [&, hp = h.get()](const std::string& target) {
            if (stopping) return hp->self.notify_refer(603);
            if (std::exchange(hp->transferred, true)) return hp->self.notify_refer(603);  // one per call
            auto onward = start_transfer(io, agent, net, co, *hp, target, transfer_opts, "sipvoice answer");
            if (!onward) return;
            onward->on_end = [&, op = onward.get()] { call_ended(op, false); };
            ++transfers_live;
            live.push_back(onward);
            onward->self = agent.place_call(target, onward->media->offer(), onward, transfer_opts);
        };
        std::string sdp;
        if (invite.body().empty()) {
            sdp = h->media->offer();  // offer in the 200, answer in the ACK
        } else if (auto a = h->media->answer(std::string(invite.body()))) {
            sdp = *a;
        } else {
            std::fprintf(stderr, "sipvoice answer: %s\n", h->media->last_error().c_str());
            c.reject(h->media->last_status() != 0 ? h->media->last_status() : 488);
            return;
        }
        live.push_back(h);
        c.set_handler(h);
        c.ring();
        c.accept(sdp);
    });
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](std::error_code ec, int) {
        if (!ec) stop();
    });
    io.run();
    return 0;
}

}  // namespace sipvoice::cli
