// The user agent facade: transports, the transaction layer and registrations on one io_context.
#include "user_agent_impl.hpp"

#include <unistd.h>

#include <array>
#include <fstream>

namespace sipvoice::ua {

std::optional<target> target_of(std::string_view text) {
    auto u = sip::parse_uri(text);
    if (!u || !u->is_sip() || u->host.empty()) return std::nullopt;
    target t;
    t.host = std::string(u->host_address());
    if (u->scheme == sip::uri_scheme::sips) {
        t.proto = protocol::tls;  // RFC 3261 §26.2.2: sips means TLS on every hop
        t.transport_given = true;
    } else if (!u->transport().empty()) {
        auto p = transport::parse_protocol(u->transport());
        if (!p) return std::nullopt;
        t.proto = *p;
        t.transport_given = true;
    }
    t.port_given = u->has_port;
    t.port = u->has_port ? u->port : transport::default_port(t.proto);
    return t;
}

std::string account_domain(const account& acct) {
    if (!acct.domain.empty()) return acct.domain;
    auto where = target_of(acct.registrar);
    return where ? host_reference(where->host) : std::string();
}

std::string account_aor(const account& acct) { return "sip:" + acct.user + "@" + account_domain(acct); }

auth::credentials account_credentials(const account& acct) {
    return {acct.auth_user.empty() ? acct.user : acct.auth_user, acct.password};
}

bool valid_instance_id(std::string_view id) noexcept {
    const bool urn = id.size() > 4 && sip::detail::iequals(id.substr(0, 4), "urn:");
    return urn && id.find_first_of("<>\" \t\r\n") == std::string_view::npos;
}

std::string default_instance_id(std::string_view aor) {
    std::string machine;
    for (const char* path : {"/etc/machine-id", "/var/lib/dbus/machine-id"}) {
        std::ifstream in(path);
        if (in && std::getline(in, machine) && !machine.empty()) break;
        machine.clear();
    }
    if (machine.empty()) {
        std::array<char, 256> host{};
        if (::gethostname(host.data(), host.size() - 1) == 0) machine = host.data();
    }
    std::string h = auth::hash_hex(auth::algorithm::sha256, "sipvoice instance\n" + machine + "\n" + std::string(aor));
    h.resize(32);
    h[12] = '8';  // version 8 (RFC 9562 §5.8: custom)
    h[16] = "89ab"[(h[16] <= '9' ? h[16] - '0' : h[16] - 'a' + 10) & 3];  // the variant bits 10
    return "urn:uuid:" + h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" +
           h.substr(20, 12);
}


user_agent::user_agent(asio::io_context& io, user_agent_config config) : impl_(std::make_shared<impl>(io, std::move(config))) {}

user_agent::~user_agent() {
    impl_->stopped = true;
    impl_->timer.cancel();
    impl_->shutdown_timer.cancel();
    impl_->tp.stop();
}

std::error_code user_agent::start() {
    impl& m = *impl_;
    std::weak_ptr<impl> weak = impl_;
    m.tp.on_message([weak](sip::message msg, const transport::flow& from) {
        auto self = weak.lock();
        if (!self || self->stopped) return;
        const time_point now = sipvoice::clock::now();
        if (msg.is_request()) {
            msg = transport::stamp_received(std::move(msg), from.remote);
            if (auto key = transaction::server_key(msg)) self->server_flows.emplace(*key, from);
        }
        self->layer.on_message(std::move(msg), transport::is_reliable(from.proto), now);
        self->pump();
    });
    m.tp.on_closed([weak](const transport::flow& f, std::error_code ec) {
        if (auto self = weak.lock()) self->on_connection_closed(f, ec);
    });
    return m.tp.start();
}

void user_agent::on_log(log_handler handler) {
    impl_->log_cb = handler;
    impl_->tp.on_log(std::move(handler));
}

std::size_t user_agent::add_registration(account acct, registration_handler handler) {
    impl& m = *impl_;
    const std::size_t id = m.next_binding++;
    impl::binding& b = m.bindings[id];
    b.id = id;
    b.acct = std::move(acct);
    b.handler = std::move(handler);
    auto where = target_of(b.acct.registrar);
    if (!where) {
        registration_state s{registration_status::failed, 0, "registrar is not a usable SIP URI: " + b.acct.registrar, {}};
        auto h = b.handler;
        m.bindings.erase(id);
        if (h) asio::post(m.io, [h, s] { h(s); });
        return id;
    }
    b.where = *where;
    m.start_resolve(id);
    return id;
}

void user_agent::remove_registration(std::size_t id) {
    impl& m = *impl_;
    auto it = m.bindings.find(id);
    if (it == m.bindings.end()) return;
    impl::binding& b = it->second;
    b.removing = true;
    b.next_ping.reset();
    b.next_probe.reset();
    // pump() forgets the binding once the registrar confirmed (or at once when never registered).
    if (b.reg && b.reg->state().status != registration_status::unregistered) b.reg->stop();
    m.pump();
}

void user_agent::send_options(std::string uri, outcome_handler handler) {
    send_request("OPTIONS", std::move(uri), {}, std::move(handler));
}

void user_agent::send_request(std::string method, std::string uri, request_extras extras, outcome_handler handler) {
    impl& m = *impl_;
    auto where = target_of(uri);
    if (!where) {
        asio::post(m.io, [handler, uri] { handler({std::nullopt, "not a usable SIP URI: " + uri, false}); });
        return;
    }
    std::weak_ptr<impl> weak = impl_;
    m.resolve(*where, [weak, method = std::move(method), uri, extras = std::move(extras), handler](
                          std::string error, target chosen, transport::endpoint ep, impl::fallback rest) {
        auto self = weak.lock();
        if (!self) return;
        if (!error.empty()) return handler({std::nullopt, error, false});
        const std::string from = "sip:sipvoice@" + host_reference(self->local_host_for(ep));
        auto o = self->new_outgoing(method, uri, from, chosen, ep);
        o->rest = std::move(rest);
        o->extras = extras;
        o->done = handler;
        self->send_outgoing(o);
    });
}

void user_agent::shutdown(std::function<void()> done, duration grace) {
    impl& m = *impl_;
    m.shutting_down = true;
    m.shutdown_done = std::move(done);
    // Calls end first (BYE, CANCEL or a refusal), then the registrations go.
    std::vector<std::uint64_t> call_ids;
    for (const auto& [id, c] : m.calls) call_ids.push_back(id);
    for (std::uint64_t id : call_ids) {
        auto it = m.calls.find(id);
        if (it != m.calls.end() && it->second.session) it->second.session->hangup(sipvoice::clock::now());
    }
    std::vector<std::size_t> ids;
    for (const auto& [id, b] : m.bindings) ids.push_back(id);
    for (std::size_t id : ids) remove_registration(id);
    m.pump();
    if (m.bindings.empty() && m.calls.empty()) return m.finish_shutdown();
    m.shutdown_timer.expires_after(grace);
    std::weak_ptr<impl> weak = impl_;
    m.shutdown_timer.async_wait([weak](std::error_code ec) {
        auto self = weak.lock();
        if (!self || ec) return;
        self->log(log_level::warning, "shutdown: the registrar did not confirm every un-REGISTER in time");
        self->bindings.clear();
        self->calls.clear();
        self->finish_shutdown();
    });
}

transport::sip_transport& user_agent::transport() noexcept { return impl_->tp; }

std::string user_agent::allow() const { return std::string(allow_list); }

}  // namespace sipvoice::ua
