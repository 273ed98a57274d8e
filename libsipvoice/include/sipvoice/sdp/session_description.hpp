// sipvoice/sdp/session_description.hpp: SDP session descriptions (RFC 8866), parsed and built.
//
//   auto d = sdp::parse(body);                       // the body of an INVITE, 200 or ACK
//   if (!d) log("line %u: %s", d.error().line, d.error().what().data());
//   for (const sdp::media& m : d->media)
//       for (const sdp::format& f : m.formats) use(f.payload_type, f.encoding, f.clock_rate, f.fmtp);
//   std::string body = sdp::serialize(*d);           // canonical form, CRLF line ends
//
// The model is small owned structs, not views into the text: a session description is a few hundred
// bytes, is parsed once per offer or answer, must outlive the SIP message that carried it (the
// negotiation state keeps the last one of each side), and is also what the application builds and
// modifies for re-offers. Views would tie all of that to a message buffer for no measurable gain.
//
// What is typed: v o s c b t m, and the attributes that negotiation reads: rtpmap and fmtp (merged
// into the media's formats), ptime, maxptime, the direction attributes sendrecv/sendonly/recvonly/
// inactive (session and media level, RFC 8866 §6.7), rtcp (RFC 3605) and rtcp-mux (RFC 5761). Every
// other attribute is kept verbatim, in order, in `attributes`; the other line types (i u e p z k, and
// r= with its t=) are kept verbatim too. What a parse/serialize pass does not keep: where the typed
// attributes stood among the others, whitespace between fields and at line ends, leading zeros of
// numbers, the case of typed attribute names, a "/1" channel count, the fraction of a ptime, and an
// fmtp without parameters.
//
// The serializer writes the RFC 8866 §5 order: v o s i u e p c b t r z k a, then per media m i c b k
// a; typed attributes before the verbatim ones (rtpmap and fmtp per format in m= order, then ptime,
// maxptime, direction, rtcp, rtcp-mux). parse(serialize(d)) == d for every d that parse() returned.
//
// Leniency (what real PBXs and phones send): LF-only line ends, trailing and leading whitespace on a
// line, blank lines, NUL bytes after the last line (a C string's terminator counted into
// Content-Length), a missing s= (session name empty) or t= (one "t=0 0" assumed), the lines of a
// section in any order (v= still first), static payload types without rtpmap
// (the RFC 3551 table fills in the encoding), an fmtp or rtpmap naming a format that the m= line does
// not list (kept verbatim), ptime with a fraction ("20.0"). Strict where a guess would be wrong:
// unknown line types are rejected (RFC 8866 §5 allows ignoring or rejecting the whole description;
// a half-understood offer is worse than a 400), so is an active stream without any c= (§5.7).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sipvoice/sdp/error.hpp"

namespace sipvoice::sdp {

// Limits that keep a hostile description from costing more than a few kilobytes of work.
inline constexpr std::size_t max_media = 64;             // m= lines per description
inline constexpr std::size_t max_formats = 256;          // formats per m= line

// RFC 8866 §6.7 media direction, always from the point of view of the description's author.
enum class direction : std::uint8_t { sendrecv, sendonly, recvonly, inactive };
std::string_view to_string(direction d) noexcept;  // "sendrecv", ...
std::optional<direction> parse_direction(std::string_view name) noexcept;
[[nodiscard]] constexpr bool sends(direction d) noexcept { return d == direction::sendrecv || d == direction::sendonly; }
[[nodiscard]] constexpr bool receives(direction d) noexcept { return d == direction::sendrecv || d == direction::recvonly; }
// The direction with the given send/receive abilities.
[[nodiscard]] constexpr direction make_direction(bool send, bool receive) noexcept {
    return send ? (receive ? direction::sendrecv : direction::sendonly)
                : (receive ? direction::recvonly : direction::inactive);
}
// The same stream seen from the other end: sendonly <-> recvonly.
[[nodiscard]] constexpr direction reverse(direction d) noexcept { return make_direction(receives(d), sends(d)); }

enum class address_type : std::uint8_t { ip4, ip6 };

// c=IN IP4 192.0.2.1 (RFC 8866 §5.7). The address is an IP literal of its type or a host name.
struct connection {
    address_type type = address_type::ip4;
    std::string address;
    std::string multicast;  // "/ttl[/count]" (IP4) or "/count" (IP6) after a multicast address, verbatim

    // RFC 3264 §8.4: 0.0.0.0 (the RFC 2543 way to hold a call) means "send nothing to me"; :: is taken
    // the same way for IPv6.
    [[nodiscard]] bool is_null() const noexcept { return address == "0.0.0.0" || address == "::"; }
    friend bool operator==(const connection&, const connection&) = default;
};

// o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address> (RFC 8866 §5.2). Only
// the version is interpreted (RFC 3264 §8: it changes exactly when the description does); the rest is
// an identifier and kept as written.
struct origin {
    std::string username = "-";
    std::string session_id = "0";
    std::uint64_t session_version = 0;
    std::string network_type = "IN";
    std::string address_type = "IP4";
    std::string address = "0.0.0.0";
    friend bool operator==(const origin&, const origin&) = default;
};

struct bandwidth {  // b=<bwtype>:<bandwidth> (RFC 8866 §5.8), e.g. AS:64 or TIAS:64000
    std::string type;
    std::uint64_t value = 0;
    friend bool operator==(const bandwidth&, const bandwidth&) = default;
};

struct timing {  // t=<start> <stop> and the r= lines after it (RFC 8866 §5.9, §5.10)
    std::uint64_t start = 0;
    std::uint64_t stop = 0;
    std::vector<std::string> repeats;  // r= values, verbatim
    friend bool operator==(const timing&, const timing&) = default;
};

// A line kept verbatim: i u e p z k (type is the letter).
struct field {
    char type = 'i';
    std::string value;
    friend bool operator==(const field&, const field&) = default;
};

// a=<name>[:<value>], kept verbatim. has_value tells "a=x" from "a=x:".
struct attribute {
    std::string name;
    std::string value;
    bool has_value = false;
    friend bool operator==(const attribute&, const attribute&) = default;
};

// One payload format of an RTP media description: the m= payload type with its rtpmap and fmtp
// (RFC 8866 §6.6, §6.15).
struct format {
    std::uint8_t payload_type = 0;  // 0..127
    std::string encoding;           // "PCMU", "opus", "telephone-event"; from the static table if no rtpmap
    std::uint32_t clock_rate = 0;   // 0 when unknown (a dynamic type without rtpmap)
    std::uint8_t channels = 1;      // rtpmap encoding parameter for audio; 1 when absent
    bool has_rtpmap = false;        // an a=rtpmap was (is to be) written for it
    std::string fmtp;               // format-specific parameters (a=fmtp), empty when none
    friend bool operator==(const format&, const format&) = default;
};

// a=rtcp:<port> [IN IP4 <address>] (RFC 3605 §2.1): where the peer wants RTCP, when not RTP port + 1.
struct rtcp_address {
    std::uint16_t port = 0;
    std::optional<sdp::connection> connection;
    friend bool operator==(const rtcp_address&, const rtcp_address&) = default;
};

// m=<media> <port>[/<count>] <proto> <fmt> ... and what belongs to it (RFC 8866 §5.14).
struct media {
    std::string type = "audio";  // audio, video, image, application, ... as written
    std::uint16_t port = 0;      // 0: the stream is declined or removed (RFC 3264 §6, §8.2)
    std::uint16_t port_count = 1;
    std::string proto = "RTP/AVP";
    std::vector<format> formats;             // RTP profiles: one per m= payload type, in m= order
    std::vector<std::string> other_formats;  // other profiles (udptl, TCP/MSRP...): the fmt tokens
    std::vector<field> fields;               // i= and k=, verbatim
    std::optional<sdp::connection> connection;
    std::vector<sdp::bandwidth> bandwidths;
    std::optional<sdp::direction> direction;  // absent: the session's, else sendrecv
    std::uint32_t ptime = 0;                  // a=ptime in ms, 0 when absent (RFC 8866 §6.4)
    std::uint32_t maxptime = 0;               // a=maxptime in ms, 0 when absent (§6.5)
    std::optional<rtcp_address> rtcp;         // RFC 3605
    bool rtcp_mux = false;                    // RFC 5761 §5.1.1
    std::vector<attribute> attributes;        // everything else, verbatim and in order

    // proto names an RTP profile (RTP/AVP, RTP/AVPF, RTP/SAVP(F), UDP/TLS/RTP/SAVP(F)...).
    [[nodiscard]] bool is_rtp() const noexcept;
    [[nodiscard]] const format* find_format(std::uint8_t payload_type) const noexcept;
    // The first verbatim attribute with this name (case-sensitive), or nullptr.
    [[nodiscard]] const attribute* find_attribute(std::string_view name) const noexcept;
    friend bool operator==(const media&, const media&) = default;
};

struct session_description {
    sdp::origin origin;
    std::string name;                         // s=; empty when absent (serialized as "s= ", RFC 8866 §5.3)
    std::vector<field> fields;                // i u e p z k, verbatim, in that order of types
    std::optional<sdp::connection> connection;
    std::vector<sdp::bandwidth> bandwidths;
    std::vector<timing> timings;              // at least one after parse(); none is written as t=0 0
    std::optional<sdp::direction> direction;  // session-level direction attribute
    std::vector<attribute> attributes;        // session-level attributes other than the direction
    std::vector<sdp::media> media;

    // The direction of m: its own attribute, else the session's, else sendrecv (RFC 8866 §6.7).
    [[nodiscard]] sdp::direction direction_of(const sdp::media& m) const noexcept;
    // The connection of m: its own c=, else the session's, else nullptr.
    [[nodiscard]] const sdp::connection* connection_of(const sdp::media& m) const noexcept;
    friend bool operator==(const session_description&, const session_description&) = default;
};

// Parses a description; the error names the 1-based line of the first problem.
result<session_description> parse(std::string_view text);

// The canonical text of d (see the top of this file), CRLF line ends.
std::string serialize(const session_description& d);

// The static payload types of RFC 3551 §6 (Tables 4 and 5): encoding, clock rate, channels. Returns
// false for dynamic and unassigned numbers.
bool static_payload_type(std::uint8_t payload_type, std::string_view& encoding, std::uint32_t& clock_rate,
                         std::uint8_t& channels) noexcept;

// One parameter of an fmtp value in the usual "name=value;name=value" form (RFC 8866 §6.15; the
// names of RFC 7587 §6.1 and others), names compared case-insensitively, spaces around separators
// ignored. nullopt when absent; an empty view for a name without "=value".
std::optional<std::string_view> fmtp_parameter(std::string_view fmtp, std::string_view name) noexcept;

}  // namespace sipvoice::sdp
