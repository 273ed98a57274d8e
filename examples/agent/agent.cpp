#include "agent.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>

#include <asio/ip/address.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "builtin_tools.hpp"
#include "sipvoice/sip/uri.hpp"
#include "sipvoice/ua/call_media.hpp"
#include "sipvoice/ua/user_agent.hpp"

namespace sipvoice::agent {

std::optional<address_prefix> parse_prefix(std::string_view text) {
    const auto slash = text.find('/');
    std::string host(text.substr(0, slash));
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    std::error_code ec;
    const auto addr = asio::ip::make_address(host, ec);
    if (ec) return std::nullopt;
    address_prefix p;
    if (addr.is_v4()) {
        const auto b = addr.to_v4().to_bytes();
        p.bytes.assign(b.begin(), b.end());
    } else {
        const auto b = addr.to_v6().to_bytes();
        p.bytes.assign(b.begin(), b.end());
    }
    p.bits = static_cast<unsigned>(p.bytes.size() * 8);
    if (slash != std::string_view::npos) {
        const auto bits = text.substr(slash + 1);
        unsigned n = 0;
        if (bits.empty() || bits.size() > 3) return std::nullopt;
        for (const char c : bits) {
            if (c < '0' || c > '9') return std::nullopt;
            n = n * 10 + static_cast<unsigned>(c - '0');
        }
        if (n > p.bits) return std::nullopt;
        p.bits = n;
    }
    return p;
}

bool allowed(const std::vector<address_prefix>& list, std::string_view address) {
    auto a = parse_prefix(address);
    if (!a || address.find('/') != std::string_view::npos) return false;
    // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is its IPv4 address.
    if (a->bytes.size() == 16 && std::all_of(a->bytes.begin(), a->bytes.begin() + 10, [](std::uint8_t b) { return b == 0; }) &&
        a->bytes[10] == 0xff && a->bytes[11] == 0xff) {
        a->bytes.erase(a->bytes.begin(), a->bytes.begin() + 12);
    }
    for (const auto& p : list) {
        if (p.bytes.size() != a->bytes.size()) continue;
        unsigned bit = 0;
        bool match = true;
        for (std::size_t i = 0; i < p.bytes.size() && bit < p.bits; ++i, bit += 8) {
            const unsigned take = std::min(8u, p.bits - bit);
            const auto mask = static_cast<std::uint8_t>(0xff << (8 - take));
            if ((p.bytes[i] & mask) != (a->bytes[i] & mask)) {
                match = false;
                break;
            }
        }
        if (match) return true;
    }
    return false;
}

std::string registrar_uri(const sip_settings& s) {
    std::string uri = s.registrar;
    if (!uri.starts_with("sip:") && !uri.starts_with("sips:")) uri = "sip:" + uri;
    if (uri.starts_with("sips:")) return uri;
    auto parsed = sip::parse_uri(uri);
    if (parsed && !parsed->transport().empty()) return uri;
    if (s.transport == sip_transport::tcp) uri += ";transport=tcp";
    if (s.transport == sip_transport::tls) uri += ";transport=tls";
    return uri;
}

namespace {

// The extension the agent registers (sip.* settings), as the stack takes it.
ua::account account_of(const sip_settings& s) {
    ua::account acct;
    acct.registrar = registrar_uri(s);
    acct.user = s.user;
    acct.auth_user = s.auth_user;
    acct.password = s.password;
    acct.domain = s.domain;
    acct.expires = static_cast<std::uint32_t>(s.expires);
    acct.outbound = s.outbound || !s.instance_id.empty();
    acct.instance_id = s.instance_id;
    return acct;
}

}  // namespace

std::string callback_uri(const config& cfg, std::string_view caller) {
    if (cfg.sip.mode != sip_mode::registered) return std::string(caller);
    auto uri = sip::parse_uri(caller);
    if (!uri || uri->user.empty()) return std::string(caller);
    return "sip:" + sip::unescape(uri->user) + "@" + ua::account_domain(account_of(cfg.sip));
}

std::string transfer_uri(const config& cfg, std::string_view target, std::string_view peer_host) {
    const std::string t(target);
    if (t.starts_with("sip:") || t.starts_with("sips:") || t.starts_with("tel:")) return t;
    if (t.find('@') != std::string::npos) return "sip:" + t;
    const std::string host =
        cfg.sip.mode == sip_mode::registered ? ua::account_domain(account_of(cfg.sip)) : std::string(peer_host);
    return "sip:" + t + "@" + host;
}

namespace {

// One call: its media, its conversation, and the SIP events.
struct agent_call : ua::call_handler, audio_output, std::enable_shared_from_this<agent_call> {
    agent_app::impl* owner = nullptr;
    std::unique_ptr<ua::call_media> media;
    ua::call call;
    std::shared_ptr<conversation> conv;
    std::string id;
    std::string caller;     // the other party's URI (their From, or whom we called)
    std::string peer_host;  // where their signalling came from, for a trunk's transfer target
    bool terminated = false;
    bool connected = false;
    // An outbound call (a timer's or a callback's): what it opens with, why it was made, and how
    // long it may ring.
    bool outbound = false;
    std::string dialled;  // the URI the INVITE went to
    std::string opening;
    std::string why;
    std::unique_ptr<asio::steady_timer> ring_timer;
    bool rang_out = false;
    // A transfer in progress: the REFER is out.
    std::unique_ptr<asio::steady_timer> transfer_timer;
    bool transfer_done = false;

    void play(std::span<const std::int16_t> pcm) override {
        if (media && media->audio()) media->audio()->write(pcm);
    }
    void flush() override {
        if (media && media->audio()) media->audio()->flush();
    }
    [[nodiscard]] std::size_t queued() const override {
        return media && media->audio() ? media->audio()->queued_samples() : 0;
    }

    void on_offer(const std::string& sdp) override {
        if (sdp.empty()) return call.answer(media->offer());
        if (auto answer = media->answer(sdp)) return call.answer(*answer);
        call.reject(488);
    }
    void on_answer(const std::string& sdp) override { media->on_answer(sdp); }
    void on_progress(int, const std::string& sdp) override {
        if (!sdp.empty()) media->on_answer(sdp);  // early media
    }
    void on_connected() override;
    void on_dtmf(char digit, int) override {
        if (conv) conv->on_dtmf(digit);
    }
    void on_terminated(int status, const std::string& reason) override;
    void on_refer_progress(int status, bool final) override;
    void start_transfer(const std::string& target);
};

}  // namespace

struct agent_app::impl : std::enable_shared_from_this<impl> {
    asio::io_context& io;
    const config& cfg;
    conversation_env env;
    ua::user_agent ua;
    std::vector<address_prefix> allow;
    std::map<std::string, std::shared_ptr<agent_call>> calls;  // by Call-ID
    std::optional<std::size_t> registration;
    bool stopping = false;
    std::shared_ptr<scheduler> reminders;
    std::uint64_t outbound_count = 0;  // calls placed, for their local names
    // For system_status, read from the tools' threads.
    mutable std::mutex state_m;
    std::string registration_text = "Listening for calls as a trunk, without a registration.";
    void set_registration_text(std::string text) {
        std::lock_guard lock(state_m);
        registration_text = std::move(text);
    }
    asio::steady_timer wait_timer{io};

    impl(asio::io_context& io_, const config& cfg_, conversation_env env_)
        : io(io_), cfg(cfg_), env(std::move(env_)), ua(io_, ua_config(cfg_)) {
        for (const auto& a : cfg.sip.allow)
            if (auto p = parse_prefix(a)) allow.push_back(*p);
    }

    static ua::user_agent_config ua_config(const config& c) {
        ua::user_agent_config u;
        u.user_agent = "sipvoice-agent";
        const std::string bind = c.sip.listen_address == "0.0.0.0" || c.sip.listen_address == "::" ? "" : c.sip.listen_address;
        u.transport.bind_address = bind;
        u.transport.udp_port = u.transport.tcp_port = static_cast<std::uint16_t>(c.sip.listen_port);
        // TLS listens only with a certificate (none configured): calls and registrations over TLS
        // use the connection we open to the registrar.
        u.transport.tls_port = 0;
        u.dns_server = c.sip.dns_server;
        return u;
    }

    void log(log_level level, const std::string& text) const {
        if (env.log) env.log(level, text);
    }

    void incoming(ua::call c, const sip::message& invite) {
        auto via = invite.top_via();
        const std::string source(via ? (via->received.empty() ? via->host : via->received) : std::string_view());
        const std::string call_id(invite.call_id() ? *invite.call_id() : std::string_view("?"));
        const std::string from(invite.from() ? invite.from()->address.text : std::string_view("?"));
        if (stopping) {
            log(log_level::info, "refusing a call from " + from + ": shutting down (503)");
            return c.reject(503);
        }
        if (cfg.sip.mode == sip_mode::trunk && !allowed(allow, source)) {
            log(log_level::warn, "refusing a call from " + from + " at " + source + ": not in sip.allow (403)");
            return c.reject(403);
        }
        if (calls.size() >= static_cast<std::size_t>(cfg.calls.max_concurrent)) {
            log(log_level::info, "refusing a call from " + from + ": " + std::to_string(calls.size()) +
                                     " calls up, calls.max_concurrent reached (486)");
            return c.reject(486);
        }
        std::string hop(source);
        if (hop.size() > 2 && hop.front() == '[') hop = hop.substr(1, hop.size() - 2);
        auto h = make_call(call_id, from, hop);
        if (!h) return c.reject(503);
        h->call = c;
        std::string sdp;
        if (invite.body().empty()) {
            sdp = h->media->offer();
        } else if (auto a = h->media->answer(std::string(invite.body()))) {
            sdp = *a;
        } else {
            log(log_level::warn, "call from " + from + ": " + h->media->last_error());
            return c.reject(h->media->last_status() != 0 ? h->media->last_status() : 488);
        }
        log(log_level::info, "call " + call_id + " from " + from + " (" + source + ")");
        calls[call_id] = h;
        c.set_handler(h);
        c.ring();
        c.accept(sdp);
    }

    // A call's media and conversation, toward `peer_host` (an address or a host name).
    std::shared_ptr<agent_call> make_call(const std::string& call_id, const std::string& caller,
                                          const std::string& peer_host) {
        auto h = std::make_shared<agent_call>();
        h->owner = this;
        h->id = call_id;
        h->caller = caller;
        h->peer_host = peer_host;
        std::error_code ec;
        auto peer = asio::ip::make_address(peer_host, ec);
        ua::media_config mc;
        mc.address = ua.transport().local_address_for(ec ? asio::ip::make_address("127.0.0.1") : peer).to_string();
        mc.app_rate = 16000;
        // Speech recognition wants the caller's audio at once, and a reply should not wait for the
        // next 20 ms tick (ua/call_media.hpp).
        mc.low_latency = true;
        std::string error;
        h->media = ua::call_media::create(io, mc, &error);
        if (!h->media) {
            log(log_level::error, "cannot open RTP sockets: " + error);
            return nullptr;
        }
        h->conv = conversation::create(io, env, call_id, caller, *h);
        std::weak_ptr<agent_call> weak = h;
        h->conv->on_hangup([weak] {
            if (auto p = weak.lock()) p->call.hangup();
        });
        h->conv->on_transfer([weak](const std::string& target) {
            if (auto p = weak.lock()) p->start_transfer(target);
        });
        auto* conv = h->conv.get();
        h->media->on_frame([conv](std::span<const std::int16_t> pcm) { conv->on_frame(pcm); });
        h->media->on_dtmf([conv](char digit, std::chrono::milliseconds) { conv->on_dtmf(digit); });
        h->media->on_playing([conv](sipvoice::time_point sent) { conv->on_playing(sent); });
        h->media->on_rtp_timeout([weak] {
            if (auto p = weak.lock()) {
                p->owner->log(log_level::warn, "call " + p->id + ": no RTP from the other side, hanging up");
                p->call.hangup();
            }
        });
        return h;
    }

    // One JSON line in the turn log for what happened to an outbound call: {"event": "outbound_call",
    // "to", "why", "outcome"} and, for a call that was not answered, the status and reason.
    void record_outbound(const std::string& to, const std::string& why, const std::string& outcome,
                         std::optional<std::pair<int, std::string>> ended = std::nullopt) const {
        if (!env.turn_log) return;
        nlohmann::json line = {{"event", "outbound_call"}, {"to", to}, {"why", why}, {"outcome", outcome}};
        if (ended) {
            if (ended->first != 0) line["status"] = ended->first;
            line["reason"] = ended->second;
        }
        env.turn_log(line.dump());
    }

    // A timer or callback came due: tell the caller on the line, or call them.
    void reminder_due(const reminder& r) {
        const std::string what = (r.kind == reminder_kind::timer ? "timer " : "callback ") + std::to_string(r.id);
        if (stopping) {
            log(log_level::warn, what + " for " + r.caller + " came due during shutdown: dropped");
            return;
        }
        std::shared_ptr<agent_call> on_line;
        for (auto& [cid, c] : calls) {
            if (!c->connected || c->terminated || !c->conv || c->conv->ending()) continue;
            if (cid == r.call_id) {
                on_line = c;
                break;
            }
            if (c->caller == r.caller && !on_line) on_line = c;
        }
        if (on_line) {
            log(log_level::info, what + " due: telling " + r.caller + " on call " + on_line->id);
            on_line->conv->announce(reminder_announcement(r));
            return;
        }
        const std::string uri = callback_uri(cfg, r.caller);
        log(log_level::info, what + " due: " + r.caller + " has hung up, calling " + uri);
        call_out(uri, r.caller, reminder_opening(r), what);
    }

    bool call_out(const std::string& uri, const std::string& caller, std::string opening, std::string why) {
        auto fail = [&](const std::string& reason) {
            log(log_level::warn, "cannot call " + uri + " (" + why + "): " + reason);
            record_outbound(uri, why, "not placed", std::pair{0, reason});
            return false;
        };
        if (stopping) return fail("shutting down");
        if (calls.size() >= static_cast<std::size_t>(cfg.calls.max_concurrent)) return fail("calls.max_concurrent reached");
        ua::call_options opts;
        std::string first_hop_uri = uri;
        if (cfg.sip.mode == sip_mode::registered) {
            const ua::account acct = account_of(cfg.sip);
            opts.proxy = acct.registrar;
            first_hop_uri = opts.proxy;
            opts.from = ua::account_aor(acct);
            if (!acct.password.empty()) opts.credentials = ua::account_credentials(acct);
        }
        auto hop = ua::target_of(first_hop_uri);
        if (!hop) return fail("not a SIP URI");
        // The call is filed under a name of ours: the stack makes the Call-ID.
        const std::string local_id = "out-" + std::to_string(++outbound_count);
        auto h = make_call(local_id, caller, hop->host);
        if (!h) return fail("no RTP sockets");
        h->outbound = true;
        h->dialled = uri;
        h->opening = std::move(opening);
        h->why = why;
        h->call = ua.place_call(uri, h->media->offer(), h, opts);
        calls[local_id] = h;
        log(log_level::info, "calling " + uri + " (" + why + ")");
        h->ring_timer = std::make_unique<asio::steady_timer>(io);
        h->ring_timer->expires_after(std::chrono::milliseconds(static_cast<long long>(cfg.tools.ring_timeout * 1000)));
        std::weak_ptr<agent_call> weak = h;
        h->ring_timer->async_wait([weak](std::error_code ec) {
            auto p = weak.lock();
            if (ec || !p || p->connected || p->terminated) return;
            p->rang_out = true;
            p->call.hangup();  // CANCEL
        });
        return true;
    }

    // Waits for the calls to end after their goodbye (or the grace time), then lets the stack hang up
    // what is left (BYE) and un-REGISTER.
    std::chrono::steady_clock::time_point shutdown_deadline{};
    std::function<void()> shutdown_done;
    void poll_shutdown() {
        if (!calls.empty() && std::chrono::steady_clock::now() < shutdown_deadline) {
            wait_timer.expires_after(std::chrono::milliseconds(50));
            wait_timer.async_wait([weak = weak_from_this()](std::error_code ec) {
                if (auto m = weak.lock(); m && !ec) m->poll_shutdown();
            });
            return;
        }
        ua.shutdown([done = std::move(shutdown_done)] {
            if (done) done();
        });
    }

    void ended(agent_call* h) {
        auto it = calls.find(h->id);
        if (it != calls.end() && it->second.get() == h) {
            // Destroyed later: this runs inside the call's own handler.
            auto keep = it->second;
            calls.erase(it);
            asio::post(io, [keep] {});
        }
    }
};

void agent_call::on_connected() {
    connected = true;
    if (ring_timer) ring_timer->cancel();
    owner->log(log_level::info, "call " + id + " connected codec=" + media->codec_name());
    if (outbound) owner->record_outbound(dialled, why, "answered");
    if (conv) conv->start(opening);
}

void agent_call::on_terminated(int status, const std::string& reason) {
    if (terminated) return;
    terminated = true;
    if (ring_timer) ring_timer->cancel();
    if (transfer_timer) transfer_timer->cancel();
    if (conv) conv->end();
    if (outbound && !connected) {
        // Not answered: say why in the log and the record (no answer, busy, declined, failed).
        const std::string outcome = rang_out                        ? "no answer"
                                    : status == 486 || status == 600 ? "busy"
                                    : status == 603 || status == 480 ? "declined"
                                                                     : "failed";
        owner->log(log_level::info, "call to " + dialled + " (" + why + "): " + outcome + " (" + std::to_string(status) +
                                        " " + reason + ")");
        owner->record_outbound(dialled, why, outcome, std::pair{status, reason});
    }
    const auto st = media->stats();
    owner->log(log_level::info, "call " + id + " ended status=" + std::to_string(status) + " reason=" + reason +
                                    " turns=" + std::to_string(conv ? conv->turns() : 0) +
                                    " rtp_in=" + std::to_string(st.packets_received) +
                                    " rtp_out=" + std::to_string(st.packets_sent));
    media->stop();
    owner->ended(this);
}

void agent_call::start_transfer(const std::string& target) {
    const std::string uri = transfer_uri(owner->cfg, target, peer_host);
    owner->log(log_level::info, "call " + id + ": REFER to " + uri);
    transfer_done = false;
    if (!call.refer(uri)) {
        if (conv) conv->transfer_failed("the REFER could not be sent");
        return;
    }
    // A PBX that accepts the REFER but never reports the outcome: the caller is with the PBX by
    // then; hang up after a while rather than hold the line open.
    transfer_timer = std::make_unique<asio::steady_timer>(owner->io);
    transfer_timer->expires_after(std::chrono::seconds(15));
    std::weak_ptr<agent_call> weak = weak_from_this();
    transfer_timer->async_wait([weak](std::error_code ec) {
        auto p = weak.lock();
        if (ec || !p || p->transfer_done || p->terminated) return;
        p->transfer_done = true;
        p->owner->log(log_level::info, "call " + p->id + ": no final NOTIFY for the transfer; hanging up");
        p->call.hangup();
    });
}

void agent_call::on_refer_progress(int status, bool final) {
    owner->log(log_level::info, "call " + id + ": transfer progress " + std::to_string(status) + (final ? " (final)" : ""));
    if (!final || transfer_done) return;
    transfer_done = true;
    if (transfer_timer) transfer_timer->cancel();
    if (status >= 200 && status < 300) {
        // The target took the call: our part is done.
        owner->log(log_level::info, "call " + id + ": transferred");
        call.hangup();
    } else if (conv) {
        conv->transfer_failed("the PBX answered " + std::to_string(status));
    }
}

agent_app::agent_app(asio::io_context& io, const config& cfg, conversation_env env, std::shared_ptr<scheduler> reminders)
    : impl_(std::make_shared<impl>(io, cfg, std::move(env))) {
    auto& m = *impl_;
    m.reminders = std::move(reminders);
    if (m.reminders) {
        m.env.services = m.reminders.get();
        std::weak_ptr<impl> weak = impl_;
        m.reminders->on_due([weak](const reminder& r) {
            if (auto p = weak.lock()) p->reminder_due(r);
        });
        m.reminders->on_registration_state([weak] {
            auto p = weak.lock();
            if (!p) return std::string("The agent is stopping.");
            std::lock_guard lock(p->state_m);
            return p->registration_text;
        });
    }
}

bool agent_app::call_out(const std::string& uri, const std::string& caller, std::string opening, std::string why) {
    return impl_->call_out(uri, caller, std::move(opening), std::move(why));
}

agent_app::~agent_app() {
    for (auto& [id, c] : impl_->calls)
        if (c->conv) c->conv->end();
}

std::error_code agent_app::start() {
    auto& m = *impl_;
    m.ua.on_log([&m](sipvoice::log_level level, std::string_view text) {
        const auto l = level == sipvoice::log_level::error     ? log_level::error
                       : level == sipvoice::log_level::warning ? log_level::warn
                       : level == sipvoice::log_level::info    ? log_level::debug
                                                               : log_level::trace;
        m.log(l, "sip: " + std::string(text));
    });
    if (auto ec = m.ua.start()) return ec;
    m.ua.on_incoming_call([&m](ua::call c, const sip::message& invite) { m.incoming(c, invite); });
    if (m.cfg.sip.mode == sip_mode::registered) {
        const ua::account acct = account_of(m.cfg.sip);
        m.registration = m.ua.add_registration(acct, [&m, aor = acct.user + " at " + acct.registrar](const ua::registration_state& s) {
            switch (s.status) {
                case ua::registration_status::registered:
                    m.log(log_level::info, "registered " + aor + " expires=" + std::to_string(s.expires));
                    m.set_registration_text("Registered as " + aor + ".");
                    break;
                case ua::registration_status::failed:
                    if (!m.stopping) m.log(log_level::warn, "registration of " + aor + " failed: " + s.reason);
                    m.set_registration_text("Not registered: the registration as " + aor + " failed, " + s.reason + ".");
                    break;
                case ua::registration_status::unregistered:
                    m.log(log_level::info, "unregistered " + aor);
                    m.set_registration_text("Not registered.");
                    break;
                case ua::registration_status::registering:
                    m.set_registration_text("Registering as " + aor + ".");
                    break;
            }
        });
    }
    return {};
}

void agent_app::shutdown(std::function<void()> done, std::chrono::milliseconds grace) {
    auto& m = *impl_;
    if (m.stopping) return;
    m.stopping = true;
    if (m.reminders) {
        if (const auto n = m.reminders->size(); n > 0)
            m.log(log_level::warn, std::to_string(n) + " pending timer(s)/callback(s) dropped (kept in memory only)");
        m.reminders->stop();
    }
    m.log(log_level::info, "shutting down: " + std::to_string(m.calls.size()) + " call(s) up");
    for (auto& [id, c] : m.calls)
        if (c->conv) c->conv->finish();
    m.shutdown_deadline = std::chrono::steady_clock::now() + grace;
    m.shutdown_done = std::move(done);
    m.poll_shutdown();
}

std::size_t agent_app::active_calls() const { return impl_->calls.size(); }
std::uint16_t agent_app::udp_port() const { return impl_->ua.transport().local_port(transport::protocol::udp); }
std::uint16_t agent_app::tcp_port() const { return impl_->ua.transport().local_port(transport::protocol::tcp); }

}  // namespace sipvoice::agent
