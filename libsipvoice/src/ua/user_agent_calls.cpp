// The user agent's calls: invite sessions wired to the transaction layer and the transports.
#include "user_agent_impl.hpp"

namespace sipvoice::ua {
namespace {

std::string transport_param(protocol p) {
    return p == protocol::udp ? "" : ";transport=" + sip::detail::lowercase(transport::protocol_name(p));
}

// RFC 3261 §9.2: a CANCEL has the key of the INVITE it cancels, but for the method.
std::string cancelled_invite_key(std::string key) {
    const std::string_view suffix = "|CANCEL";
    if (key.size() >= suffix.size() && key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0)
        key.replace(key.size() - suffix.size(), suffix.size(), "|INVITE");
    return key;
}

}  // namespace

session_config user_agent::impl::session_config_for(const transport::flow& f, const std::string& user) {
    session_config c;
    c.via_transport = std::string(transport::protocol_name(f.proto));
    // A call that came over a connection (TCP/TLS) names that connection's local port: for the one we
    // opened to the registrar (TLS without a certificate listens nowhere) it is the port the
    // registrar learned from rport, and requests in the dialog come back over it.
    const std::uint16_t port =
        f.connection != 0 && cfg.advertised_port == 0 && f.local.port != 0 ? f.local.port : local_port_for(f.proto);
    c.sent_by = host_reference(local_host_for(f.remote)) + ":" + std::to_string(port);
    c.contact = "<sip:" + (user.empty() ? "" : user + "@") + c.sent_by + transport_param(f.proto) + ob_param(f.proto, f.remote) + ">";
    c.user_agent = cfg.user_agent;
    c.allow = std::string(allow_list);
    c.timers = cfg.timers;
    c.session_expires = cfg.session_expires;
    c.min_se = cfg.min_se;
    c.accept_refer = cfg.accept_refer;
    return c;
}

session_config user_agent::impl::session_config_for(const target& t, const transport::endpoint& ep, const call_options& opts,
                                                    std::uint16_t port) {
    const std::string& from = opts.from;
    session_config c;
    c.via_transport = std::string(transport::protocol_name(t.proto));
    c.sent_by = host_reference(local_host_for(ep)) + ":" + std::to_string(port != 0 ? port : local_port_for(t.proto));
    std::string user = "sipvoice";
    if (auto u = sip::parse_uri(from); u && u->has_user) user = std::string(u->user);
    c.local_uri = "<" + (from.empty() ? "sip:sipvoice@" + host_reference(local_host_for(ep)) : from) + ">";
    c.contact = "<sip:" + user + "@" + c.sent_by + transport_param(t.proto) + ob_param(t.proto, ep) + ">";
    c.user_agent = cfg.user_agent;
    c.allow = std::string(allow_list);
    c.timers = cfg.timers;
    c.session_expires = cfg.session_expires;
    c.min_se = cfg.min_se;
    c.accept_refer = cfg.accept_refer;
    c.credentials = opts.credentials;
    c.outbound_proxy = opts.proxy;
    c.max_redirects = opts.max_redirects;
    return c;
}

user_agent::impl::call_entry* user_agent::impl::find_call(const sip::message& m) {
    auto id = dialog_id_of(m);
    if (!id) return nullptr;
    for (auto& [cid, c] : calls) {
        if (!c.session) continue;
        const auto& d = c.session->current_dialog();
        if (d && d->id() == *id) return &c;
        // A response from another fork has our Call-ID and tag but another remote tag: still ours.
        if (m.is_response() && d && d->id().call_id == id->call_id && d->id().local_tag == id->local_tag) return &c;
        if (!d && c.session->call_id() == id->call_id) return &c;
    }
    return nullptr;
}

bool user_agent::impl::route_to_call(const std::string& key, const sip::message& req, time_point now) {
    auto to = req.to();
    const bool in_dialog = to && !to->tag().empty();
    if (req.method() == sip::method::invite && !in_dialog) {
        handle_invite(key, req, now);
        return true;
    }
    if (req.method() == sip::method::cancel) {
        const std::string invite_key = cancelled_invite_key(key);
        for (auto& [id, c] : calls) {
            if (c.invite_key != invite_key || !c.session) continue;
            respond(key, req, 200, {}, {}, now);  // RFC 3261 §9.2: the CANCEL itself is answered 200
            c.session->on_cancel(now);
            return true;
        }
        respond(key, req, 481, {}, {}, now);
        return true;
    }
    if (!in_dialog) return false;
    if (call_entry* c = find_call(req)) {
        // A transfer nobody would carry out is declined rather than accepted and left to time out.
        if (req.method() == sip::method::refer && !c->handler) {
            respond(key, req, 603, {}, {}, now);
            return true;
        }
        c->session->on_request(req, key, now);
        return true;
    }
    respond(key, req, 481, {}, {}, now);  // RFC 3261 §12.2.2: no such dialog
    return true;
}

void user_agent::impl::route_ack(const sip::message& ack, time_point now) {
    if (call_entry* c = find_call(ack)) c->session->on_ack(ack, now);
}

void user_agent::impl::route_late_2xx(const sip::message& response, time_point now) {
    if (call_entry* c = find_call(response)) c->session->on_response(response, now);
}

namespace {

// RFC 3891 §6.1: Replaces = callid *(SEMI (to-tag / from-tag / early-flag / generic-param)), with
// to-tag and from-tag required.
struct replaces_value {
    std::string_view call_id, to_tag, from_tag;
    bool early_only = false;
};

std::optional<replaces_value> parse_replaces(std::string_view text) {
    const std::size_t semi = text.find(';');
    if (semi == std::string_view::npos) return std::nullopt;
    replaces_value r;
    r.call_id = sip::detail::trim(text.substr(0, semi));
    const std::string_view raw = text.substr(semi);
    if (r.call_id.empty() || sip::parse_call_id(r.call_id).failed() || sip::validate_params(raw, sip::param_syntax::header).failed())
        return std::nullopt;
    const sip::param_list params(raw, sip::param_syntax::header);
    const auto to = params.find("to-tag");
    const auto from = params.find("from-tag");
    if (!to || !from || !to->has_value || !from->has_value) return std::nullopt;
    r.to_tag = to->value;
    r.from_tag = from->value;
    r.early_only = params.contains("early-only");
    return r;
}

}  // namespace

int user_agent::impl::replaced_call(const sip::message& invite, std::uint64_t& id) const {
    // (A second Replaces never gets here: Replaces is a single header, and the validator answers 400.)
    const auto r = parse_replaces(invite.header(sip::header_id::replaces));
    if (!r) return 400;
    // The tags as in a request we receive: to-tag is ours, from-tag the peer's.
    const dialog_id wanted{std::string(r->call_id), std::string(r->to_tag), std::string(r->from_tag)};
    for (const auto& [cid, c] : calls) {
        if (!c.session || !c.session->current_dialog() || c.session->current_dialog()->id() != wanted) continue;
        const session_state st = c.session->state();
        if (st == session_state::terminating || st == session_state::terminated) return 603;
        const bool early = st == session_state::incoming || st == session_state::calling || st == session_state::early;
        if (early && !c.invite_key.empty()) return 481;  // an early dialog we did not start
        if (!early && r->early_only) return 486;
        id = cid;
        return 0;
    }
    return 481;
}

void user_agent::impl::handle_invite(const std::string& key, const sip::message& invite, time_point now) {
    if (shutting_down || !incoming_cb) {
        respond(key, invite, shutting_down ? 503 : 480, {}, {}, now);
        return;
    }
    std::uint64_t replaced = 0;
    if (invite.has(sip::header_id::replaces)) {
        if (const int refusal = replaced_call(invite, replaced); refusal != 0) {
            log(log_level::info, "refused an INVITE with Replaces " + std::string(invite.header(sip::header_id::replaces)) +
                                     ": " + std::to_string(refusal));
            respond(key, invite, refusal, {}, {}, now);
            return;
        }
    }
    auto flow = server_flows.find(key);
    if (flow == server_flows.end()) return;
    const std::string user(invite.request_uri().user);
    const std::uint64_t id = next_call++;
    call_entry& c = calls[id];
    c.id = id;
    c.invite_key = key;
    c.contact_user = user;
    c.replaces = replaced;
    c.session = invite_session::incoming(invite, key, session_config_for(flow->second, user), rng());
    log(log_level::info, "incoming call from " + std::string(invite.header(sip::header_id::from)));
    // Refused by the session itself (a session interval below our Min-SE: 422): the application
    // never sees it.
    if (c.session->state() == session_state::terminated) return;
    incoming_cb(handle_of(id), invite);
}

void user_agent::impl::send_to_uri(const std::string& uri, resolved_handler then) {
    auto where = target_of(uri);
    if (!where) {
        then("not a usable SIP URI: " + uri, {}, {}, nullptr);
        return;
    }
    resolve(*where, std::move(then));
}

const user_agent::impl::call_entry::sent_invite* user_agent::impl::call_entry::sent_to_same_place(const std::string& uri) const {
    if (!invite_sent) return nullptr;
    if (uri == invite_sent->destination) return &*invite_sent;
    const auto a = target_of(uri);
    const auto b = target_of(invite_sent->destination);
    if (!a || !b || !sip::detail::iequals(a->host, b->host) || a->port_given != b->port_given ||
        a->transport_given != b->transport_given)
        return nullptr;
    if ((a->port_given && a->port != b->port) || (a->transport_given && a->proto != b->proto)) return nullptr;
    return &*invite_sent;
}

void user_agent::impl::send_in_call(const call_entry& c, const std::string& uri, resolved_handler then) {
    if (const auto* sent = c.sent_to_same_place(uri)) {
        asio::post(io, [then = std::move(then), where = sent->where, to = sent->to, rest = c.rest]() mutable {
            then({}, std::move(where), to, std::move(rest));
        });
        return;
    }
    send_to_uri(uri, std::move(then));
}

void user_agent::impl::start_outgoing(std::uint64_t id, const std::string& uri, const std::string& offer, const target& t,
                                      const transport::endpoint& ep, const call_options& opts, std::uint16_t port) {
    auto it = calls.find(id);
    if (it == calls.end()) return;
    const std::uint64_t seed = rng();
    it->second.session = invite_session::outgoing(uri, offer, session_config_for(t, ep, opts, port), seed, sipvoice::clock::now());
    pump();
}

void user_agent::impl::fail_outgoing(std::uint64_t id, const std::string& reason) {
    auto it = calls.find(id);
    if (it == calls.end()) return;
    auto h = it->second.handler;
    calls.erase(it);
    if (h) h->on_terminated(0, reason);
    pump();
}

void user_agent::impl::apply(call_entry& c, session_output out) {
    const time_point now = sipvoice::clock::now();
    const std::uint64_t id = c.id;
    std::weak_ptr<impl> weak = weak_from_this();
    switch (out.kind) {
        case session_output_kind::respond: layer.respond(out.key, std::move(out.bytes), out.status, now); return;
        case session_output_kind::send_ack:
            // RFC 3261 §13.2.2.4: the ACK for a 2xx is the TU's, sent without a transaction.
            send_in_call(c, out.destination, [weak, bytes = std::move(out.bytes)](std::string error, target t, transport::endpoint ep, fallback) {
                auto self = weak.lock();
                if (!self || !error.empty()) return;
                self->tp.send(t.proto, ep, bytes, {}, t.host);
            });
            return;
        case session_output_kind::cancel:
        case session_output_kind::request: {
            const bool initial_invite = out.kind == session_output_kind::request && out.bytes.rfind("INVITE ", 0) == 0 &&
                                        c.session->state() == session_state::calling;
            const bool is_cancel = out.kind == session_output_kind::cancel;
            const std::uint32_t cseq = out.cseq;
            // Requests in a call go to the first place a lookup gives; its INVITE keeps the others
            // (`rest`) to move on to them.
            auto send = [weak, id, initial_invite, is_cancel, cseq, bytes = std::move(out.bytes),
                         destination = initial_invite ? out.destination : std::string()](
                            std::string error, target t, transport::endpoint ep, fallback rest) mutable {
                auto self = weak.lock();
                if (!self) return;
                auto it = self->calls.find(id);
                if (initial_invite && it != self->calls.end()) {
                    it->second.rest = std::move(rest);
                    if (error.empty()) it->second.invite_sent = call_entry::sent_invite{destination, t, ep};
                }
                // A call that ended while its last request was resolved (the BYE of an expired
                // session timer, of a missing ACK) still sends it; nobody waits for the answer.
                const bool call_alive = it != self->calls.end() && it->second.session;
                const time_point when = sipvoice::clock::now();
                if (!error.empty()) {
                    if (!call_alive) return;
                    if (initial_invite) it->second.session->on_invite_failed(error, when);
                    else if (!is_cancel && cseq != 0) it->second.session->on_dialog_response(nullptr, when, cseq);
                    self->pump();
                    return;
                }
                auto done = [weak, id, initial_invite, is_cancel, cseq, ep](const request_outcome& r) {
                    auto me = weak.lock();
                    if (!me) return;
                    auto found = me->calls.find(id);
                    if (found == me->calls.end() || !found->second.session) return;
                    const time_point at = sipvoice::clock::now();
                    call_entry& entry = found->second;
                    invite_session& s = *entry.session;
                    // RFC 3263 §4.3: no answer, a transport error or a 503 before anything else came:
                    // the INVITE again, to the destination's next SRV target.
                    if (initial_invite && worth_next_target(r) && has_next(entry.rest) && s.resend_invite(at)) {
                        me->log(log_level::warning, "INVITE: " + moving_on(r, ep, entry.rest));
                        entry.to_next_target = true;
                        me->pump();
                        return;
                    }
                    if (initial_invite) {
                        if (r.response) s.on_response(*r.response, at);
                        else s.on_invite_failed(r.error, at);
                    } else if (!is_cancel && cseq != 0) {  // 0: another fork's request, nothing waits for it
                        s.on_dialog_response(r.response ? &*r.response : nullptr, at, cseq);
                    }
                    me->pump();
                };
                std::function<void(const sip::message&)> provisional;
                if (initial_invite)  // 1xx reach the session too: early dialog, 180, 183
                    provisional = [weak, id](const sip::message& m) {
                        auto me = weak.lock();
                        if (!me) return;
                        auto found = me->calls.find(id);
                        if (found == me->calls.end() || !found->second.session) return;
                        found->second.session->on_response(m, sipvoice::clock::now());
                        me->pump();
                    };
                self->dispatch(std::move(bytes), t.proto, ep, t.host, done, std::move(provisional));
            };
            if (initial_invite && std::exchange(c.to_next_target, false) && resolve_next(c.rest, send)) return;
            // Where the INVITE went: its CANCEL (RFC 3261 §9.1) whatever its destination says, and
            // the INVITE again (credentials, 422) and the dialog's requests when they name that place.
            send_in_call(c, is_cancel && c.invite_sent ? c.invite_sent->destination : out.destination, std::move(send));
            return;
        }
    }
}

bool user_agent::impl::pump_calls() {
    bool any = false;
    std::vector<std::uint64_t> ids;
    for (const auto& [id, c] : calls) ids.push_back(id);
    for (std::uint64_t id : ids) {
        auto it = calls.find(id);
        if (it == calls.end() || !it->second.session) continue;
        for (session_output& out : it->second.session->take_outputs()) {
            any = true;
            apply(it->second, std::move(out));
        }
        for (const session_event& ev : it->second.session->take_events()) {
            any = true;
            if (ev.kind == session_event_kind::connected && it->second.replaces != 0) {
                // RFC 3891 §3: the new call is up; the one it replaces ends (BYE, or CANCEL if still early).
                auto old = calls.find(std::exchange(it->second.replaces, 0));
                if (old != calls.end() && old->second.session) {
                    log(log_level::info, "call " + std::to_string(old->first) + " replaced by call " + std::to_string(id));
                    old->second.session->hangup(sipvoice::clock::now(), "replaced");
                }
                it = calls.find(id);
            }
            auto handler = it->second.handler;  // the handler may replace itself
            if (!handler) continue;
            switch (ev.kind) {
                case session_event_kind::progress: handler->on_progress(ev.status, ev.sdp); break;
                case session_event_kind::offer: handler->on_offer(ev.sdp); break;
                case session_event_kind::answer: handler->on_answer(ev.sdp); break;
                case session_event_kind::connected: handler->on_connected(); break;
                case session_event_kind::terminated: handler->on_terminated(ev.status, ev.reason); break;
                case session_event_kind::dtmf: handler->on_dtmf(ev.digit, ev.duration_ms); break;
                case session_event_kind::offer_rejected: handler->on_offer_rejected(ev.status); break;
                case session_event_kind::refer_accepted: handler->on_refer_progress(ev.status, false); break;
                case session_event_kind::refer_progress: handler->on_refer_progress(ev.status, ev.final); break;
                case session_event_kind::refer_failed: handler->on_refer_progress(ev.status, true); break;
                case session_event_kind::refer_requested:
                    if (!handler->on_refer(ev.target)) {
                        // Not taken: the transferor hears so at once, not when the subscription runs out.
                        auto self = calls.find(id);
                        if (self != calls.end() && self->second.session)
                            self->second.session->notify_refer(603, sipvoice::clock::now());
                    }
                    break;
            }
            it = calls.find(id);
            if (it == calls.end() || !it->second.session) break;
        }
    }
    // Finished calls go once everything they produced is out.
    for (auto it = calls.begin(); it != calls.end();) {
        const bool done = it->second.session && it->second.session->state() == session_state::terminated;
        it = done ? calls.erase(it) : std::next(it);
    }
    return any;
}

// ---- the public call handle and user_agent's call API -------------------------------------------------

namespace {

// The call's entry, or nullptr when the call or its user agent is gone.
std::pair<std::shared_ptr<user_agent::impl>, user_agent::impl::call_entry*> lookup(const std::weak_ptr<void>& owner,
                                                                                     std::uint64_t id) {
    auto self = std::static_pointer_cast<user_agent::impl>(owner.lock());
    if (!self) return {nullptr, nullptr};
    auto it = self->calls.find(id);
    if (it == self->calls.end() || !it->second.session) return {self, nullptr};
    return {self, &it->second};
}

}  // namespace

bool call::valid() const noexcept {
    auto self = std::static_pointer_cast<user_agent::impl>(owner_.lock());
    return self && self->calls.count(id_) != 0;
}

void call::set_handler(std::shared_ptr<call_handler> handler) {
    auto self = std::static_pointer_cast<user_agent::impl>(owner_.lock());
    if (!self) return;
    auto it = self->calls.find(id_);
    if (it != self->calls.end()) it->second.handler = std::move(handler);
}

void call::ring(int status) {
    auto [self, c] = lookup(owner_, id_);
    if (!c) return;
    c->session->ring(sipvoice::clock::now(), status);
    self->pump();
}

void call::accept(std::string sdp) {
    auto [self, c] = lookup(owner_, id_);
    if (!c) return;
    c->session->accept(std::move(sdp), sipvoice::clock::now());
    self->pump();
}

void call::reject(int status) {
    auto [self, c] = lookup(owner_, id_);
    if (!c) return;
    c->session->reject(status, sipvoice::clock::now());
    self->pump();
}

void call::answer(std::string sdp) {
    auto [self, c] = lookup(owner_, id_);
    if (!c) return;
    c->session->answer(std::move(sdp), sipvoice::clock::now());
    self->pump();
}

void call::reoffer(std::string sdp, bool by_update) {
    auto [self, c] = lookup(owner_, id_);
    if (!c) return;
    c->session->reoffer(std::move(sdp), sipvoice::clock::now(), by_update);
    self->pump();
}

bool call::send_dtmf_info(char digit, int duration_ms) {
    auto [self, c] = lookup(owner_, id_);
    if (!c) return false;
    const bool sent = c->session->send_dtmf_info(digit, duration_ms, sipvoice::clock::now());
    self->pump();
    return sent;
}

bool call::refer(std::string target_uri) {
    auto [self, c] = lookup(owner_, id_);
    if (!c) return false;
    const bool sent = c->session->refer(std::move(target_uri), sipvoice::clock::now());
    self->pump();
    return sent;
}

void call::notify_refer(int status) {
    auto [self, c] = lookup(owner_, id_);
    if (!c) return;
    c->session->notify_refer(status, sipvoice::clock::now());
    self->pump();
}

void call::hangup() {
    auto [self, c] = lookup(owner_, id_);
    if (!c) return;
    c->session->hangup(sipvoice::clock::now());
    self->pump();
}

std::optional<session_state> call::state() const {
    auto [self, c] = lookup(owner_, id_);
    if (!c) return std::nullopt;
    return c->session->state();
}

std::optional<dialog_id> call::dialog() const {
    auto [self, c] = lookup(owner_, id_);
    if (!c || !c->session->current_dialog()) return std::nullopt;
    return c->session->current_dialog()->id();
}

void user_agent::on_incoming_call(incoming_call_handler handler) { impl_->incoming_cb = std::move(handler); }

std::size_t user_agent::call_count() const noexcept { return impl_->calls.size(); }

call user_agent::place_call(std::string uri, std::string offer_sdp, std::shared_ptr<call_handler> handler, std::string from) {
    call_options opts;
    opts.from = std::move(from);
    return place_call(std::move(uri), std::move(offer_sdp), std::move(handler), std::move(opts));
}

call user_agent::place_call(std::string uri, std::string offer_sdp, std::shared_ptr<call_handler> handler, call_options options) {
    impl& m = *impl_;
    const std::uint64_t id = m.next_call++;
    impl::call_entry& c = m.calls[id];
    c.id = id;
    c.handler = std::move(handler);
    std::weak_ptr<impl> weak = impl_;
    // The first hop: the outbound proxy when there is one (the local address toward it goes in Via
    // and Contact), else the target itself.
    const std::string first_hop = options.proxy.empty() ? uri : options.proxy;
    m.send_to_uri(first_hop, [weak, id, uri, offer = std::move(offer_sdp), opts = std::move(options)](std::string error, target t,
                                                                                                  transport::endpoint ep, impl::fallback) {
        auto self = weak.lock();
        if (!self) return;
        auto it = self->calls.find(id);
        if (it == self->calls.end()) return;
        if (!error.empty() || self->shutting_down) {
            self->fail_outgoing(id, error.empty() ? "the user agent is shutting down" : error);
            return;
        }
        if (t.proto == protocol::udp || self->cfg.advertised_port != 0 || self->tp.local_port(t.proto) != 0) {
            self->start_outgoing(id, uri, offer, t, ep, opts, 0);
            return;
        }
        // No listener of ours for this protocol (TLS without a certificate): requests in the dialog
        // can only come back over the connection we open, so it is opened first and its local port
        // goes into Via and Contact (a proxy then finds the connection by that address).
        self->tp.connect(
            t.proto, ep,
            [weak, id, uri, offer, t, ep, opts](std::error_code ec) {
                auto me = weak.lock();
                if (!me) return;
                auto flow = ec ? std::nullopt : me->tp.connection_to(t.proto, ep);
                if (me->shutting_down) return me->fail_outgoing(id, "the user agent is shutting down");
                if (!flow || flow->local.port == 0)
                    return me->fail_outgoing(id, "no " + std::string(transport::protocol_name(t.proto)) + " connection to " +
                                                     transport::to_string(ep) + (ec ? ": " + ec.message() : ""));
                me->start_outgoing(id, uri, offer, t, ep, opts, flow->local.port);
            },
            t.host);
    });
    return m.handle_of(id);
}

}  // namespace sipvoice::ua
