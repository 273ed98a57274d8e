// sipvoice/ua/user_agent.hpp: the user agent facade: transports, transactions and registrations wired
// together on one io_context.
//
// Everything runs on the io_context thread the application runs (DESIGN.md, Threading): the socket
// the registration refreshes on is the socket requests arrive on, and no lock is needed anywhere.
// Handlers are called on that thread; other threads enter with asio::post.
//
//   asio::io_context io;
//   ua::user_agent agent(io, cfg);
//   if (auto ec = agent.start()) die(ec.message());
//   agent.add_registration(acct, [](const ua::registration_state& s) { ... });
//   agent.send_options("sip:pbx.example.com;transport=tcp", [](const ua::request_outcome& r) { ... });
//   ... on SIGTERM: agent.shutdown([&] { io.stop(); });
//   io.run();
//
// What it adds to the layers below:
//  - where a SIP URI sends to (RFC 3263: the transport parameter, sips: -> TLS, the port, or else
//    DNS NAPTR and SRV for the host (transport/dns.hpp), or 5060/5061; A/AAAA lookup of the host),
//    and the next SRV target when one fails;
//  - Via with sent-by and rport (RFC 3581) on every request, received/rport added to requests we
//    receive (RFC 3261 §18.2.1), responses sent back along the request's flow (§18.2.2);
//  - a UDP request larger than the MTU sent over TCP instead (RFC 3261 §18.1.1);
//  - an advertised address/port for Via and Contact (behind NAT), and the public address learned from
//    received/rport (registration.hpp);
//  - answers to OPTIONS (200 with Allow, Accept, Supported) so a PBX's qualify pings see us alive, and
//    the RFC's error responses to requests we cannot take (sip/validate.hpp);
//  - calls (ua/invite_session.hpp) in both directions: incoming INVITEs handed to the application,
//    outgoing ones placed, in-dialog requests, CANCEL and ACK routed to their call;
//  - blind transfer (RFC 3515 REFER) both ways: call::refer() and on_refer_progress(), on_refer()
//    and call::notify_refer();
//  - registrations kept alive: CRLF pings on TCP/TLS, OPTIONS pings on UDP, a broken connection or
//    unanswered pings noticed, the registrar probed until it is back, and registered again at once;
//  - a graceful shutdown: un-REGISTER everything, then close.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <asio/io_context.hpp>

#include "sipvoice/auth/digest.hpp"
#include "sipvoice/log.hpp"
#include "sipvoice/sip/message.hpp"
#include "sipvoice/transaction/transaction.hpp"
#include "sipvoice/transport/transport.hpp"
#include "sipvoice/ua/invite_session.hpp"
#include "sipvoice/ua/registration.hpp"

namespace sipvoice::ua {

struct user_agent_config {
    transport::transport_config transport;
    transaction::timer_config timers;
    std::string user_agent = "sipvoice";  // User-Agent and Server header
    // Behind NAT: the public address and port for Via and Contact instead of the local ones. Empty / 0:
    // the local address toward the peer and our listening port.
    std::string advertised_host;
    std::uint16_t advertised_port = 0;
    std::size_t udp_mtu = 1300;  // RFC 3261 §18.1.1: larger requests go over TCP
    std::uint64_t seed = 0;      // for Call-IDs, tags and branches; 0 draws one from the system
    // Session timers (RFC 4028) for calls: the interval we ask for and the smallest we accept
    // (Min-SE, at least 90 by the RFC; lower only for tests). 0 switches them off: no Session-Expires
    // in our INVITEs and none honoured in the peer's.
    std::uint32_t session_expires = 1800;
    std::uint32_t min_se = 90;
    // A REFER from the peer of a call (a transfer it asks of us): accepted with 202 and handed to
    // call_handler::on_refer(), or, when false, declined with 603 Decline. A call whose handler does
    // not take it (on_refer() returns false, as by default) reports 603 in a NOTIFY at once.
    bool accept_refer = true;
    // RFC 3263 §4.2: a URI with a host name and no port is looked up in DNS SRV first
    // (_sip._udp/_sip._tcp/_sips._tcp.HOST; with no transport parameter, UDP then TCP then TLS, those
    // enabled in `transport`), then the chosen target's address; without records, HOST itself on
    // the transport's default port. §4.1: with no transport parameter either, HOST's NAPTR records
    // come first: their SIP+D2U/SIP+D2T/SIPS+D2T services (of the enabled transports, flags "s") in
    // order and preference name the SRV names to ask, in place of the three above. `dns_server`: "IP", "IP:PORT" or "[IPv6]:PORT"; empty: the first
    // name server of /etc/resolv.conf.
    // RFC 3263 §4.3: an out-of-dialog request (OPTIONS, MESSAGE...) or a REGISTER that gets no answer,
    // a transport error or a 503 goes to the next address of the same host (A/AAAA records, IPv4
    // first), then to the next SRV target, in a new transaction; a registered
    // account whose registrar is lost (connection closed, keep-alive unanswered) registers at the
    // next target at once; with every target tried, each probe of a TCP/TLS registration looks the
    // domain up again, from the first (a UDP one probes the last target with OPTIONS). A call's
    // INVITE moves on the same way until a provisional response has come; its CANCEL goes where the
    // INVITE went.
    bool srv_lookup = true;
    std::string dns_server;
};

// An account to keep registered.
struct account {
    std::string registrar;  // "sip:pbx.example.com:5080;transport=tcp"
    std::string user;       // the extension: user part of the AOR and the Contact
    std::string auth_user;  // the authentication user (3CX "authentication ID"); empty: the extension
    std::string password;
    std::string domain;     // AOR domain; empty: the registrar's host
    std::uint32_t expires = 3600;
    // Keep-alive toward the registrar: CRLF pings on TCP/TLS, OPTIONS on UDP. A lost connection or an
    // unanswered ping marks the registrar unreachable; it is then probed every min(keepalive, 4 s)
    // and registered again as soon as it answers. 0 switches pings off (a broken TCP/TLS connection
    // is still noticed).
    duration keepalive{30000};
    bool options_ping = false;  // ping with OPTIONS on TCP/TLS too (a registrar that ignores CRLF pings)
    // RFC 5626 (SIP Outbound): register with reg-id and +sip.instance and `Supported: outbound,
    // path`. When the registrar's 2xx says `Require: outbound`, the flow is kept alive every 80-100%
    // of its Flow-Timer (else every `keepalive`), by CRLF on TCP/TLS and STUN on UDP; a flow whose
    // keep-alive goes unanswered (10 s) is taken as failed and registered again at once (so is a UDP
    // flow whose STUN mapped address changed), and the Contact of calls over the flow carries `ob`
    // so that requests in those dialogs come back over it. A registrar without outbound support
    // ignores the parameters; a 439 from a proxy on the way is answered by registering without.
    bool outbound = false;
    // The instance id (RFC 5626 §4.1), "urn:uuid:...". Empty: default_instance_id(aor).
    std::string instance_id;
    duration retry_base{2000};
    duration retry_max{60000};
};

// Where a request to a URI goes (RFC 3263 §4: see user_agent_config::srv_lookup).
struct target {
    transport::protocol proto = transport::protocol::udp;
    std::string host;  // without IPv6 brackets; for TLS also the name the certificate must carry
    std::uint16_t port = 0;
    bool port_given = false;       // the URI has a port: no SRV lookup
    bool transport_given = false;  // sips: or ;transport=: SRV for that transport only
};
std::optional<target> target_of(std::string_view uri);

// The domain of an account's address of record: acct.domain, else the registrar's host (an IPv6
// address in brackets, as it goes into a URI); empty when the registrar is not a usable SIP URI.
std::string account_domain(const account& acct);
// "sip:USER@DOMAIN": the account's address of record (the To of its REGISTERs, the From of its calls).
std::string account_aor(const account& acct);
// What answers a 401/407 for the account: its auth user (else the extension) and password.
auth::credentials account_credentials(const account& acct);
// An RFC 5626 instance id that stays the same across restarts of this machine: a UUID (version 8,
// RFC 9562) made from a hash of /etc/machine-id (else the host name) and `aor`, as "urn:uuid:...".
std::string default_instance_id(std::string_view aor);
// Whether `id` can be an instance id: a URN ("urn:" in any case, RFC 8141) with nothing that would
// break out of the quoted <...> of the +sip.instance parameter (no '<', '>', '"' or white space).
bool valid_instance_id(std::string_view id) noexcept;

// The end of a request: a final response, or an error (timeout, transport failure) with its reason.
struct request_outcome {
    std::optional<sip::message> response;
    std::string error;  // empty when response is set
    bool timeout = false;  // no answer at all (timer B or F), as opposed to a transport failure
};

class user_agent;

// What happens to a call, on the io_context thread. Every handler is optional.
class call_handler {
public:
    virtual ~call_handler() = default;
    // A provisional response to our INVITE (180, 183 with early media SDP).
    virtual void on_progress(int status, const std::string& sdp) { (void)status, (void)sdp; }
    // The peer's offer: a re-INVITE or UPDATE (hold, unhold, new address, codec change), or the 200
    // to our offerless INVITE. Answer it with call::answer(). An empty `sdp` is a re-INVITE without
    // offer: call::answer() then takes OUR offer, and the peer's answer comes to on_answer().
    virtual void on_offer(const std::string& sdp) { (void)sdp; }
    // The peer's answer to our offer (in the 200, or the ACK when we offered in the 200).
    virtual void on_answer(const std::string& sdp) { (void)sdp; }
    virtual void on_connected() {}
    // The call is over: `status` is the final response or 0 for a BYE, `reason` says it in words.
    virtual void on_terminated(int status, const std::string& reason) { (void)status, (void)reason; }
    // A key the peer pressed, sent as SIP INFO with application/dtmf-relay (or application/dtmf);
    // RFC 4733 telephone-events arrive in the media instead (call_media::on_dtmf).
    virtual void on_dtmf(char digit, int duration_ms) { (void)digit, (void)duration_ms; }
    // Our re-offer (call::reoffer) was refused or failed: `status` is the final response (488, 491
    // twice, ...) or 408 for none. The previous session stays in force (RFC 3261 §14.1); cancel the
    // offer in the media layer (call_media::on_offer_rejected). A 481 or 408 ends the call instead.
    virtual void on_offer_rejected(int status) { (void)status; }
    // Our transfer (call::refer()): (202, false) when the peer accepted the REFER, then (code, final)
    // for each NOTIFY it sends: the code of its sipfrag ("SIP/2.0 180 Ringing" -> 180; 0 when it had
    // none we could read), final once the target answered (>= 200) or the peer ended the report. A
    // failure is (code, true) with the refusal of the REFER (403, 405, 501...), the target's answer
    // (486, 603...), or 408 when nothing (more) came. (200, true): the target took the call; hang
    // up then. The call itself goes on in any case.
    virtual void on_refer_progress(int status, bool final) { (void)status, (void)final; }
    // The peer asks us to transfer (its REFER, already answered 202): call `target` (the Refer-To
    // URI, with the REFER's Referred-By as a URI header that place_call() puts into the INVITE,
    // RFC 3892) and report how that went with call::notify_refer(); a status >= 200 ends the report. An
    // application that never reports has the report ended after 60 s (the last status, "timeout").
    // Return true when the transfer is taken; false (what a handler that does not override this
    // returns) declines it: the peer is told 603 Decline at once (a NOTIFY ending the subscription).
    // To refuse every REFER before its 202, set user_agent_config::accept_refer = false.
    virtual bool on_refer(const std::string& target) {
        (void)target;
        return false;
    }
};

// How place_call() reaches its target.
struct call_options {
    std::string from;  // our address of record; empty: sip:sipvoice@<local host>
    // Answer a 401/407 to the INVITE (once per challenge: a second one ends the call).
    std::optional<auth::credentials> credentials;
    // An outbound proxy (the registrar, usually): the INVITE goes there with a loose Route to it.
    std::string proxy;
    int max_redirects = 3;  // 3xx responses followed (to their first Contact) before the call fails
};

// A handle on one call; cheap to copy. Calls on a call that has ended do nothing.
class call {
public:
    call() = default;
    [[nodiscard]] std::uint64_t id() const noexcept { return id_; }
    [[nodiscard]] bool valid() const noexcept;  // the call still exists
    void set_handler(std::shared_ptr<call_handler> handler);
    // UAS: 180 Ringing (or 183), 200 OK with our SDP, or a final refusal (486, 603...). In an
    // established call reject() refuses the peer's pending re-offer instead (488 Not Acceptable
    // Here), and the call goes on.
    void ring(int status = 180);
    void accept(std::string sdp);
    void reject(int status);
    // The answer to an on_offer().
    void answer(std::string sdp);
    // A new offer in the established call (hold: sendonly/inactive, unhold, codec or address change):
    // a re-INVITE, or with `by_update` an UPDATE (RFC 3311; the re-INVITE after all for a peer that
    // does not take UPDATE); the answer comes to on_answer(), a refusal to on_offer_rejected(). A 491
    // (glare) is retried once after the RFC 3261 §14.1 random delay.
    void reoffer(std::string sdp, bool by_update = false);
    // A key as SIP INFO (application/dtmf-relay), for a peer that wants DTMF that way rather than as
    // RFC 4733 events in the media (call_media's audio stream sends those). False when the call is
    // not confirmed or the key is not one of 0-9 * # A-D.
    bool send_dtmf_info(char digit, int duration_ms = 160);
    // Blind transfer: a REFER asking the peer to call `target_uri` ("sip:1003@pbx.example.com");
    // the outcome comes to on_refer_progress(). False, and nothing sent, when the call is not
    // confirmed, the URI does not parse or an earlier transfer has no outcome yet.
    bool refer(std::string target_uri);
    // The outcome of the transfer the peer asked for (on_refer): the final status of our call to its
    // target (200, 486, 603...), or a provisional one (180) to report progress.
    void notify_refer(int status);
    // BYE (or CANCEL / a refusal before the call was answered).
    void hangup();
    [[nodiscard]] std::optional<session_state> state() const;
    // The call's dialog (Call-ID, our tag, the peer's tag) once it has one: what a Replaces header
    // (RFC 3891) names to take the call's place, e.g. in an attended transfer.
    [[nodiscard]] std::optional<dialog_id> dialog() const;

    // Made by the user agent; `owner` is its state.
    call(std::weak_ptr<void> owner, std::uint64_t id) : owner_(std::move(owner)), id_(id) {}

private:
    std::weak_ptr<void> owner_;
    std::uint64_t id_ = 0;
};

class user_agent {
public:
    using registration_handler = std::function<void(const registration_state&)>;
    using outcome_handler = std::function<void(const request_outcome&)>;

    user_agent(asio::io_context& io, user_agent_config config);
    ~user_agent();
    user_agent(const user_agent&) = delete;
    user_agent& operator=(const user_agent&) = delete;

    // Opens the transports' listening sockets.
    std::error_code start();
    void on_log(log_handler handler);

    // Registers the account and keeps it registered; every state change goes to the handler.
    // Returns an id for remove_registration().
    std::size_t add_registration(account acct, registration_handler handler);
    // Un-REGISTERs (Expires: 0) and forgets the account once the registrar answered.
    void remove_registration(std::size_t id);

    // OPTIONS to `uri`; the handler gets the final response or the reason there is none.
    void send_options(std::string uri, outcome_handler handler);
    // Any out-of-dialog request to `uri` (Via, Max-Forwards, From with a tag, To, Call-ID, CSeq and
    // Contact filled in), with extra headers and an optional body. With credentials, a 401 or 407 is
    // answered once (same Call-ID, next CSeq, Authorization or Proxy-Authorization); a second
    // challenge is handed to the handler as the final response, so a wrong password cannot loop.
    struct request_extras {
        std::vector<std::pair<std::string, std::string>> headers;
        std::string content_type;
        std::string body;
        std::optional<auth::credentials> credentials;
    };
    void send_request(std::string method, std::string uri, request_extras extras, outcome_handler handler);

    // Incoming INVITEs: the handler gets the call and the INVITE, and must ring, accept or reject it
    // (now or later). Without a handler INVITEs are refused with 480.
    using incoming_call_handler = std::function<void(call, const sip::message& invite)>;
    void on_incoming_call(incoming_call_handler handler);
    // Calls `uri` with `offer_sdp` (may be empty: then on_offer() gets the peer's offer in the 200
    // and answer() goes into the ACK). `from` is our address of record (empty: sip:sipvoice@host).
    call place_call(std::string uri, std::string offer_sdp, std::shared_ptr<call_handler> handler, std::string from = {});
    // The same with credentials for a 401/407, an outbound proxy and a redirect limit.
    call place_call(std::string uri, std::string offer_sdp, std::shared_ptr<call_handler> handler, call_options options);
    [[nodiscard]] std::size_t call_count() const noexcept;

    // Ends every call (BYE), un-REGISTERs every account, waits for the answers (at most `grace`),
    // closes every socket, then calls `done`. Nothing is sent afterwards.
    void shutdown(std::function<void()> done, duration grace = duration(5000));

    [[nodiscard]] transport::sip_transport& transport() noexcept;
    // The methods we handle, as Allow lists them.
    [[nodiscard]] std::string allow() const;

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

}  // namespace sipvoice::ua
