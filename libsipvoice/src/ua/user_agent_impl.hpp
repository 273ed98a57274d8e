// The user agent's state (ua/user_agent.hpp), shared by the files that implement it: user_agent.cpp
// (transports, transactions, registrations, out-of-dialog requests) and user_agent_calls.cpp (calls).
#pragma once

#include "sipvoice/ua/user_agent.hpp"
#include "sipvoice/ua/invite_session.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <random>
#include <vector>

#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/ssl/error.hpp>
#include <asio/steady_timer.hpp>

#include "../sip/charset.hpp"
#include "text.hpp"
#include "sipvoice/sip/builder.hpp"
#include "sipvoice/sip/uri.hpp"
#include "sipvoice/sip/validate.hpp"
#include "sipvoice/transaction/layer.hpp"
#include "sipvoice/transport/dns.hpp"

namespace sipvoice::ua {

using transport::protocol;

namespace detail {

// What we process; Allow lists the same.
inline constexpr std::string_view handled_methods[] = {"INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "INFO",
                                                       "UPDATE", "REFER", "NOTIFY", "PRACK"};
inline constexpr std::string_view allow_list = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY, PRACK";
inline constexpr std::string_view supported_list = "path, timer, 100rel";
// The longest a dead registrar waits between probes, whatever the keep-alive interval.
inline constexpr duration max_probe_interval{4000};

inline duration probe_interval(const account& a) {
    return a.keepalive.count() > 0 ? std::min(a.keepalive, max_probe_interval) : max_probe_interval;
}

}  // namespace detail

using namespace detail;

struct user_agent::impl : std::enable_shared_from_this<impl> {
    impl(asio::io_context& context, user_agent_config c)
        : io(context), cfg(std::move(c)), tp(context, cfg.transport), layer(cfg.timers), timer(context),
          shutdown_timer(context), resolver(context), dns(context, cfg.dns_server),
          rng(cfg.seed != 0 ? cfg.seed : (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}()) {}

    // RFC 3263 §4.3: where a destination may still be reached, in the order of the lookups: the
    // other addresses of the target tried last, then the SRV targets not tried yet. A request that
    // gets no answer, a transport error or a 503 goes to the next one, in a new transaction.
    struct srv_rest {
        target base;       // the URI's target with the transport the records are for
        std::string name;  // the SRV name, for the log (empty: no SRV records)
        std::vector<transport::srv_record> records;
        target current;                             // the target whose addresses are below
        std::vector<asio::ip::address> addresses;   // its addresses not tried yet
    };
    using fallback = std::shared_ptr<srv_rest>;

    static bool has_next(const fallback& rest) { return rest && (!rest->addresses.empty() || !rest->records.empty()); }
    static std::string next_hint(const fallback& rest) {
        return rest && !rest->addresses.empty() ? "trying the next address of " + rest->current.host : "trying the next SRV target";
    }
    // The log's account of a request that moves on: what went wrong at `from`, and where it goes.
    static std::string moving_on(const request_outcome& r, const transport::endpoint& from, const fallback& rest) {
        return (r.response ? std::to_string(r.response->status()) + " from " + transport::to_string(from) : r.error) + "; " +
               next_hint(rest);
    }

    struct client_entry {
        protocol proto = protocol::udp;
        transport::endpoint to;
        std::string server_name;
        outcome_handler done;
        std::string last_error;
        bool answered = false;
        std::function<void(const sip::message&)> on_provisional;  // INVITE: 101-199
    };

    struct binding {
        std::size_t id = 0;
        account acct;
        registration_handler handler;
        target where;
        transport::endpoint dest;
        fallback rest;  // where the registrar may still be reached (RFC 3263 §4.3)
        bool resolved = false;
        std::unique_ptr<registration> reg;
        std::uint64_t register_seq = 0;  // answers to older REGISTERs are not ours to report
        bool down = false;               // the registrar is unreachable: probing
        bool probing = false;            // a connect probe is under way
        bool ping_outstanding = false;   // the last keep-alive OPTIONS got no answer yet
        bool removing = false;
        std::optional<time_point> next_ping;
        std::optional<time_point> next_probe;
        // RFC 5626: the registrar took this flow as an outbound one; how often it is kept alive
        // (from the Flow-Timer; zero: acct.keepalive).
        bool outbound = false;
        duration flow_keepalive{};
        std::uint64_t flow_generation = 0;  // changes with every use_flow(): older STUN answers are stale
        bool no_stun = false;  // the registrar answered no STUN: this flow is kept alive with OPTIONS
        std::optional<transport::endpoint> stun_mapped;  // UDP: the last mapped address STUN gave
        [[nodiscard]] duration ping_every() const { return flow_keepalive.count() > 0 ? flow_keepalive : acct.keepalive; }
    };

    // ";ob" when an outbound registration (RFC 5626) holds the flow to `remote`: the Contact of a
    // call over it asks for the dialog's requests to come back the same way (§4.3, §5.4).
    [[nodiscard]] std::string ob_param(protocol p, const transport::endpoint& remote) const {
        for (const auto& [id, b] : bindings)
            if (b.outbound && b.resolved && b.where.proto == p && b.dest == remote) return ";ob";
        return {};
    }

    void log(log_level level, const std::string& text) const {
        if (log_cb) log_cb(level, text);
    }

    std::string token(std::size_t n) { return random_token(rng, n); }

    std::string local_host_for(const transport::endpoint& to) const {
        if (!cfg.advertised_host.empty()) return cfg.advertised_host;
        return tp.local_address_for(to.address).to_string();
    }
    std::uint16_t local_port_for(protocol p) const {
        if (cfg.advertised_port != 0) return cfg.advertised_port;
        if (auto port = tp.local_port(p)) return port;
        // Not listening on TLS (no certificate): requests reach us over the connection we open, and
        // the registrar's rport tells the registration which port that is.
        if (auto port = tp.local_port(protocol::tcp)) return port;
        return transport::default_port(p);
    }
    std::string sent_by(const transport::endpoint& to, protocol p) const {
        return host_reference(local_host_for(to)) + ":" + std::to_string(local_port_for(p));
    }

    // `rest`: the places left after `to` (the host's other addresses, the SRV targets not tried);
    // null for an address given as such.
    using resolved_handler = std::function<void(std::string error, target where, transport::endpoint to, fallback rest)>;

    // RFC 3263 §4: the transport, port and address a request to `t` goes to. An address is taken as
    // it is; a host name with a port is looked up (A/AAAA); one without a port goes through DNS SRV
    // first (§4.2), for the URI's transport or, with none given, for the transports the domain's
    // NAPTR records prefer (§4.1), or without those for each enabled transport in turn.
    void resolve(const target& t, resolved_handler done) {
        std::error_code ec;
        asio::ip::make_address(t.host, ec);
        // RFC 6761 §6.3: localhost names are the loopback's and never asked of DNS.
        const bool local = sip::detail::iequals(t.host, "localhost") || (t.host.size() > 10 && sip::detail::iequals(t.host.substr(t.host.size() - 10), ".localhost"));
        if (!ec || t.port_given || !cfg.srv_lookup || local) return resolve_address(t, t.host, nullptr, std::move(done));
        if (t.transport_given) return resolve_srv(t, {{t.proto, srv_name(t.proto, t.host)}}, 0, std::move(done));
        std::vector<srv_query> each;
        for (protocol p : {protocol::udp, protocol::tcp, protocol::tls})
            if (enabled(p)) each.push_back({p, srv_name(p, t.host)});
        std::weak_ptr<impl> weak = weak_from_this();
        dns.lookup_naptr(t.host, [weak, t, each = std::move(each), done = std::move(done)](
                                     std::vector<transport::naptr_record> records, std::string error) mutable {
            auto self = weak.lock();
            if (!self) return;
            if (!error.empty()) self->log(log_level::warning, "NAPTR " + t.host + ": " + error);
            // §4.1: the SIP services of the transports we have, in the records' order; a record
            // that leads anywhere else (a regexp, flags other than "s") is not for us.
            std::vector<srv_query> chosen;
            for (const auto& n : records) {
                const auto p = naptr_protocol(n.service);
                if (!p || !self->enabled(*p) || !sip::detail::iequals(n.flags, "s") || n.replacement.empty()) continue;
                self->log(log_level::info, "NAPTR " + t.host + " -> " + n.service + " " + n.replacement);
                chosen.push_back({*p, n.replacement});
            }
            // None (or none usable): SRV for each enabled transport, as if there were no NAPTR.
            self->resolve_srv(t, chosen.empty() ? std::move(each) : std::move(chosen), 0, std::move(done));
        });
    }

    bool enabled(protocol p) const {
        switch (p) {
            case protocol::udp: return cfg.transport.udp;
            case protocol::tcp: return cfg.transport.tcp;
            case protocol::tls: return cfg.transport.tls;
        }
        return false;
    }

    static std::optional<protocol> naptr_protocol(std::string_view service) {
        if (sip::detail::iequals(service, "SIP+D2U")) return protocol::udp;
        if (sip::detail::iequals(service, "SIP+D2T")) return protocol::tcp;
        if (sip::detail::iequals(service, "SIPS+D2T")) return protocol::tls;
        return std::nullopt;
    }

    static std::string srv_name(protocol p, const std::string& host) {
        switch (p) {
            case protocol::udp: return "_sip._udp." + host;
            case protocol::tcp: return "_sip._tcp." + host;
            case protocol::tls: return "_sips._tcp." + host;
        }
        return host;
    }

    // An SRV name to ask, and the transport its records are for.
    struct srv_query {
        protocol proto;
        std::string name;
    };

    // The SRV names of `names` in turn, from `next`, until one has records.
    void resolve_srv(const target& t, std::vector<srv_query> names, std::size_t next, resolved_handler done) {
        if (next >= names.size()) {
            // No SRV records for any transport (§4.2): the host itself on the default port.
            return resolve_address(t, t.host, nullptr, std::move(done));
        }
        const protocol p = names[next].proto;
        const std::string name = names[next].name;
        std::weak_ptr<impl> weak = weak_from_this();
        dns.lookup(name, [weak, t, names = std::move(names), next, p, name, done = std::move(done)](
                             std::vector<transport::srv_record> records, std::string error) mutable {
            auto self = weak.lock();
            if (!self) return;
            if (!error.empty()) {
                // No answer at all: the other transports' names would fare no better. The host
                // itself may still resolve (a hosts file), on the default port.
                self->log(log_level::warning, "SRV " + name + ": " + error);
                return self->resolve_address(t, t.host, nullptr, std::move(done));
            }
            if (records.empty()) return self->resolve_srv(t, std::move(names), next + 1, std::move(done));
            // Tried in RFC 2782 order; the host stays the URI's (TLS checks the domain, RFC 5922 §4).
            target base = t;
            base.proto = p;
            self->resolve_next(std::make_shared<srv_rest>(srv_rest{base, name, std::move(records), base, {}}), std::move(done));
        });
    }

    // The next place of `rest` (taken off it): the current target's next address, else the next SRV
    // target and its address; a target without an address is passed over. False, and `done` not
    // called, when none is left.
    bool resolve_next(const fallback& rest, resolved_handler done) {
        if (!rest) return false;
        if (!rest->addresses.empty()) {
            const transport::endpoint to{rest->addresses.front(), rest->current.port};
            rest->addresses.erase(rest->addresses.begin());
            log(log_level::info, rest->current.host + " -> " + transport::to_string(to));
            asio::post(io, [done, rest, to] { done({}, rest->current, to, rest); });
            return true;
        }
        if (rest->records.empty()) return false;
        const transport::srv_record r = rest->records.front();
        rest->records.erase(rest->records.begin());
        target chosen = rest->base;
        chosen.port = r.port;
        log(log_level::info, "SRV " + rest->name + " -> " + r.target + ":" + std::to_string(r.port));
        std::weak_ptr<impl> weak = weak_from_this();
        resolve_address(chosen, r.target, rest, [weak, rest, done](std::string error, target where, transport::endpoint to, fallback) {
            auto self = weak.lock();
            if (!self) return;
            if (!error.empty()) {
                self->log(log_level::warning, error);
                if (self->resolve_next(rest, done)) return;
            }
            done(std::move(error), std::move(where), to, rest);
        });
        return true;
    }

    // The address of `host` (A/AAAA), with t's port: from the configured DNS server, or else the
    // system's resolver (hosts file, then DNS). The first goes to `done`; the others wait in `rest`
    // (made when there was none) for the request to move on to them.
    void resolve_address(const target& t, const std::string& host, fallback rest, resolved_handler done) {
        std::error_code ec;
        auto addr = asio::ip::make_address(host, ec);
        if (!ec) {
            asio::post(io, [done, addr, t, rest] { done({}, t, {addr, t.port}, rest); });
            return;
        }
        std::weak_ptr<impl> weak = weak_from_this();
        auto found = [weak, done, host, t, rest](std::vector<asio::ip::address> addresses, const std::string& error) mutable {
            auto self = weak.lock();
            if (!self) return;
            if (addresses.empty()) return done("cannot resolve " + host + ": " + (error.empty() ? "no address" : error), t, {}, rest);
            if (!rest) rest = std::make_shared<srv_rest>(srv_rest{t, {}, {}, {}, {}});
            rest->current = t;
            rest->addresses.assign(addresses.begin() + 1, addresses.end());
            if (addresses.size() > 1) self->log(log_level::info, host + ": " + std::to_string(addresses.size()) + " addresses");
            done({}, t, {addresses.front(), t.port}, rest);
        };
        if (!cfg.dns_server.empty()) {
            dns.lookup_address(host, [found](std::vector<asio::ip::address> a, std::string error) mutable { found(std::move(a), error); });
            return;
        }
        resolver.async_resolve(host, std::to_string(t.port),
                               [found](std::error_code e, const asio::ip::tcp::resolver::results_type& r) mutable {
                                   // IPv4 first: more hosts can reach it; the resolver's order otherwise.
                                   std::vector<asio::ip::address> addresses;
                                   for (const auto& entry : r)
                                       if (entry.endpoint().address().is_v4()) addresses.push_back(entry.endpoint().address());
                                   for (const auto& entry : r)
                                       if (!entry.endpoint().address().is_v4()) addresses.push_back(entry.endpoint().address());
                                   // The same address comes once per socket type (UDP, TCP).
                                   addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());
                                   found(std::move(addresses), e ? e.message() : std::string());
                               });
    }

    // RFC 3263 §4.3: what makes a request try the next SRV target: no answer, a transport error, a 503.
    static bool worth_next_target(const request_outcome& r) { return !r.response || r.response->status() == 503; }

    // Runs `bytes` (a request) through a new client transaction toward `to`.
    void dispatch(std::string bytes, protocol proto, const transport::endpoint& to, std::string server_name,
                  outcome_handler done, std::function<void(const sip::message&)> on_provisional = {}) {
        // RFC 3261 §18.1.1: a request near or above the path MTU goes over TCP, and its Via says so.
        if (proto == protocol::udp && bytes.size() > cfg.udp_mtu && cfg.transport.tcp) {
            const auto at = bytes.find("SIP/2.0/UDP");
            if (at != std::string::npos) {
                bytes.replace(at, 11, "SIP/2.0/TCP");
                proto = protocol::tcp;
            }
        }
        auto parsed = sip::message::parse(std::move(bytes));
        if (!parsed) {
            log(log_level::error, "internal: built an unparsable request: " + std::string(parsed.error().what()));
            if (done) done({std::nullopt, "internal error: unparsable request", false});
            return;
        }
        auto key = layer.send_request(std::move(*parsed), transport::is_reliable(proto), sipvoice::clock::now());
        if (!key) {
            if (done) done({std::nullopt, "internal error: request without a usable Via branch", false});
            return;
        }
        clients[*key] = client_entry{proto, to, std::move(server_name), std::move(done), {}, false, std::move(on_provisional)};
        pump();
    }

    // An out-of-dialog request as it goes out, kept so a challenge can be answered with the same
    // Call-ID and From tag and the next CSeq (RFC 3261 §22.2).
    struct outgoing {
        std::string method;
        std::string uri;
        std::string from;
        std::string from_tag;
        std::string call_id;
        std::uint32_t cseq = 1;
        request_extras extras;
        std::string authorization;  // the header line answering the last challenge, when there is one
        bool proxy_authorization = false;
        int auth_attempts = 0;
        target where;
        transport::endpoint ep;
        fallback rest;  // where the destination may still be reached (RFC 3263 §4.3)
        outcome_handler done;
    };

    std::string build_request(const outgoing& o) {
        const std::string by = sent_by(o.ep, o.where.proto);
        const protocol proto = o.where.proto;
        sip::message_builder b = sip::message_builder::request(o.method, o.uri);
        b.add(sip::header_id::via, "SIP/2.0/" + std::string(transport::protocol_name(proto)) + " " + by +
                                       ";branch=z9hG4bK" + token(16) + ";rport")
            .add(sip::header_id::max_forwards, "70")
            .add(sip::header_id::from, "<" + o.from + ">;tag=" + o.from_tag)
            .add(sip::header_id::to, "<" + o.uri + ">")
            .add(sip::header_id::call_id, o.call_id)
            .add(sip::header_id::cseq, std::to_string(o.cseq) + " " + o.method)
            .add(sip::header_id::contact, "<sip:" + by + (proto == protocol::udp ? "" : ";transport=" +
                                           sip::detail::lowercase(transport::protocol_name(proto))) + ">");
        if (!o.authorization.empty())
            b.add(o.proxy_authorization ? sip::header_id::proxy_authorization : sip::header_id::authorization, o.authorization);
        if (o.method == "OPTIONS") b.add(sip::header_id::accept, "application/sdp");
        b.add(sip::header_id::user_agent, cfg.user_agent);
        for (const auto& [name, value] : o.extras.headers) b.add(name, value);
        if (!o.extras.body.empty()) b.body(o.extras.content_type, o.extras.body);
        return b.str();
    }

    std::shared_ptr<outgoing> new_outgoing(std::string method, std::string uri, std::string from, const target& where,
                                           const transport::endpoint& ep) {
        auto o = std::make_shared<outgoing>();
        o->method = std::move(method);
        o->uri = std::move(uri);
        o->from = std::move(from);
        o->from_tag = token(10);
        o->call_id = token(20);
        o->where = where;
        o->ep = ep;
        return o;
    }

    void send_outgoing(const std::shared_ptr<outgoing>& o) {
        std::weak_ptr<impl> weak = weak_from_this();
        dispatch(build_request(*o), o->where.proto, o->ep, o->where.host, [weak, o](const request_outcome& r) {
            auto self = weak.lock();
            if (!self) return;
            const int status = r.response ? r.response->status() : 0;
            if ((status == 401 || status == 407) && o->extras.credentials && o->auth_attempts == 0) {
                auto ch = auth::first_supported(*r.response);
                if (ch) {
                    ++o->auth_attempts;
                    ++o->cseq;
                    o->proxy_authorization = ch->proxy;
                    o->authorization = auth::authorization(*ch, *o->extras.credentials, o->method, o->uri, self->token(16), 1,
                                                           o->extras.body);
                    self->send_outgoing(o);
                    return;
                }
            }
            if (worth_next_target(r) && has_next(o->rest)) {
                self->log(log_level::warning, o->method + " to " + o->uri + ": " + moving_on(r, o->ep, o->rest));
                self->resolve_next(o->rest, [weak, o](std::string error, target where, transport::endpoint to, fallback rest) {
                    auto me = weak.lock();
                    if (!me) return;
                    if (!error.empty()) {
                        if (o->done) o->done({std::nullopt, error, false});
                        return;
                    }
                    // A new transaction (new branch) with the next CSeq, toward the next target.
                    o->where = std::move(where);
                    o->ep = to;
                    o->rest = std::move(rest);
                    ++o->cseq;
                    me->send_outgoing(o);
                });
                return;
            }
            if ((status == 401 || status == 407) && o->auth_attempts > 0) {
                auto ch = auth::first_supported(*r.response);
                self->log(log_level::warning, o->method + " to " + o->uri + ": authentication failed" +
                                                  (ch ? " for realm " + ch->realm : std::string()));
            }
            if (o->done) o->done(r);
        });
    }

    // ---- the loop: drain what the state machines produced until nothing is left ------------------

    void pump() {
        if (pumping) return;  // a handler called back into us; the outer loop picks the work up
        pumping = true;
        for (;;) {
            bool any = false;
            std::vector<std::size_t> ids;
            for (const auto& [id, b] : bindings) ids.push_back(id);
            for (std::size_t id : ids) {
                auto it = bindings.find(id);
                if (it == bindings.end() || !it->second.reg) continue;
                for (const registration_state& s : it->second.reg->take_events()) {
                    any = true;
                    on_registration_event(it->second, s);  // may call back into us; the binding stays
                }
                for (std::string& r : it->second.reg->take_requests()) {
                    any = true;
                    send_register(it->second, std::move(r));
                }
            }
            std::vector<std::size_t> finished;
            for (const auto& [id, b] : bindings)
                if (b.removing && (!b.reg || b.reg->state().status == registration_status::unregistered))
                    finished.push_back(id);
            for (std::size_t id : finished) bindings.erase(id);
            auto outs = layer.take_outputs();
            for (auto& o : outs) handle_output(o);
            if (!outs.empty()) any = true;
            if (pump_calls()) any = true;
            if (!any) break;
        }
        pumping = false;
        if (shutting_down && bindings.empty() && calls.empty()) finish_shutdown();
        reschedule();
    }

    void on_registration_event(binding& b, const registration_state& s) {
        if (s.status == registration_status::registered) {
            b.down = false;
            b.ping_outstanding = false;
            b.next_probe.reset();
            use_flow(b, s);
            if (b.ping_every().count() > 0 && (b.where.proto == protocol::udp || b.acct.options_ping))
                b.next_ping = sipvoice::clock::now() + b.ping_every();
        } else if (s.status != registration_status::registering) {
            use_flow(b, {});  // failed or unregistered: no outbound flow (calls meanwhile get no ;ob)
        }
        if (b.handler) b.handler(s);
    }

    static std::string seconds_text(duration d) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(d.count()) / 1000.0);
        return buf;
    }
    // RFC 5626 §4.4: a flow the registrar took as an outbound one is kept alive every 80-100% of its
    // Flow-Timer (else every acct.keepalive); on TCP/TLS each CRLF ping must get its pong within
    // 10 s (§4.4.1), or the connection is closed, which registers again at once (mark_down).
    void use_flow(binding& b, const registration_state& s) {
        const bool was = b.outbound;
        b.outbound = s.outbound;
        b.flow_keepalive = {};
        b.stun_mapped.reset();
        b.no_stun = false;
        ++b.flow_generation;
        if (was != s.outbound) b.ping_outstanding = false;  // a STUN or OPTIONS of the other kind is no longer watched
        if (!s.outbound) {
            if (was && b.where.proto != protocol::udp) tp.set_keepalive(b.where.proto, b.dest, tp.config().keepalive_interval, {});
            return;
        }
        if (s.flow_timer != 0) {
            std::uniform_real_distribution<double> share(0.8, 1.0);
            b.flow_keepalive = duration(static_cast<duration::rep>(s.flow_timer * 1000.0 * share(rng)));
        } else if (b.acct.keepalive.count() == 0) {
            // §4.4.1: without a Flow-Timer, 95-120 s on TCP/TLS and 24-29 s on UDP, even with pings off.
            const bool udp = b.where.proto == protocol::udp;
            std::uniform_int_distribution<int> ms(udp ? 24000 : 95000, udp ? 29000 : 120000);
            b.flow_keepalive = duration(ms(rng));
        }
        const duration every = b.ping_every();
        const duration pong_wait{10000};
        if (b.where.proto != protocol::udp) tp.set_keepalive(b.where.proto, b.dest, every, pong_wait);
        if (!was)
            log(log_level::info, "registrar " + b.acct.registrar + " supports outbound (RFC 5626): the flow to " +
                                     transport::to_string(b.dest) + " is kept alive every " + seconds_text(every) + " s" +
                                     (s.flow_timer != 0 ? " (Flow-Timer " + std::to_string(s.flow_timer) + ")" : "") +
                                     (b.where.proto != protocol::udp ? ", a pong expected within 10 s"
                                                                      : " by STUN, an answer expected within " +
                                                                            seconds_text(std::min(every * 3 / 4, duration{10000})) + " s"));
    }

    // RFC 5626 §4.4.2: an outbound UDP flow is kept alive by STUN Binding requests to the registrar's
    // SIP port. No answer within 10 s (or 3/4 of the interval, so before the next one): either the
    // flow failed or the registrar does not answer STUN after all, so the flow is checked with
    // OPTIONS from then on, whose unanswered ping marks it down (send_ping). A mapped address other
    // than the one the registration learned (rport) is a NAT rebinding: register again at once.
    void send_stun(binding& b) {
        std::weak_ptr<impl> weak = weak_from_this();
        const std::size_t id = b.id;
        const std::uint64_t generation = b.flow_generation;
        tp.stun_ping(b.dest, std::min(b.ping_every() * 3 / 4, duration{10000}),
                     [weak, id, generation](std::optional<transport::endpoint> mapped, std::error_code ec) {
                         auto self = weak.lock();
                         if (!self || ec == asio::error::operation_aborted) return;
                         auto it = self->bindings.find(id);
                         if (it == self->bindings.end() || it->second.flow_generation != generation) return;
                         binding& bb = it->second;
                         bb.ping_outstanding = false;
                         if (ec == asio::error::timed_out) {
                             self->log(log_level::warning, "no answer to the STUN keep-alive from " + transport::to_string(bb.dest) +
                                                               ": checking the registrar with OPTIONS instead");
                             bb.no_stun = true;
                             self->send_ping(bb, sipvoice::clock::now());
                             return self->pump();
                         }
                         if (!mapped || !bb.reg) return;  // an error response: the registrar is there
                         const std::string seen = transport::to_string(*mapped);
                         if (seen != bb.reg->sent_by() && !(bb.stun_mapped && *bb.stun_mapped == *mapped)) {
                             self->log(log_level::warning, "registrar " + bb.acct.registrar + " sees us at " + seen +
                                                               ", not " + bb.reg->sent_by() + " (NAT rebinding): registering again");
                             bb.stun_mapped = mapped;
                             bb.reg->on_transport_reconnected();
                             return self->pump();
                         }
                         bb.stun_mapped = mapped;
                     });
    }

    void send_register(binding& b, std::string bytes) {
        const std::uint64_t seq = ++b.register_seq;
        std::weak_ptr<impl> weak = weak_from_this();
        const std::size_t id = b.id;
        dispatch(std::move(bytes), b.where.proto, b.dest, b.where.host, [weak, id, seq](const request_outcome& r) {
            auto self = weak.lock();
            if (!self) return;
            auto it = self->bindings.find(id);
            if (it == self->bindings.end() || it->second.register_seq != seq || !it->second.reg) return;
            binding& bb = it->second;
            const time_point now = sipvoice::clock::now();
            if (worth_next_target(r) && has_next(bb.rest) && !bb.removing) {
                self->log(log_level::warning, "REGISTER to " + bb.acct.registrar + ": " + moving_on(r, bb.dest, bb.rest));
                return self->register_at_next(bb);
            }
            if (r.response) {
                bb.reg->on_response(*r.response, now);
            } else if (r.timeout) {
                bb.reg->on_timeout(now);
            } else {
                bb.reg->on_transport_error(r.error, now);
                self->start_probing(bb, now);
            }
        });
    }

    void start_probing(binding& b, time_point now) {
        if (b.removing) return;
        b.down = true;
        if (b.where.proto == protocol::udp) {
            b.next_ping = now + probe_interval(b.acct);
        } else if (!b.probing && !b.next_probe) {
            b.next_probe = now + probe_interval(b.acct);
            // Every SRV target has failed: each probe is a new lookup that starts again from the
            // first (the preferred registrar, when it is back).
            if (b.rest && !b.rest->name.empty()) b.resolved = false;
        }
    }

    // The registrar became unreachable while we thought it was fine.
    void mark_down(binding& b, const std::string& why) {
        if (b.down || b.removing || !b.reg) return;
        if (has_next(b.rest)) {  // RFC 3263 §4.3: a registrar of the same domain is left
            log(log_level::warning, "registrar " + b.acct.registrar + " at " + transport::to_string(b.dest) + " unreachable: " + why +
                                        "; " + next_hint(b.rest));
            b.next_ping.reset();
            b.ping_outstanding = false;
            return register_at_next(b);
        }
        log(log_level::warning, "registrar " + b.acct.registrar + " unreachable: " + why);
        ++b.register_seq;  // the REGISTER in flight, if any, is abandoned
        const time_point now = sipvoice::clock::now();
        b.reg->on_transport_error(why, now);
        start_probing(b, now);
    }

    void mark_up(binding& b) {
        if (!b.down || b.removing || !b.reg) return;
        log(log_level::info, "registrar " + b.acct.registrar + " reachable again: registering");
        b.down = false;
        b.next_probe.reset();
        b.reg->on_transport_reconnected();
    }

    void send_ping(binding& b, time_point now) {
        // (A STUN keep-alive reports its own failure, before the next one is due: send_stun.)
        const bool by_stun = b.outbound && !b.no_stun && !b.down && b.where.proto == protocol::udp;
        if (b.ping_outstanding && !b.down && !by_stun) {
            mark_down(b, "no answer to keep-alive OPTIONS");
            if (!b.resolved) return;  // gone to the next SRV target, which registers first
        }
        b.ping_outstanding = true;
        b.next_ping = now + (b.down ? probe_interval(b.acct) : b.ping_every());
        if (by_stun) return send_stun(b);
        std::weak_ptr<impl> weak = weak_from_this();
        const std::size_t id = b.id;
        auto ping = new_outgoing("OPTIONS", b.acct.registrar, account_aor(b.acct), b.where, b.dest);
        dispatch(build_request(*ping), b.where.proto, b.dest, b.where.host,
                 [weak, id](const request_outcome& r) {
                     auto self = weak.lock();
                     if (!self || !r.response) return;
                     auto it = self->bindings.find(id);
                     if (it == self->bindings.end()) return;
                     it->second.ping_outstanding = false;  // any answer means the registrar is alive
                     self->mark_up(it->second);
                     self->pump();
                 });
    }

    void send_probe(binding& b) {
        b.next_probe.reset();
        b.probing = true;
        std::weak_ptr<impl> weak = weak_from_this();
        const std::size_t id = b.id;
        tp.connect(
            b.where.proto, b.dest,
            [weak, id](std::error_code ec) {
                auto self = weak.lock();
                if (!self) return;
                auto it = self->bindings.find(id);
                if (it == self->bindings.end()) return;
                binding& bb = it->second;
                bb.probing = false;
                if (!ec) {
                    self->mark_up(bb);
                } else if (bb.down) {
                    bb.next_probe = sipvoice::clock::now() + probe_interval(bb.acct);
                }
                self->pump();
            },
            b.where.host);
    }

    void handle_output(transaction::keyed_output& o) {
        using transaction::output_kind;
        const time_point now = sipvoice::clock::now();
        if (o.server) {
            switch (o.out.kind) {
                case output_kind::send: {
                    auto it = server_flows.find(o.key);
                    if (it == server_flows.end()) return;
                    std::weak_ptr<impl> weak = weak_from_this();
                    tp.send(it->second, std::move(o.out.bytes), [weak, key = o.key](std::error_code ec) {
                        auto self = weak.lock();
                        if (!self || !ec) return;
                        self->layer.on_transport_error(key, true);
                        self->pump();
                    });
                    return;
                }
                case output_kind::request:
                    if (o.key.empty()) return route_ack(o.out.message, now);  // the ACK of a 2xx
                    handle_request(o.key, o.out.message, now);
                    return;
                case output_kind::terminated: server_flows.erase(o.key); return;
                default: return;
            }
        }
        if (o.key.empty()) {  // a 2xx to an INVITE whose transaction is gone (RFC 6026): its call's
            if (o.out.kind == output_kind::response) route_late_2xx(o.out.message, now);
            return;
        }
        auto it = clients.find(o.key);
        if (it == clients.end()) return;
        client_entry& c = it->second;
        switch (o.out.kind) {
            case output_kind::send: {
                std::weak_ptr<impl> weak = weak_from_this();
                tp.send(
                    c.proto, c.to, std::move(o.out.bytes),
                    [weak, key = o.key](std::error_code ec) {
                        auto self = weak.lock();
                        if (!self || !ec) return;
                        auto found = self->clients.find(key);
                        if (found != self->clients.end()) found->second.last_error = describe_send_error(ec, found->second);
                        self->layer.on_transport_error(key, false);
                        self->pump();
                    },
                    c.server_name);
                return;
            }
            case output_kind::response:
                if (o.out.message.status() < 200) {
                    if (c.on_provisional) c.on_provisional(o.out.message);
                    return;
                }
                if (!c.answered) {
                    c.answered = true;
                    if (c.done) c.done({std::move(o.out.message), {}, false});
                }
                return;
            case output_kind::timeout:
                if (!c.answered && c.done) c.done({std::nullopt, "no answer from " + transport::to_string(c.to), true});
                c.answered = true;
                return;
            case output_kind::transport_error:
                if (!c.answered && c.done)
                    c.done({std::nullopt, c.last_error.empty() ? "transport error toward " + transport::to_string(c.to) : c.last_error,
                            false});
                c.answered = true;
                return;
            case output_kind::terminated: clients.erase(it); return;
            default: return;
        }
    }

    static std::string describe_send_error(std::error_code ec, const client_entry& c) {
        std::string what = std::string(transport::protocol_name(c.proto)) + " to " + transport::to_string(c.to) + ": ";
        if (ec.category() == asio::error::get_ssl_category()) return what + "TLS failed: " + ec.message();
        return what + ec.message();
    }

    void respond(const std::string& key, const sip::message& req, int status, std::string_view reason,
                 const std::vector<std::pair<sip::header_id, std::string>>& extra, time_point now) {
        auto to = req.to();
        const bool has_tag = to && !to->tag().empty();
        sip::message_builder b = sip::message_builder::response_to(req, status, reason, has_tag ? "" : token(10));
        for (const auto& [id, value] : extra) b.add(id, value);
        b.add(sip::header_id::server, cfg.user_agent);
        layer.respond(key, b.str(), status, now);
    }

    void handle_request(const std::string& key, const sip::message& req, time_point now) {
        sip::validation_policy policy;
        policy.allowed_methods = handled_methods;
        policy.authenticates = false;
        const sip::verdict v = sip::validate(req, policy);
        if (v.action == sip::action::drop) return;
        if (v.action == sip::action::respond) {
            log(log_level::info, "answered " + std::string(req.method_name()) + " from " + std::string(req.header(sip::header_id::from)) +
                                     " with " + std::to_string(v.status) + (v.detail.empty() ? "" : " (" + v.detail + ")"));
            std::vector<std::pair<sip::header_id, std::string>> extra;
            if (v.status == 405) extra.emplace_back(sip::header_id::allow, std::string(allow_list));
            if (v.status == 420) extra.emplace_back(sip::header_id::unsupported, v.unsupported);
            respond(key, req, v.status, v.reason, extra, now);
            return;
        }
        if (route_to_call(key, req, now)) return;
        switch (req.method()) {
            case sip::method::options:
                // RFC 3261 §11.2: what we can do; a PBX's qualify ping only looks at the 200.
                respond(key, req, 200, "OK",
                        {{sip::header_id::allow, std::string(allow_list)},
                         {sip::header_id::accept, "application/sdp"},
                         {sip::header_id::supported, std::string(supported_list)}},
                        now);
                return;
            case sip::method::ack: return;
            default:
                // BYE or CANCEL: no dialog or INVITE transaction of ours can match (RFC 3261 §15.1.2, §9.2);
                // REFER or NOTIFY outside a dialog: we keep no subscriptions of our own.
                respond(key, req, 481, {}, {}, now);
                return;
        }
    }

    // ---- time -------------------------------------------------------------------------------------

    void reschedule() {
        std::optional<time_point> next = layer.next_deadline();
        auto consider = [&](std::optional<time_point> t) {
            if (t && (!next || *t < *next)) next = t;
        };
        for (const auto& [id, b] : bindings) {
            if (b.reg) consider(b.reg->next_deadline());
            consider(b.next_ping);
            consider(b.next_probe);
        }
        for (const auto& [id, c] : calls)
            if (c.session) consider(c.session->next_deadline());
        if (!next || stopped) {
            timer.cancel();
            return;
        }
        if (armed && *armed == *next) return;
        armed = next;
        timer.expires_at(*next);
        std::weak_ptr<impl> weak = weak_from_this();
        timer.async_wait([weak](std::error_code ec) {
            auto self = weak.lock();
            if (!self || ec) return;
            self->armed.reset();
            self->on_time();
        });
    }

    void on_time() {
        const time_point now = sipvoice::clock::now();
        pumping = true;  // handlers run in pump(), after the loop over the bindings
        layer.on_time(now);
        for (auto& [id, b] : bindings) {
            if (b.reg) b.reg->on_time(now);
            if (b.next_ping && *b.next_ping <= now) send_ping(b, now);
            if (b.next_probe && *b.next_probe <= now) {
                if (b.resolved)
                    send_probe(b);
                else
                    start_resolve(b.id);
            }
        }
        for (auto& [id, c] : calls)
            if (c.session) c.session->on_time(now);
        pumping = false;
        pump();
    }

    // ---- registrations ----------------------------------------------------------------------------

    void start_resolve(std::size_t id) {
        auto it = bindings.find(id);
        if (it == bindings.end()) return;
        it->second.next_probe.reset();
        resolve(it->second.where, registrar_found(id));
    }

    // RFC 3263 §4.3: the registrar's next SRV target, with a registration of its own. When that
    // target has no address either, the registration fails as a lookup that found nothing does.
    void register_at_next(binding& b) {
        ++b.register_seq;  // the answer of the REGISTER in flight, if one comes late, is not ours
        use_flow(b, {});   // the next target has not said it does outbound
        b.reg.reset();
        b.resolved = false;
        if (resolve_next(b.rest, registrar_found(b.id))) return;
        b.next_probe = sipvoice::clock::now();  // none left after all: a lookup from the start
        reschedule();
    }

    // What to do once the lookup of binding `id`'s registrar (or of its next SRV target) is over.
    resolved_handler registrar_found(std::size_t id) {
        std::weak_ptr<impl> weak = weak_from_this();
        return [weak, id](std::string error, target chosen, transport::endpoint ep, fallback rest) {
            auto self = weak.lock();
            if (!self) return;
            auto found = self->bindings.find(id);
            if (found == self->bindings.end()) return;
            binding& b = found->second;
            b.rest = std::move(rest);
            if (!error.empty()) {
                self->log(log_level::warning, error);
                if (b.handler) b.handler({registration_status::failed, 0, error, max_probe_interval});
                b.next_probe = sipvoice::clock::now() + max_probe_interval;
                self->reschedule();
                return;
            }
            // What DNS SRV chose (transport and port); what the URI said stays, for the next lookup.
            b.where.proto = chosen.proto;
            b.where.port = chosen.port;
            b.dest = ep;
            b.resolved = true;
            self->create_registration(b);
            self->pump();
        };
    }

    void create_registration(binding& b) {
        registration_config rc;
        rc.registrar = b.acct.registrar;
        rc.aor = account_aor(b.acct);
        rc.contact_user = b.acct.user;
        rc.contact_host = local_host_for(b.dest);
        rc.contact_port = local_port_for(b.where.proto);
        rc.transport = std::string(transport::protocol_name(b.where.proto));
        rc.credentials = account_credentials(b.acct);
        rc.expires = b.acct.expires;
        rc.retry_base = b.acct.retry_base;
        rc.retry_max = b.acct.retry_max;
        rc.user_agent = cfg.user_agent;
        rc.allow = std::string(allow_list);
        if (b.acct.outbound) rc.instance_id = b.acct.instance_id.empty() ? default_instance_id(rc.aor) : b.acct.instance_id;
        b.reg = std::make_unique<registration>(std::move(rc), rng());
        if (b.removing) return;
        b.reg->start();
    }

    void on_connection_closed(const transport::flow& f, std::error_code ec) {
        pumping = true;
        for (auto& [id, b] : bindings) {
            if (!b.resolved || b.where.proto != f.proto || !(b.dest == f.remote)) continue;
            if (!b.reg || b.reg->state().status == registration_status::unregistered) continue;
            mark_down(b, "connection " + transport::to_string(f.remote) + " lost" + (ec ? " (" + ec.message() + ")" : ""));
        }
        pumping = false;
        pump();
    }

    void finish_shutdown() {
        if (stopped) return;
        stopped = true;
        shutdown_timer.cancel();
        timer.cancel();
        tp.stop();
        if (shutdown_done) asio::post(io, std::exchange(shutdown_done, {}));
    }

    asio::io_context& io;
    user_agent_config cfg;
    transport::sip_transport tp;
    transaction::layer layer;
    asio::steady_timer timer;
    std::optional<time_point> armed;
    asio::steady_timer shutdown_timer;
    asio::ip::tcp::resolver resolver;
    transport::srv_resolver dns;
    std::mt19937_64 rng;
    log_handler log_cb;
    std::map<std::string, client_entry> clients;
    std::map<std::string, transport::flow> server_flows;
    std::map<std::size_t, binding> bindings;
    std::size_t next_binding = 1;
    bool pumping = false;
    bool shutting_down = false;
    bool stopped = false;
    std::function<void()> shutdown_done;

    // ---- calls (user_agent_calls.cpp) ----
    struct call_entry {
        std::uint64_t id = 0;
        std::optional<invite_session> session;  // empty while the target of an outgoing call resolves
        std::shared_ptr<call_handler> handler;
        std::string invite_key;  // UAS: the INVITE's server transaction
        std::string contact_user;
        // UAC: where the INVITE went. Its CANCEL goes there too (RFC 3261 §9.1), and so does the
        // INVITE again to the same URI (credentials after a 401/407, a 422), not wherever a new
        // lookup of the destination would lead (another SRV target of the same priority).
        struct sent_invite {
            std::string destination;  // the URI it was sent to (a redirect changes it)
            target where;
            transport::endpoint to;
        };
        std::optional<sent_invite> invite_sent;
        fallback rest;                // UAC: where the INVITE's destination may still be reached
        bool to_next_target = false;  // the INVITE being sent again goes to the first of them
        std::uint64_t replaces = 0;   // UAS: the call this one replaces (RFC 3891), ended once this one is connected
        // Where the INVITE went, when `uri` (a next hop: the INVITE's own URI, the top Route, the
        // remote target) names the same host, port and transport as the URI it was sent to; null
        // otherwise. The dialog's requests and ACKs through that proxy or to that host reach the
        // server that set up the dialog, not the first SRV target or address of a new lookup
        // (which may be the one the INVITE moved on from, or another server of the same priority).
        [[nodiscard]] const sent_invite* sent_to_same_place(const std::string& uri) const;
    };
    std::map<std::uint64_t, call_entry> calls;
    std::uint64_t next_call = 1;
    incoming_call_handler incoming_cb;

    session_config session_config_for(const transport::flow& f, const std::string& user);
    // `port`: the local port for Via and Contact (0: the listening one).
    session_config session_config_for(const target& t, const transport::endpoint& ep, const call_options& opts,
                                      std::uint16_t port = 0);
    call_entry* find_call(const sip::message& m);
    bool route_to_call(const std::string& key, const sip::message& req, time_point now);
    void route_ack(const sip::message& ack, time_point now);
    void route_late_2xx(const sip::message& response, time_point now);
    void handle_invite(const std::string& key, const sip::message& invite, time_point now);
    // RFC 3891: the call an INVITE's Replaces names (`id`), or the status that refuses the INVITE:
    // 400 (malformed; several are the validator's 400), 481 (no such dialog, or an early one we did not start), 486
    // (early-only, but the call is confirmed), 603 (the call is ending).
    int replaced_call(const sip::message& invite, std::uint64_t& id) const;
    bool pump_calls();
    void apply(call_entry& c, session_output out);
    // The URI's target resolved (resolve()); `then` at once with an error when the URI is unusable.
    void send_to_uri(const std::string& uri, resolved_handler then);
    // A request of call `c` toward `uri`: where its INVITE went when `uri` names that place (see
    // sent_to_same_place()), else wherever send_to_uri() leads. `then` runs from the io_context.
    void send_in_call(const call_entry& c, const std::string& uri, resolved_handler then);
    // Creates the outgoing call `id`'s session (the first hop resolved) and sends its INVITE.
    void start_outgoing(std::uint64_t id, const std::string& uri, const std::string& offer, const target& t,
                        const transport::endpoint& ep, const call_options& opts, std::uint16_t port);
    // The outgoing call `id` ends before its INVITE went out: the handler is told why.
    void fail_outgoing(std::uint64_t id, const std::string& reason);
    call handle_of(std::uint64_t id) { return call(weak_from_this(), id); }
};

}  // namespace sipvoice::ua
