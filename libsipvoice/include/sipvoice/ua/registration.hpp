// sipvoice/ua/registration.hpp: keeping a binding registered (RFC 3261 §10), as a sans-I/O state machine.
//
// The registration builds REGISTER requests and reacts to their outcome; it sends nothing itself. The
// caller runs each request through a client transaction and reports back the final response (or a
// timeout / transport error), calls on_time() at next_deadline(), and reads the state changes:
//
//   ua::registration reg(cfg, seed);
//   reg.start();
//   for (auto& r : reg.take_requests()) send_in_new_client_transaction(r);
//   ... reg.on_response(final_response, now);   reg.on_time(now) when next_deadline() passes ...
//   for (auto& s : reg.take_events()) log(s.status, s.expires, s.reason);
//
// What it does: REGISTER with the configured expiry; digest authentication on 401/407 (the auth user
// may differ from the extension) with one retry per nonce, so a wrong password ends in a clear
// "authentication failed for realm X" instead of a loop (stale=true retries with the new nonce);
// 423 Interval Too Brief retried with Min-Expires; the granted expiry honoured and the binding refreshed
// before it lapses; failures retried with exponential backoff and jitter; an immediate re-REGISTER after
// a transport reconnect; the public address learned from received/rport (RFC 3581) put into the
// Contact and registered again; Service-Route (RFC 3608) kept; un-REGISTER (Expires: 0) on stop().
// With `outbound` (RFC 5626, SIP Outbound): the Contact carries reg-id and +sip.instance, the REGISTER
// says `Supported: outbound, path`, and a 2xx with `Require: outbound` (and an optional Flow-Timer)
// marks the flow as an outbound one, which the caller then keeps alive and watches (state().outbound,
// state().flow_timer); a 439 First Hop Lacks Outbound Support is answered by registering again
// without it.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "sipvoice/auth/digest.hpp"
#include "sipvoice/clock.hpp"
#include "sipvoice/sip/message.hpp"

namespace sipvoice::ua {

using sipvoice::duration;
using sipvoice::time_point;

struct registration_config {
    std::string registrar;        // Request-URI, e.g. "sip:pbx.example.com;transport=tcp"
    std::string aor;              // address of record for To and From, e.g. "sip:1001@pbx.example.com"
    std::string contact_user;     // user part of our Contact ("1001")
    std::string contact_host;     // advertised address for Contact and Via (behind NAT: the public one)
    std::uint16_t contact_port = 5060;
    std::string transport = "UDP";  // Via transport, and ;transport= in the Contact when not UDP
    auth::credentials credentials;  // username is the authentication user (3CX "authentication ID")
    std::uint32_t expires = 3600;
    duration retry_base{2000};    // first retry after a failure; doubles up to retry_max
    duration retry_max{60000};
    std::string user_agent = "sipvoice";
    std::string allow = "OPTIONS";  // the methods we handle, for the registrar's and PBX's information
    // RFC 5626: register this flow for outbound with this instance id ("urn:uuid:..."; it must stay
    // the same across restarts, §4.1) and reg-id. Empty instance_id: no outbound.
    std::string instance_id;
    std::uint32_t reg_id = 1;
};

enum class registration_status : std::uint8_t { unregistered, registering, registered, failed };

struct registration_state {
    registration_status status = registration_status::unregistered;
    std::uint32_t expires = 0;  // granted expiry when registered
    std::string reason;         // why it failed
    duration retry_in{};        // when it will try again after a failure
    // RFC 5626: the registrar's 2xx said `Require: outbound` (the flow is an outbound one), and its
    // Flow-Timer in seconds (0: none given).
    bool outbound = false;
    std::uint32_t flow_timer = 0;
};

class registration {
public:
    registration(registration_config config, std::uint64_t seed);

    void start();
    // Un-REGISTER (Expires: 0) if registered; no further requests afterwards.
    void stop();
    // The final response to the latest REGISTER (provisional ones are ignored; responses to older
    // requests, matched by CSeq, too).
    void on_response(const sip::message& response, time_point now);
    // The latest REGISTER's transaction timed out.
    void on_timeout(time_point now);
    // The registrar cannot be reached: the send failed (connection refused, TLS certificate rejected),
    // the connection to it broke, or it stopped answering keep-alives. `why` goes into the failure.
    void on_transport_error(std::string_view why, time_point now);
    // The connection to the registrar came back (TCP/TLS): register again at once.
    void on_transport_reconnected();
    void on_time(time_point now);

    [[nodiscard]] std::optional<time_point> next_deadline() const noexcept { return deadline_; }
    std::vector<std::string> take_requests() { return std::exchange(requests_, {}); }
    std::vector<registration_state> take_events() { return std::exchange(events_, {}); }
    [[nodiscard]] const registration_state& state() const noexcept { return state_; }
    [[nodiscard]] const std::vector<std::string>& service_route() const noexcept { return service_route_; }
    [[nodiscard]] std::string contact() const;  // our Contact, e.g. "<sip:1001@192.0.2.10:5060;transport=tcp>"
    // What follows contact() in a REGISTER: ";reg-id=1;+sip.instance=\"<urn:uuid:...>\"" while
    // outbound is wanted (RFC 5626 §4.2), else nothing.
    [[nodiscard]] std::string contact_params() const;
    [[nodiscard]] std::string sent_by() const;  // host:port for Via

private:
    void send_register(std::uint32_t expires);
    void set_state(registration_status status, std::uint32_t expires, std::string reason, duration retry_in,
                   bool outbound = false, std::uint32_t flow_timer = 0);
    void fail(std::string reason, time_point now);
    std::string random_token(std::size_t length);

    registration_config cfg_;
    std::mt19937_64 rng_;
    std::string call_id_;
    std::string from_tag_;
    std::string stale_contact_;  // a Contact we registered before learning our public address
    std::uint32_t cseq_ = 0;
    std::uint32_t requested_expires_ = 0;
    std::optional<auth::challenge> challenge_;  // answered in the next request
    std::string last_nonce_;                    // the nonce our credentials were last sent with
    std::uint32_t nonce_count_ = 0;
    bool sent_credentials_ = false;             // the latest request carried credentials
    duration backoff_{};
    bool stopping_ = false;
    bool stopped_ = false;
    bool outbound_ = false;  // asking for outbound: an instance id is configured and no 439 refused it
    std::optional<time_point> deadline_;
    registration_state state_;
    std::vector<std::string> service_route_;
    std::vector<std::string> requests_;
    std::vector<registration_state> events_;
};

}  // namespace sipvoice::ua
