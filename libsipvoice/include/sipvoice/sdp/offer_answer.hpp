// sipvoice/sdp/offer_answer.hpp: the SDP offer/answer model (RFC 3264) for one audio stream.
//
// The application says what it can do in a local_media: its RTP address and port and its codecs in
// order of preference (PCMU, PCMA, Opus, G.722), telephone-events (RFC 4733), ptime, direction and
// rtcp-mux. From that this file builds offers, answers received offers, and reads answers to its
// offers; every successful exchange yields a `negotiated`: where to send RTP and RTCP, with which
// payload type and codec, which payload type carries DTMF, ptime, direction, rtcp-mux.
//
//   sdp::offer_answer oa(local);                       // one per call (dialog)
//   // UAS: an INVITE with an offer
//   auto offer = sdp::parse(invite.body());
//   auto answer = oa.receive_offer(*offer);           // errc::no_common_codec -> answer 488
//   send_200(sdp::serialize(*answer));  start_media(*oa.current());
//   // UAC: our offer, their answer
//   send_invite(sdp::serialize(oa.create_offer()));
//   auto got = oa.receive_answer(*sdp::parse(response.body()));
//   // hold and unhold: a re-offer with another direction (RFC 3264 §8.4)
//   oa.local().direction = sdp::direction::sendonly;  send_reinvite(sdp::serialize(oa.create_offer()));
//
// Choices, and why:
// - Only audio is negotiated: the first active audio stream over RTP/AVP or RTP/AVPF that has a codec
//   in common. Every other m-line of an offer (video, a second audio stream, T.38, SRTP-only audio)
//   is declined with port 0, in place, because RFC 3264 §6 requires one answer m-line per offer
//   m-line. No stream at all: errc::no_usable_media; no codec in common: errc::no_common_codec (both
//   mean 488).
// - The codec is chosen by OUR preference order among those offered. By default the answer lists just
//   that one codec (plus telephone-event): a peer that may switch between several answered codecs at
//   any packet gains nothing for a voice agent and costs a decoder per codec (local_media::
//   answer_all_common_codecs lists every common codec instead).
// - Payload type numbers of the offer are kept in the answer, dynamic ones included (RFC 3264 §6.1),
//   and every number once bound to a codec in this session stays bound to it in later offers
//   (RFC 3264 §8.3.2), so a re-offer after their first offer reuses their numbers.
// - Numbers in an SDP are what its author wants to RECEIVE (RFC 3264 §5.1): negotiated::codec.
//   payload_type is the number to send with, receive_payload_type the one to expect. They differ
//   only when an answerer renumbered our offer.
// - telephone-event is taken at the chosen codec's clock rate when the peer has it (RFC 4733 §2.4.1
//   puts events on the audio stream's clock: /48000 with Opus), else at 8000.
// - Direction follows RFC 3264 §6.1 combined with our own: answering sendonly gives recvonly,
//   recvonly gives sendonly, inactive gives inactive; a c=0.0.0.0 offer (RFC 2543 hold) is taken as
//   "do not send to me" (RFC 3264 §8.4) and answered recvonly.
// - Re-offers (RFC 3264 §8): our later offers keep every m-line of the session in place (declined ones
//   stay declined, port 0); o= keeps username and session id and its version grows by one exactly when
//   the description differs from the last one we sent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sipvoice/sdp/error.hpp"
#include "sipvoice/sdp/session_description.hpp"

namespace sipvoice::sdp {

// One codec we can use, as it appears in an rtpmap: name, clock rate, channels, and the fmtp we offer
// (what we want to receive). payload_type is the number we offer it with when no number is bound yet.
struct codec {
    std::string name;
    std::uint32_t clock_rate = 8000;
    std::uint8_t channels = 1;
    std::uint8_t payload_type = 0;
    std::string fmtp;
    friend bool operator==(const codec&, const codec&) = default;
};

// The usual ones. Opus is always rtpmap opus/48000/2 (RFC 7587 §7) whatever it carries; our fmtp
// asks for mono (stereo=0), in-band FEC and at most `max_playback_rate` Hz audio (RFC 7587 §6.1).
// G.722 is G722/8000 although it samples at 16 kHz (RFC 3551 §4.5.2).
codec pcmu();                                       // 0 PCMU/8000
codec pcma();                                       // 8 PCMA/8000
codec g722();                                       // 9 G722/8000
codec opus(std::uint32_t max_playback_rate = 48000);  // 111 opus/48000/2
codec telephone_event(std::uint32_t clock_rate = 8000);  // 101 (/8000) or 110 (/48000), fmtp 0-16

// What the application offers and accepts.
struct local_media {
    std::string address;              // our RTP address, IPv4 or IPv6 literal (written in o= and c=)
    std::uint16_t port = 0;           // our RTP port (even, RFC 3550 §11)
    std::vector<codec> codecs = {pcmu(), pcma()};  // preference order; telephone-event is not listed here
    bool telephone_event = true;      // offer/accept RFC 4733 events 0-16 (/8000, and /48000 with Opus)
    std::uint32_t ptime = 20;         // a=ptime we write, 0 for none
    std::uint32_t maxptime = 0;       // a=maxptime we write, 0 for none
    sdp::direction direction = sdp::direction::sendrecv;  // sendonly or inactive puts the call on hold
    bool rtcp_mux = false;            // offer rtcp-mux, and accept it when offered (RFC 5761 §5.1.1)
    bool answer_all_common_codecs = false;  // see the top of this file
    std::string username = "-";       // o= username
    std::uint64_t session_id = 0;     // o= sess-id: the caller supplies a random number (no RNG here)
    std::string session_name = "sipvoice";  // s=
};

// The outcome of an exchange: what the media layer needs.
struct negotiated {
    std::size_t media_index = 0;     // the m-line of the audio stream
    std::string remote_address;      // where RTP goes (c= of the peer's stream)
    sdp::address_type remote_address_type = sdp::address_type::ip4;
    std::uint16_t remote_port = 0;
    std::string remote_rtcp_address; // a=rtcp address, else remote_address
    std::uint16_t remote_rtcp_port = 0;  // a=rtcp, else the RTP port with rtcp-mux, else RTP port + 1
    sdp::codec codec;                // payload_type: the number to SEND with; fmtp: the PEER's fmtp
    std::uint8_t receive_payload_type = 0;  // the number the peer sends the codec with
    std::string local_fmtp;          // our fmtp for the codec (what we asked to receive)
    std::optional<std::uint8_t> telephone_event;          // send payload type, when both have events
    std::optional<std::uint8_t> receive_telephone_event;  // receive payload type
    std::uint32_t telephone_event_rate = 0;               // clock rate of the events, when used
    std::uint32_t ptime = 20;        // the peer's a=ptime: how we packetize; 20 ms when absent (RFC 3551 §4.2)
    std::uint32_t maxptime = 0;      // the peer's a=maxptime, 0 when absent
    sdp::direction direction = sdp::direction::sendrecv;  // OURS: sendonly = we send only
    bool rtcp_mux = false;
    bool remote_hold = false;        // the peer does not want media from us (sendonly/inactive or c=0.0.0.0)
    std::uint16_t local_port = 0;    // what we advertised
    friend bool operator==(const negotiated&, const negotiated&) = default;
};

// Stateless forms, for one exchange (an offer_answer object does the same and remembers the session).
// `version` is the o= session version (RFC 8866 §5.2). build_offer() always lists every codec of
// `local`; an empty codec list gives an m-line with telephone-event alone, which nobody can answer.
session_description build_offer(const local_media& local, std::uint64_t version = 1);
struct answer_result {
    session_description answer;
    negotiated result;
};
result<answer_result> build_answer(const session_description& offer, const local_media& local,
                                   std::uint64_t version = 1);
result<negotiated> process_answer(const session_description& our_offer, const session_description& answer);

// The offer/answer state of one session (one dialog): sans-I/O, the caller carries the SDP in SIP.
class offer_answer {
public:
    explicit offer_answer(local_media local);

    // What we offer and accept. Changes take effect in the next offer or answer we build: set
    // direction to sendonly/inactive for hold and back to sendrecv for unhold, change address/port,
    // or reorder/replace codecs, then create_offer().
    [[nodiscard]] local_media& local() noexcept { return local_; }
    [[nodiscard]] const local_media& local() const noexcept { return local_; }

    // Our offer (initial or re-offer). An outstanding offer of ours is replaced. The first description
    // we send has o= version 1.
    session_description create_offer();
    // The peer's answer to our outstanding offer. On failure the previous negotiation stays in force
    // and the offer is no longer outstanding (the caller ends the call or re-offers).
    result<negotiated> receive_answer(const session_description& answer);
    // Our offer was rejected (a 488 or other failure to a re-INVITE): the session continues as it was
    // (RFC 3264 §8, RFC 3261 §14.1).
    void cancel_offer() noexcept;
    // The peer's offer (initial or re-offer): our answer, to send. On failure nothing changes and the
    // caller answers sip_status(error) (488, or 491 when our own offer is outstanding).
    result<session_description> receive_offer(const session_description& offer);

    [[nodiscard]] bool offer_pending() const noexcept { return pending_.has_value(); }
    // The negotiation in force, or nullptr before the first complete exchange.
    [[nodiscard]] const negotiated* current() const noexcept { return current_ ? &*current_ : nullptr; }
    // The last description we sent (offer or answer) and the last we received.
    [[nodiscard]] const session_description* local_description() const noexcept {
        return last_local_ ? &*last_local_ : nullptr;
    }
    [[nodiscard]] const session_description* remote_description() const noexcept {
        return last_remote_ ? &*last_remote_ : nullptr;
    }

    // Payload type numbers bound to codecs in this session (RFC 3264 §8.3.2).
    struct binding {
        std::uint8_t payload_type = 0;
        std::string name;
        std::uint32_t clock_rate = 0;
        std::uint8_t channels = 1;
    };

private:
    session_description stamp(session_description d);  // o= and its version (RFC 3264 §8)
    void learn(const session_description& d);          // payload type bindings of a description

    local_media local_;
    std::optional<session_description> pending_;      // our outstanding offer
    std::optional<session_description> last_local_;
    std::optional<session_description> last_remote_;
    std::optional<negotiated> current_;
    std::vector<binding> bindings_;
};

}  // namespace sipvoice::sdp
