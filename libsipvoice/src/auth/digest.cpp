// HTTP Digest for SIP, client side (RFC 2617, RFC 7616, RFC 8760). Hashes come from OpenSSL's libcrypto.
#include "sipvoice/auth/digest.hpp"

#include <openssl/evp.h>

#include <array>
#include <cstdio>

#include "../sip/charset.hpp"
#include "sipvoice/sip/name_addr.hpp"

namespace sipvoice::auth {
namespace {

using sip::detail::iequals;
using sip::detail::trim;

struct algorithm_name {
    auth::algorithm id;
    std::string_view name;
};
constexpr algorithm_name algorithms[] = {
    {algorithm::md5, "MD5"},
    {algorithm::md5_sess, "MD5-sess"},
    {algorithm::sha256, "SHA-256"},
    {algorithm::sha256_sess, "SHA-256-sess"},
    {algorithm::sha512_256, "SHA-512-256"},
    {algorithm::sha512_256_sess, "SHA-512-256-sess"},
};

std::string_view name_of(auth::algorithm alg) noexcept {
    for (const auto& a : algorithms)
        if (a.id == alg) return a.name;
    return "MD5";
}

bool is_session(auth::algorithm alg) noexcept {
    return alg == algorithm::md5_sess || alg == algorithm::sha256_sess || alg == algorithm::sha512_256_sess;
}

const EVP_MD* digest_of(auth::algorithm alg) noexcept {
    switch (alg) {
        case algorithm::md5:
        case algorithm::md5_sess: return EVP_md5();
        case algorithm::sha256:
        case algorithm::sha256_sess: return EVP_sha256();
        case algorithm::sha512_256:
        case algorithm::sha512_256_sess: return EVP_sha512_256();
    }
    return EVP_md5();
}

// Joins the parts with ':' (the digest grammar's separator).
std::string join(std::initializer_list<std::string_view> parts) {
    std::string out;
    bool first = true;
    for (std::string_view p : parts) {
        if (!first) out.push_back(':');
        first = false;
        out.append(p);
    }
    return out;
}

// nonce-count: 8 lowercase hex digits (RFC 7616 §3.4).
std::string nc_hex(std::uint32_t nonce_count) {
    char nc[9];
    std::snprintf(nc, sizeof nc, "%08x", nonce_count);
    return nc;
}

}  // namespace

std::string_view describe(errc code) noexcept {
    switch (code) {
        case errc::ok: return "no error";
        case errc::not_digest: return "challenge is not in the Digest scheme";
        case errc::missing_parameter: return "challenge without realm or nonce";
        case errc::unsupported_algorithm: return "unsupported digest algorithm";
        case errc::unsupported_qop: return "unsupported qop (neither auth nor auth-int)";
        case errc::no_challenge: return "no challenge this client can answer";
    }
    return "unknown error";
}

result<challenge> parse_challenge(const sip::auth_value& value, bool proxy) {
    if (!iequals(value.scheme, "Digest")) return error{errc::not_digest};
    challenge ch;
    ch.proxy = proxy;
    bool has_realm = false;
    bool has_nonce = false;
    bool qop_given = false;
    bool bad_algorithm = false;
    value.params.for_each([&](const sip::param& p) {
        const std::string v = sip::unquote(p.value);
        if (iequals(p.name, "realm")) {
            ch.realm = v;
            has_realm = true;
        } else if (iequals(p.name, "nonce")) {
            ch.nonce = v;
            has_nonce = true;
        } else if (iequals(p.name, "opaque")) {
            ch.opaque = v;
            ch.has_opaque = true;
        } else if (iequals(p.name, "stale")) {
            ch.stale = iequals(v, "true");
        } else if (iequals(p.name, "algorithm")) {
            ch.algorithm_given = true;
            bad_algorithm = true;
            for (const auto& a : algorithms)
                if (iequals(v, a.name)) {
                    ch.algorithm = a.id;
                    bad_algorithm = false;
                }
        } else if (iequals(p.name, "qop")) {
            qop_given = true;
            std::string_view rest = v;  // qop-options: a quoted, comma-separated list
            while (!rest.empty()) {
                const std::size_t comma = rest.find(',');
                const std::string_view one = trim(rest.substr(0, comma));
                ch.qop_auth = ch.qop_auth || iequals(one, "auth");
                ch.qop_auth_int = ch.qop_auth_int || iequals(one, "auth-int");
                rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
            }
        }
    });
    if (!has_realm || !has_nonce) return error{errc::missing_parameter};
    if (bad_algorithm) return error{errc::unsupported_algorithm};
    if (qop_given && !ch.qop_auth && !ch.qop_auth_int) return error{errc::unsupported_qop};
    return ch;
}

result<challenge> first_supported(const sip::message& response) {
    for (const bool proxy : {false, true}) {
        for (auto v : proxy ? response.proxy_authenticate() : response.www_authenticate()) {
            if (!v) continue;
            auto ch = parse_challenge(*v, proxy);
            if (ch) return ch;
        }
    }
    return error{errc::no_challenge};
}

std::string hash_hex(auth::algorithm alg, std::string_view data) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), md.data(), &len, digest_of(alg), nullptr) != 1) return {};
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(len * 2U);
    for (unsigned int i = 0; i < len; ++i) {
        out.push_back(hex[md[i] >> 4]);
        out.push_back(hex[md[i] & 15]);
    }
    return out;
}

std::string response(const challenge& ch, const credentials& who, std::string_view method, std::string_view uri,
                     std::string_view qop, std::string_view cnonce, std::uint32_t nonce_count, std::string_view body) {
    const auth::algorithm alg = ch.algorithm;
    // RFC 7616 §3.4.2: A1 = username:realm:password, and for -sess H(that):nonce:cnonce.
    std::string ha1 = hash_hex(alg, join({who.username, ch.realm, who.password}));
    if (is_session(alg)) ha1 = hash_hex(alg, join({ha1, ch.nonce, cnonce}));
    // RFC 7616 §3.4.3: A2 = method:uri, plus :H(body) for auth-int.
    const std::string ha2 = qop == "auth-int" ? hash_hex(alg, join({method, uri, hash_hex(alg, body)}))
                                              : hash_hex(alg, join({method, uri}));
    if (qop.empty()) return hash_hex(alg, join({ha1, ch.nonce, ha2}));  // RFC 2069 compatibility
    return hash_hex(alg, join({ha1, ch.nonce, nc_hex(nonce_count), cnonce, qop, ha2}));
}

std::string authorization(const challenge& ch, const credentials& who, std::string_view method, std::string_view uri,
                          std::string_view cnonce, std::uint32_t nonce_count, std::string_view body) {
    const std::string_view qop = ch.qop_auth ? "auth" : ch.qop_auth_int ? "auth-int" : "";
    std::string out = "Digest username=" + sip::quote(who.username) + ", realm=" + sip::quote(ch.realm) +
                      ", nonce=" + sip::quote(ch.nonce) + ", uri=" + sip::quote(uri) + ", response=\"" +
                      response(ch, who, method, uri, qop, cnonce, nonce_count, body) + "\"";
    if (ch.algorithm_given) out.append(", algorithm=").append(name_of(ch.algorithm));
    if (ch.has_opaque) out.append(", opaque=").append(sip::quote(ch.opaque));
    if (!qop.empty())
        out.append(", cnonce=").append(sip::quote(cnonce)).append(", qop=").append(qop).append(", nc=").append(nc_hex(nonce_count));
    return out;
}

}  // namespace sipvoice::auth
