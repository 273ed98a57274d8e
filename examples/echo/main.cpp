// sipvoice-echo: the smallest useful libsipvoice program. It registers an extension with a PBX or
// registrar, answers every call, and sends back what the caller says (an echo test line). Ctrl-C
// (SIGINT) or SIGTERM hangs up the calls and un-registers before it exits.
//
//   SIP_REGISTRAR='sip:pbx.example.com;transport=tcp' SIP_USER=1002 SIP_PASSWORD=... sipvoice-echo
//
// Everything runs on one asio::io_context thread: the callbacks below are called on it, so no locks.
#include <asio/io_context.hpp>
#include <asio/ip/address.hpp>
#include <asio/signal_set.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "sipvoice/ua/call_media.hpp"
#include "sipvoice/ua/user_agent.hpp"

using namespace sipvoice;

namespace {

constexpr const char* usage = R"(usage: sipvoice-echo [--registrar URI] [--user EXT] [--auth-user ID] [--password PW]

Registers EXT and echoes the audio of every call back to the caller. Each option may come from
the environment instead: SIP_REGISTRAR (sip:HOST[:PORT][;transport=udp|tcp|tls]), SIP_USER,
SIP_AUTH_USER (when the authentication user differs from EXT), SIP_PASSWORD.
)";

std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v != nullptr ? v : "";
}

// One call: its RTP/SDP side (call_media) and what happens to it (call_handler events).
struct echo_call : ua::call_handler {
    std::unique_ptr<ua::call_media> media;
    ua::call call;

    // A re-INVITE or UPDATE (hold, a new address or codec): answer it from the same media, or refuse
    // it (the call goes on as before). Empty: a re-INVITE without offer, which takes ours.
    void on_offer(const std::string& sdp) override {
        if (sdp.empty()) return call.answer(media->offer());
        if (auto answer = media->answer(sdp)) return call.answer(*answer);
        call.reject(488);
    }
    // The caller's answer, when its INVITE had no SDP and we offered in the 200.
    void on_answer(const std::string& sdp) override { media->on_answer(sdp); }
    void on_connected() override { std::printf("connected codec=%s\n", media->codec_name().c_str()); }
    void on_terminated(int, const std::string& reason) override {
        std::printf("ended reason=%s rtp_in=%llu\n", reason.c_str(),
                    static_cast<unsigned long long>(media->stats().packets_received));
        media->stop();
    }
};

}  // namespace

int main(int argc, char** argv) {
    ua::account acct;
    acct.registrar = env("SIP_REGISTRAR");
    acct.user = env("SIP_USER");
    acct.auth_user = env("SIP_AUTH_USER");
    acct.password = env("SIP_PASSWORD");
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        const bool has_value = i + 1 < argc;
        if (a == "--registrar" && has_value) acct.registrar = argv[++i];
        else if (a == "--user" && has_value) acct.user = argv[++i];
        else if (a == "--auth-user" && has_value) acct.auth_user = argv[++i];
        else if (a == "--password" && has_value) acct.password = argv[++i];
        else {
            std::fputs(usage, a == "-h" || a == "--help" ? stdout : stderr);
            return a == "-h" || a == "--help" ? 0 : 2;
        }
    }
    if (acct.registrar.empty() || acct.user.empty()) {
        std::fprintf(stderr, "sipvoice-echo: set SIP_REGISTRAR and SIP_USER (or see --help)\n");
        return 2;
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, also into a pipe or a log file

    asio::io_context io;
    ua::user_agent_config config;
    // Any free ports: the registrar learns ours from the REGISTER, callers reach us through it.
    config.transport.udp_port = config.transport.tcp_port = config.transport.tls_port = 0;
    ua::user_agent agent(io, config);
    if (auto ec = agent.start()) {
        std::fprintf(stderr, "sipvoice-echo: cannot listen: %s\n", ec.message().c_str());
        return 1;
    }

    // Registration: refreshed, re-tried and re-established by the library; we only print its states.
    agent.add_registration(acct, [](const ua::registration_state& s) {
        if (s.status == ua::registration_status::registered) std::printf("registered expires=%u\n", s.expires);
        if (s.status == ua::registration_status::failed) std::printf("failed reason=%s\n", s.reason.c_str());
        if (s.status == ua::registration_status::unregistered) std::printf("unregistered\n");
    });

    agent.on_incoming_call([&](ua::call call, const sip::message& invite) {
        auto h = std::make_shared<echo_call>();
        h->call = call;
        // Our RTP address in the SDP: the local address toward the hop the INVITE came from (the
        // top Via: the registrar or PBX that relayed it).
        auto via = invite.top_via();
        std::string hop(via ? (via->received.empty() ? via->host : via->received) : "127.0.0.1");
        if (hop.size() > 2 && hop.front() == '[') hop = hop.substr(1, hop.size() - 2);  // [IPv6]
        std::error_code ec;
        auto peer = asio::ip::make_address(hop, ec);
        ua::media_config mc;
        mc.address = agent.transport().local_address_for(ec ? asio::ip::make_address("127.0.0.1") : peer).to_string();
        h->media = ua::call_media::create(io, mc);
        if (!h->media) return call.reject(503);
        // The echo: every 20 ms frame heard goes straight back out. A raw pointer, because the
        // media owns this callback (a shared_ptr to the call here would keep it alive forever).
        ua::call_media* m = h->media.get();
        h->media->on_frame([m](std::span<const std::int16_t> pcm) {
            if (m->audio()) m->audio()->write(pcm);
        });
        // An INVITE without SDP gets our offer in the 200; otherwise we answer the caller's offer.
        const std::string body(invite.body());
        auto sdp = body.empty() ? std::optional<std::string>(h->media->offer()) : h->media->answer(body);
        if (!sdp) return call.reject(h->media->last_status() != 0 ? h->media->last_status() : 488);
        std::printf("incoming from=%s\n", invite.from() ? std::string(invite.from()->address.text).c_str() : "?");
        call.set_handler(h);
        call.ring();
        call.accept(*sdp);
    });

    // Ctrl-C / SIGTERM: BYE to every call, un-REGISTER, then leave io.run().
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](std::error_code ec, int) {
        if (!ec) agent.shutdown([&io] { io.stop(); });
    });
    io.run();
    return 0;
}
