// sipvoice/auth/digest.hpp: HTTP Digest authentication for SIP (RFC 3261 §22.4, RFC 2617, RFC 7616,
// RFC 8760), client side.
//
// A 401 (WWW-Authenticate) or 407 (Proxy-Authenticate) carries one or more challenges; the client picks
// the first one it supports (servers list their preferred algorithm first, RFC 7616 §3.7), computes the
// response over the request's method and Request-URI, and retries the request with an Authorization
// (for 401) or Proxy-Authorization (for 407) header.
//
//   auto offered = sip::message::parse(...);                      // the 401 or 407
//   auto ch = auth::first_supported(*offered);                     // a challenge, or an error
//   auth::credentials who{"3cx-auth-id", password};                // auth user may differ from the extension
//   std::string value = auth::authorization(*ch, who, "REGISTER", "sip:pbx.example.com", cnonce, 1);
//   request.add(ch->proxy ? sip::header_id::proxy_authorization : sip::header_id::authorization, value);
//
// Algorithms: MD5, MD5-sess, SHA-256, SHA-256-sess, SHA-512-256, SHA-512-256-sess; qop auth and
// auth-int (or none, RFC 2069 style, for old servers). The password never appears in the outputs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sipvoice/result.hpp"
#include "sipvoice/sip/headers.hpp"
#include "sipvoice/sip/message.hpp"

namespace sipvoice::auth {

enum class algorithm : std::uint8_t { md5, md5_sess, sha256, sha256_sess, sha512_256, sha512_256_sess };

enum class errc : std::uint8_t {
    ok = 0,
    not_digest,             // a challenge in another scheme (Basic, Bearer...)
    missing_parameter,      // no realm or no nonce
    unsupported_algorithm,  // an algorithm= this library does not implement
    unsupported_qop,        // qop offered but neither auth nor auth-int
    no_challenge,           // the response carries no challenge this library can answer
};
std::string_view describe(errc code) noexcept;

struct error {
    errc code = errc::ok;
    [[nodiscard]] constexpr bool failed() const noexcept { return code != errc::ok; }
};
template <class T>
using result = sipvoice::result<T, error>;

// One parsed challenge (RFC 7616 §3.3). Values are unquoted copies.
struct challenge {
    std::string realm;
    std::string nonce;
    std::string opaque;  // echoed back unchanged when present
    bool has_opaque = false;
    auth::algorithm algorithm = auth::algorithm::md5;  // MD5 when absent (RFC 7616 §3.3)
    bool algorithm_given = false;                      // echo algorithm= only if the server sent one
    bool qop_auth = false;                             // qop="auth" offered
    bool qop_auth_int = false;                         // qop="auth-int" offered
    bool stale = false;  // the nonce expired but the credentials were right: retry with the new nonce
    bool proxy = false;  // came in Proxy-Authenticate (answer with Proxy-Authorization)
};

result<challenge> parse_challenge(const sip::auth_value& value, bool proxy);
// The first challenge of a 401/407 that this library can answer (WWW-Authenticate, then
// Proxy-Authenticate), or errc::no_challenge.
result<challenge> first_supported(const sip::message& response);

struct credentials {
    std::string username;  // the authentication user (3CX "authentication ID"), not necessarily the extension
    std::string password;
};

// hex(H(data)) for the algorithm's hash (MD5, SHA-256 or SHA-512/256), lowercase.
std::string hash_hex(auth::algorithm alg, std::string_view data);

// The request-digest (RFC 7616 §3.4.1). qop is "auth", "auth-int" or empty (no qop, RFC 2069);
// body is the message body, used by auth-int only.
std::string response(const challenge& ch, const credentials& who, std::string_view method, std::string_view uri,
                     std::string_view qop, std::string_view cnonce, std::uint32_t nonce_count,
                     std::string_view body = {});

// The whole Authorization / Proxy-Authorization value: Digest username, realm, nonce, uri, response,
// algorithm (when the server named one), cnonce, opaque, qop, nc. qop=auth is chosen when offered,
// else auth-int, else none.
std::string authorization(const challenge& ch, const credentials& who, std::string_view method, std::string_view uri,
                          std::string_view cnonce, std::uint32_t nonce_count, std::string_view body = {});

}  // namespace sipvoice::auth
