// `sipvoice call` and `sipvoice answer`: a headless softphone. Audio comes from a WAV file (or an
// echo of what is heard) and what is heard can be recorded to a WAV file; no sound card.
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <charconv>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "net_options.hpp"
#include "sipvoice/media/wav.hpp"
#include "sipvoice/ua/call_media.hpp"

namespace sipvoice::cli {
namespace {

constexpr std::string_view call_usage = R"(usage: sipvoice call SIP-URI [options]

Places a call to SIP-URI (e.g. 'sip:1002@192.0.2.1;transport=tcp'), plays a WAV file (or silence),
sends DTMF digits after the answer (RFC 4733), records what it hears, and hangs up after the
duration or when the peer does. Prints: progress N | connected codec=... | dtmf digit=D |
ended reason=... rtp_in=N rtp_out=M. Exit 0 only for a call that was answered and had RTP in both
directions; 1 otherwise (the reason on stderr); 2 on a usage error.

  --play WAV       audio to send (16-bit PCM, or 8-bit G.711 WAV; mono)
  --record WAV     write what is heard (16-bit PCM, mono)
  --dtmf DIGITS    digits to send once connected, e.g. 123#
  --duration S     hang up after S seconds of conversation (default 5)
  --codec C        pcmu, pcma or opus (default: offer PCMU, PCMA, Opus in that order)
  --from URI       our address of record (default sip:sipvoice@<local address>)
  -h, --help       this help

)";

constexpr std::string_view answer_usage = R"(usage: sipvoice answer [options]

Answers every incoming call (180, then 200 with an SDP answer) and echoes the audio back or plays a
WAV file; records what it hears. Prints: incoming from=URI | connected codec=... | dtmf digit=D |
ended reason=... rtp_in=N rtp_out=M. SIGINT/SIGTERM end the calls (BYE) and exit 0.

  --listen udp:HOST:PORT|tcp:HOST:PORT   where to listen (default udp:0.0.0.0:5060; TCP and UDP both
                   listen on PORT; port 0 picks free ones, printed as "listening udp=... tcp=...")
  --echo           send back what is heard (default when --play is not given)
  --play WAV       play this file to every caller instead
  --record WAV     write what the (last) caller said
  --codec C        pcmu, pcma or opus (default: accept PCMU, PCMA, Opus in that order)
  --max-calls N    exit 0 after N calls have ended
  -h, --help       this help

)";

struct common_options {
    std::string play;
    std::string record;
    std::vector<sdp::codec> codecs = {sdp::pcmu(), sdp::pcma(), sdp::opus()};
    std::uint32_t app_rate = 8000;
};

bool parse_codec(std::string_view v, common_options& o) {
    if (v == "pcmu") o.codecs = {sdp::pcmu()};
    else if (v == "pcma") o.codecs = {sdp::pcma()};
    else if (v == "opus") {
        o.codecs = {sdp::opus()};
        o.app_rate = 48000;
    } else return false;
    return true;
}

bool parse_number(std::string_view v, unsigned& out) {
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    return ec == std::errc() && end == v.data() + v.size();
}

// Loads the file to play at the stream's rate: G.711 calls run at 8 kHz, Opus at 48 kHz.
bool load_play(const std::string& path, std::uint32_t rate, std::vector<std::int16_t>& out) {
    auto wav = media::read_wav(path);
    if (!wav) {
        std::fprintf(stderr, "sipvoice: %s: %s\n", path.c_str(), std::string(wav.error().what()).c_str());
        return false;
    }
    if (wav->channels != 1 || wav->sample_rate != rate) {
        std::fprintf(stderr, "sipvoice: %s: must be mono at %u Hz for this codec (it is %u channel(s) at %u Hz)\n",
                     path.c_str(), rate, wav->channels, wav->sample_rate);
        return false;
    }
    out = std::move(wav->samples);
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
    std::unique_ptr<ua::call_media> media;
    std::vector<std::int16_t> recorded;
    std::vector<std::int16_t> play;
    bool echo = false;
    bool record = false;
    bool connected = false;
    bool ended = false;
    int final_status = 0;
    std::string reason;
    std::function<void()> on_connected_extra;
    std::function<void()> on_end;
    std::uint64_t rtp_in = 0;
    std::uint64_t rtp_out = 0;
    ua::call self;  // to answer re-INVITEs

    void attach_audio() {
        media->on_frame([this](std::span<const std::int16_t> pcm) {
            if (record) recorded.insert(recorded.end(), pcm.begin(), pcm.end());
            if (echo && media->audio()) media->audio()->write(pcm);
        });
        media->on_dtmf([](char d, std::chrono::milliseconds) {
            std::printf("dtmf digit=%c\n", d);
            std::fflush(stdout);
        });
    }
    void on_progress(int status, const std::string& sdp) override {
        std::printf("progress %d\n", status);
        std::fflush(stdout);
        if (!sdp.empty()) media->on_answer(sdp);  // early media
    }
    void on_offer(const std::string& sdp) override {
        // A re-INVITE (hold, unhold, a new address or codec), or the 200 to an offerless INVITE.
        if (auto a = media->answer(sdp)) self.answer(*a);
        else std::fprintf(stderr, "sipvoice: re-offer refused: %s\n", media->last_error().c_str());
    }
    void on_answer(const std::string& sdp) override {
        if (!media->on_answer(sdp)) std::fprintf(stderr, "sipvoice: %s\n", media->last_error().c_str());
    }
    void on_connected() override {
        connected = true;
        std::printf("connected codec=%s\n", media->codec_name().c_str());
        std::fflush(stdout);
        if (!play.empty() && media->audio()) media->audio()->write(play);
        if (on_connected_extra) on_connected_extra();
    }
    void on_terminated(int status, const std::string& why) override {
        ended = true;
        final_status = status;
        reason = why;
        rtp_in = media->socket().packets_received();
        rtp_out = media->socket().packets_sent();
        media->stop();
        std::printf("ended reason=%s rtp_in=%llu rtp_out=%llu\n", why.c_str(), static_cast<unsigned long long>(rtp_in),
                    static_cast<unsigned long long>(rtp_out));
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

}  // namespace

int call_command(std::span<const std::string_view> args) {
    net_options net = default_net_options();
    common_options co;
    std::string uri;
    std::string dtmf;
    std::string from;
    unsigned duration_s = 5;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string_view a = args[i];
        if (a == "-h" || a == "--help") {
            std::printf("%s%s", call_usage.data(), net_options_help.data());
            return 0;
        }
        const int net_rc = parse_net_option(args, i, net);
        if (net_rc < 0) return 2;
        if (net_rc > 0) continue;
        if (a == "--play" || a == "--record" || a == "--dtmf" || a == "--duration" || a == "--codec" || a == "--from") {
            auto v = option_value(args, i);
            if (!v) return 2;
            if (a == "--play") co.play = std::string(*v);
            if (a == "--record") co.record = std::string(*v);
            if (a == "--dtmf") dtmf = std::string(*v);
            if (a == "--from") from = std::string(*v);
            if (a == "--duration" && !parse_number(*v, duration_s)) {
                std::fprintf(stderr, "sipvoice call: --duration: not a number of seconds\n");
                return 2;
            }
            if (a == "--codec" && !parse_codec(*v, co)) {
                std::fprintf(stderr, "sipvoice call: --codec: pcmu, pcma or opus\n");
                return 2;
            }
        } else if (uri.empty() && !a.starts_with("-")) {
            uri = std::string(a);
        } else {
            std::fprintf(stderr, "sipvoice call: unexpected argument '%.*s' (see --help)\n", static_cast<int>(a.size()), a.data());
            return 2;
        }
    }
    auto where = ua::target_of(uri);
    if (!where) {
        std::fprintf(stderr, "sipvoice call: a SIP-URI is required (see --help)\n");
        return 2;
    }
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
    ua::media_config mc;
    mc.address = media_address(agent, net, where->host);
    mc.codecs = co.codecs;
    mc.app_rate = co.app_rate;
    std::string error;
    handler->media = ua::call_media::create(io, mc, &error);
    if (!handler->media) {
        std::fprintf(stderr, "sipvoice call: %s\n", error.c_str());
        return 1;
    }
    handler->record = !co.record.empty();
    handler->attach_audio();
    asio::steady_timer hangup_timer(io);
    ua::call c;
    handler->on_connected_extra = [&] {
        if (!dtmf.empty() && handler->media->audio() && !handler->media->audio()->send_dtmf(dtmf))
            std::fprintf(stderr, "sipvoice call: the peer did not accept telephone-events; no DTMF sent\n");
        hangup_timer.expires_after(std::chrono::seconds(duration_s));
        hangup_timer.async_wait([&](std::error_code ec) {
            if (!ec) c.hangup();
        });
    };
    handler->on_end = [&] {
        hangup_timer.cancel();
        agent.shutdown([&io] { io.stop(); });
    };
    c = agent.place_call(uri, handler->media->offer(), handler, from);
    handler->self = c;
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](std::error_code ec, int) {
        if (!ec) c.hangup();
    });
    io.run();
    if (!co.record.empty() && !save_record(co.record, co.app_rate, std::move(handler->recorded))) return 1;
    if (!handler->connected) {
        std::fprintf(stderr, "sipvoice call: not answered: %s\n", handler->reason.c_str());
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
    bool echo = false;
    unsigned max_calls = 0;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string_view a = args[i];
        if (a == "-h" || a == "--help") {
            std::printf("%s%s", answer_usage.data(), net_options_help.data());
            return 0;
        }
        const int net_rc = parse_net_option(args, i, net);
        if (net_rc < 0) return 2;
        if (net_rc > 0) continue;
        if (a == "--echo") {
            echo = true;
            continue;
        }
        if (a == "--listen" || a == "--play" || a == "--record" || a == "--codec" || a == "--max-calls") {
            auto v = option_value(args, i);
            if (!v) return 2;
            if (a == "--play") co.play = std::string(*v);
            if (a == "--record") co.record = std::string(*v);
            if (a == "--codec" && !parse_codec(*v, co)) {
                std::fprintf(stderr, "sipvoice answer: --codec: pcmu, pcma or opus\n");
                return 2;
            }
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
    if (co.play.empty()) echo = true;
    std::vector<std::int16_t> play;
    if (!co.play.empty() && !load_play(co.play, co.app_rate, play)) return 1;

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
    auto stop = [&] {
        if (stopping) return;
        stopping = true;
        agent.shutdown([&io] { io.stop(); });
    };
    std::vector<std::shared_ptr<call_printer>> live;
    agent.on_incoming_call([&](ua::call c, const sip::message& invite) {
        auto from = invite.from();
        std::printf("incoming from=%s\n", from ? std::string(from->address.text).c_str() : "?");
        std::fflush(stdout);
        auto h = std::make_shared<call_printer>();
        ua::media_config mc;
        auto via = invite.top_via();
        mc.address = media_address(agent, net, via && !via->received.empty() ? via->received : std::string_view("127.0.0.1"));
        mc.codecs = co.codecs;
        mc.app_rate = co.app_rate;
        std::string error;
        h->media = ua::call_media::create(io, mc, &error);
        if (!h->media) {
            std::fprintf(stderr, "sipvoice answer: %s\n", error.c_str());
            c.reject(503);
            return;
        }
        h->echo = echo;
        h->play = play;
        h->record = !co.record.empty();
        h->attach_audio();
        // A raw pointer: the handler holding a shared_ptr to itself would never be freed.
        h->on_end = [&, hp = h.get()] {
            if (!co.record.empty()) save_record(co.record, co.app_rate, hp->recorded);
            std::erase_if(live, [hp](const std::shared_ptr<call_printer>& p) { return p.get() == hp; });
            ++ended;
            if (max_calls != 0 && ended >= max_calls) stop();
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
        h->self = c;
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
