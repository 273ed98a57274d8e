// Registration (RFC 3261 §10, RFC 3581 rport, RFC 3608 Service-Route, RFC 2617/7616 digest).
#include "sipvoice/ua/registration.hpp"

#include <algorithm>

#include "../sip/charset.hpp"
#include "text.hpp"
#include "sipvoice/sip/builder.hpp"

namespace sipvoice::ua {
namespace {

// When to refresh a binding granted for `granted` seconds: a minute before it lapses, or halfway
// for short ones, so one lost refresh still leaves time for a retry.
duration refresh_after(std::uint32_t granted) {
    const std::uint32_t s = granted > 120 ? granted - 60 : granted / 2;
    return std::chrono::seconds(std::max<std::uint32_t>(s, 1));
}

}  // namespace

registration::registration(registration_config config, std::uint64_t seed) : cfg_(std::move(config)), rng_(seed) {
    outbound_ = !cfg_.instance_id.empty() && cfg_.reg_id != 0;
    call_id_ = random_token(20);  // one Call-ID for every REGISTER of this binding (RFC 3261 §10.2.4)
    from_tag_ = random_token(10);
}

std::string registration::random_token(std::size_t length) { return detail::random_token(rng_, length); }

// host:port as it goes into Via and Contact, with brackets for an IPv6 address (RFC 5118).
std::string registration::sent_by() const {
    return detail::host_reference(cfg_.contact_host) + ":" + std::to_string(cfg_.contact_port);
}

std::string registration::contact() const {
    const std::string t = sip::detail::lowercase(cfg_.transport);
    return "<sip:" + cfg_.contact_user + "@" + sent_by() + (t == "udp" ? "" : ";transport=" + t) + ">";
}

std::string registration::contact_params() const {
    if (!outbound_) return {};
    return ";reg-id=" + std::to_string(cfg_.reg_id) + ";+sip.instance=\"<" + cfg_.instance_id + ">\"";
}

void registration::set_state(registration_status status, std::uint32_t expires, std::string reason, duration retry_in,
                             bool outbound, std::uint32_t flow_timer) {
    const bool changed = status != state_.status || expires != state_.expires || reason != state_.reason ||
                         outbound != state_.outbound || flow_timer != state_.flow_timer;
    state_ = {status, expires, std::move(reason), retry_in, outbound, flow_timer};
    if (changed) events_.push_back(state_);
}

void registration::start() {
    if (stopped_) return;
    set_state(registration_status::registering, 0, {}, {});
    send_register(cfg_.expires);
}

void registration::stop() {
    if (stopped_ || stopping_) return;
    stopping_ = true;
    deadline_.reset();
    if (state_.status == registration_status::registered || state_.status == registration_status::registering) {
        send_register(0);  // RFC 3261 §10.2.2: Expires 0 removes our binding
        return;
    }
    stopped_ = true;
    set_state(registration_status::unregistered, 0, {}, {});
}

void registration::send_register(std::uint32_t expires) {
    ++cseq_;
    requested_expires_ = expires;
    deadline_.reset();  // the transaction's outcome decides what comes next
    const std::string via = "SIP/2.0/" + cfg_.transport + " " + sent_by() + ";branch=z9hG4bK" + random_token(16) + ";rport";
    sip::message_builder b = sip::message_builder::request("REGISTER", cfg_.registrar);
    b.add(sip::header_id::via, via)
        .add(sip::header_id::max_forwards, "70")
        .add(sip::header_id::from, "<" + cfg_.aor + ">;tag=" + from_tag_)
        .add(sip::header_id::to, "<" + cfg_.aor + ">")
        .add(sip::header_id::call_id, call_id_)
        .add(sip::header_id::cseq, std::to_string(cseq_) + " REGISTER")
        .add(sip::header_id::contact, contact() + contact_params());
    // The binding registered under our old address would outlive us at the registrar (and draw
    // calls to nowhere): remove it in the same request (RFC 3261 §10.2.2). (A registrar that does
    // outbound replaces the binding of the same instance and reg-id by itself, RFC 5626 §6: then
    // stale_contact_ stays empty.)
    if (!stale_contact_.empty()) {
        b.add(sip::header_id::contact, stale_contact_ + ";expires=0");  // kept until a 2xx confirms it
    }
    b.add(sip::header_id::expires, std::to_string(expires)).add(sip::header_id::allow, cfg_.allow);
    if (outbound_) b.add(sip::header_id::supported, "outbound, path");  // RFC 5626 §4.2.1
    b.add(sip::header_id::user_agent, cfg_.user_agent);
    sent_credentials_ = false;
    if (challenge_) {
        nonce_count_ = challenge_->nonce == last_nonce_ ? nonce_count_ + 1 : 1;
        last_nonce_ = challenge_->nonce;
        b.add(challenge_->proxy ? sip::header_id::proxy_authorization : sip::header_id::authorization,
              auth::authorization(*challenge_, cfg_.credentials, "REGISTER", cfg_.registrar, random_token(16),
                                  nonce_count_));
        sent_credentials_ = true;
    }
    requests_.push_back(b.str());
}

void registration::fail(std::string reason, time_point now) {
    challenge_.reset();
    backoff_ = backoff_.count() == 0 ? cfg_.retry_base : std::min(2 * backoff_, cfg_.retry_max);
    // ±20% jitter, so that many clients behind one failed registrar do not retry in step.
    std::uniform_real_distribution<double> jitter(0.8, 1.2);
    const duration retry{static_cast<duration::rep>(static_cast<double>(backoff_.count()) * jitter(rng_))};
    set_state(registration_status::failed, 0, std::move(reason), retry);
    deadline_ = now + retry;
}

void registration::on_response(const sip::message& response, time_point now) {
    if (stopped_ || !response.is_response() || response.status() < 200) return;
    auto cseq = response.cseq();
    if (!cseq || cseq->number != cseq_ || cseq->method != "REGISTER") return;  // an older request's answer
    const int status = response.status();

    if (stopping_) {  // the answer to our un-REGISTER, whatever it says, ends the registration
        stopped_ = true;
        set_state(registration_status::unregistered, 0, {}, {});
        return;
    }
    if (status == 401 || status == 407) {
        auto ch = auth::first_supported(response);
        if (!ch) {
            fail("registrar asked for authentication this client cannot answer (" + std::string(auth::describe(ch.error().code)) + ")", now);
            return;
        }
        // Credentials already sent and challenged again without stale=true: the password (or the
        // authentication user) is wrong. Retrying at once would loop; back off instead.
        if (sent_credentials_ && !ch->stale) {
            fail("authentication failed for realm " + ch->realm, now);
            return;
        }
        challenge_ = *ch;
        send_register(requested_expires_);
        return;
    }
    if (status == 439 && outbound_) {
        // RFC 5626 §4.2.1/§6: a proxy between us and the registrar does not do outbound; register
        // without it (an ordinary binding, kept alive as one).
        outbound_ = false;
        send_register(requested_expires_);
        return;
    }
    if (status == 423) {  // RFC 3261 §10.3: Interval Too Brief, retry with Min-Expires
        auto min = response.min_expires();
        if (min && *min > requested_expires_) {
            cfg_.expires = *min;
            send_register(*min);
        } else {
            fail("registrar refused the expiry (423) without a usable Min-Expires", now);
        }
        return;
    }
    if (status >= 300) {
        fail("registrar answered " + std::to_string(status) + " " + std::string(response.reason_phrase()), now);
        return;
    }

    // 2xx. RFC 5626 §4.2.1: outbound is in use once the registrar requires it in the 2xx.
    const bool outbound = outbound_ && detail::lists_token(response.require(), "outbound");
    // RFC 3581: received/rport say how the registrar sees us; behind NAT, register that.
    if (auto via = response.top_via()) {
        std::string host(via->received.empty() ? std::string_view(cfg_.contact_host) : via->received);
        if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
        const std::uint16_t port = via->rport != 0 ? via->rport : cfg_.contact_port;
        if (host != cfg_.contact_host || port != cfg_.contact_port) {
            if (!outbound) stale_contact_ = contact();
            cfg_.contact_host = host;
            cfg_.contact_port = port;
            send_register(cfg_.expires);
            return;
        }
    }
    // The granted expiry: our Contact's expires parameter, else Expires, else what we asked for.
    std::uint32_t granted = requested_expires_;
    if (auto e = response.expires()) granted = *e;
    for (auto c : response.contacts()) {
        if (!c || !c->has_expires()) continue;
        const auto& u = c->address.address;
        if (u.user == cfg_.contact_user && u.host_address() == cfg_.contact_host &&
            (u.has_port ? u.port : 5060) == cfg_.contact_port)
            granted = c->expires;
    }
    if (granted == 0) {
        fail("registrar granted no time (expires 0)", now);
        return;
    }
    stale_contact_.clear();
    service_route_.clear();
    for (const sip::header_field& f : response.fields())
        if (f.id == sip::header_id::service_route) service_route_.emplace_back(response.value(f));
    backoff_ = {};
    // Its Flow-Timer (RFC 5626 §4.4) says how often an outbound flow must be kept alive.
    std::uint32_t flow_timer = 0;
    if (outbound) {
        std::uint32_t v = 0;
        if (const std::string_view ft = response.header("Flow-Timer"); !ft.empty() && !sip::parse_number(ft, 86400, v).failed())
            flow_timer = v;
    }
    set_state(registration_status::registered, granted, {}, {}, outbound, flow_timer);
    deadline_ = now + refresh_after(granted);
}

void registration::on_timeout(time_point now) {
    if (stopped_) return;
    if (stopping_) {
        stopped_ = true;
        set_state(registration_status::unregistered, 0, {}, {});
        return;
    }
    fail("no answer from the registrar", now);
}

void registration::on_transport_error(std::string_view why, time_point now) {
    if (stopped_) return;
    if (stopping_) {  // nobody to un-REGISTER with
        stopped_ = true;
        set_state(registration_status::unregistered, 0, {}, {});
        return;
    }
    fail("cannot reach the registrar: " + std::string(why), now);
}

void registration::on_transport_reconnected() {
    if (stopped_ || stopping_) return;
    if (state_.status != registration_status::registered) set_state(registration_status::registering, 0, {}, {});
    send_register(cfg_.expires);
}

void registration::on_time(time_point now) {
    if (!deadline_ || now < *deadline_ || stopped_) return;
    deadline_.reset();
    if (state_.status == registration_status::failed) set_state(registration_status::registering, 0, {}, {});
    send_register(cfg_.expires);  // a refresh, or a retry after a failure
}

}  // namespace sipvoice::ua
