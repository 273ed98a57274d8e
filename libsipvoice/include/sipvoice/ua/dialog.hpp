// sipvoice/ua/dialog.hpp: a SIP dialog (RFC 3261 §12): the peer-to-peer relationship an INVITE (or
// a SUBSCRIBE/REFER) creates, and everything needed to send requests inside it and to check the
// requests that arrive in it.
//
// Sans-I/O: a dialog owns copies of its identifiers and route set, builds requests as
// sip::message_builder, and checks incoming requests; the caller sends them.
//
//   auto d = ua::dialog::for_uas(invite, my_tag, "<sip:1001@192.0.2.10:5060>");   // we answered 2xx
//   auto bye = d->request("BYE", via_for_next_hop);                                // Route, CSeq, tags
//   ... send(bye.str()) to d->next_hop() ...
//   switch (d->on_request(incoming)) { case dialog::check::out_of_order: answer 500; ... }
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sipvoice/sip/builder.hpp"
#include "sipvoice/sip/message.hpp"

namespace sipvoice::ua {

// RFC 3261 §12: Call-ID, local tag and remote tag identify a dialog.
struct dialog_id {
    std::string call_id;
    std::string local_tag;
    std::string remote_tag;
    friend bool operator==(const dialog_id&, const dialog_id&) = default;
    friend auto operator<=>(const dialog_id&, const dialog_id&) = default;
};

// The dialog a message belongs to, seen from our side: for a request we receive, our tag is in To;
// for a response we receive (to our request), our tag is in From.
std::optional<dialog_id> dialog_id_of(const sip::message& m);

class dialog {
public:
    // RFC 3261 §12.1.1: the UAS side, created when we answer `request` with a 1xx/2xx carrying
    // `local_tag` in To and `local_contact` as our Contact (a name-addr or URI).
    static std::optional<dialog> for_uas(const sip::message& request, std::string local_tag, std::string local_contact);
    // RFC 3261 §12.1.2: the UAC side, from our request and a 101-199 (early) or 2xx response that has
    // a To tag.
    static std::optional<dialog> for_uac(const sip::message& request, const sip::message& response);

    [[nodiscard]] const dialog_id& id() const noexcept { return id_; }
    [[nodiscard]] bool early() const noexcept { return early_; }
    // A 2xx confirmed an early dialog (RFC 3261 §12.1: its route set is taken from the 2xx).
    void confirm(const sip::message& response_2xx);

    // RFC 3261 §12.2.1.1: a request inside the dialog with `via` as its top Via: Request-URI and
    // Route from the remote target and route set (loose or strict routing), From/To with both tags,
    // Call-ID, Max-Forwards and the CSeq: the next local number, or `cseq` when given (ACK and CANCEL
    // carry the INVITE's). The caller adds Contact, body and other headers.
    sip::message_builder request(std::string_view method, std::string_view via, std::uint32_t cseq = 0);
    // Where the request goes first: the first Route, else the remote target (RFC 3261 §8.1.2).
    [[nodiscard]] std::string next_hop() const;

    enum class check : std::uint8_t { ok, out_of_order, not_this_dialog };
    // RFC 3261 §12.2.2: an incoming request in this dialog. A CSeq lower than the last one is
    // out_of_order (answer 500); otherwise the remote CSeq is recorded and a target refresh
    // (re-INVITE, UPDATE) with a Contact moves the remote target.
    check on_request(const sip::message& request);
    // RFC 3261 §12.2.1.2: a 2xx to a target refresh request we sent moves the remote target.
    void on_target_refresh_response(const sip::message& response_2xx);

    [[nodiscard]] std::uint32_t local_seq() const noexcept { return local_seq_; }
    [[nodiscard]] std::optional<std::uint32_t> remote_seq() const noexcept { return remote_seq_; }
    [[nodiscard]] const std::string& local_uri() const noexcept { return local_uri_; }
    [[nodiscard]] const std::string& remote_uri() const noexcept { return remote_uri_; }
    [[nodiscard]] const std::string& remote_target() const noexcept { return remote_target_; }
    [[nodiscard]] const std::vector<std::string>& route_set() const noexcept { return route_set_; }
    [[nodiscard]] bool secure() const noexcept { return secure_; }
    [[nodiscard]] const std::string& local_contact() const noexcept { return local_contact_; }

private:
    dialog() = default;

    dialog_id id_;
    bool uac_ = false;
    bool early_ = false;
    bool secure_ = false;
    std::uint32_t local_seq_ = 0;
    std::optional<std::uint32_t> remote_seq_;
    std::string local_uri_;      // From (UAC) / To (UAS) without tag, as a name-addr
    std::string remote_uri_;     // the other one
    std::string remote_target_;  // the peer's Contact URI
    std::string local_contact_;
    std::vector<std::string> route_set_;  // Route header values, in the order requests carry them
};

}  // namespace sipvoice::ua
