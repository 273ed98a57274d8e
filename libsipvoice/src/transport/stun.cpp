// STUN Binding requests and responses (RFC 5389 §6, §7, §15.1, §15.2, §15.6).
#include "sipvoice/transport/stun.hpp"

#include <array>
#include <cstring>

namespace sipvoice::transport::stun {
namespace {

constexpr std::uint16_t binding_request_type = 0x0001;
constexpr std::uint16_t binding_success_type = 0x0101;
constexpr std::uint16_t binding_error_type = 0x0111;
constexpr std::uint16_t attr_mapped_address = 0x0001;
constexpr std::uint16_t attr_xor_mapped_address = 0x0020;
constexpr std::uint16_t attr_error_code = 0x0009;
constexpr std::size_t header_size = 20;

std::uint16_t u16(const unsigned char* p) noexcept { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }
std::uint32_t u32(const unsigned char* p) noexcept {
    return static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
           static_cast<std::uint32_t>(p[2]) << 8 | p[3];
}
void put16(std::string& s, std::uint16_t v) {
    s.push_back(static_cast<char>(v >> 8));
    s.push_back(static_cast<char>(v & 0xff));
}
void put32(std::string& s, std::uint32_t v) {
    put16(s, static_cast<std::uint16_t>(v >> 16));
    put16(s, static_cast<std::uint16_t>(v & 0xffff));
}

std::string header(std::uint16_t type, std::uint16_t length, const transaction_id& id) {
    std::string s;
    s.reserve(header_size + length);
    put16(s, type);
    put16(s, length);
    put32(s, magic_cookie);
    s.append(reinterpret_cast<const char*>(id.data()), id.size());
    return s;
}

// (X)MAPPED-ADDRESS (RFC 5389 §15.1, §15.2): 0, family, port, address; with `xored`, the port is
// XORed with the cookie's top half and the address with the cookie (and, IPv6, the transaction id).
std::optional<endpoint> read_address(const unsigned char* v, std::size_t n, bool xored, const unsigned char* cookie_and_id) {
    if (n < 4) return std::nullopt;
    const std::uint8_t family = v[1];
    std::uint16_t port = u16(v + 2);
    if (xored) port ^= static_cast<std::uint16_t>(magic_cookie >> 16);
    if (family == 0x01 && n == 8) {
        std::array<unsigned char, 4> a{};
        for (std::size_t i = 0; i < 4; ++i) a[i] = static_cast<unsigned char>(v[4 + i] ^ (xored ? cookie_and_id[i] : 0));
        return endpoint{asio::ip::address_v4(a), port};
    }
    if (family == 0x02 && n == 20) {
        std::array<unsigned char, 16> a{};
        for (std::size_t i = 0; i < 16; ++i) a[i] = static_cast<unsigned char>(v[4 + i] ^ (xored ? cookie_and_id[i] : 0));
        return endpoint{asio::ip::address_v6(a), port};
    }
    return std::nullopt;
}

}  // namespace

std::string binding_request(const transaction_id& id) { return header(binding_request_type, 0, id); }

bool is_stun(std::string_view d) noexcept {
    if (d.size() < header_size) return false;
    const auto* p = reinterpret_cast<const unsigned char*>(d.data());
    if ((p[0] & 0xc0) != 0) return false;
    const std::uint16_t length = u16(p + 2);
    return length % 4 == 0 && length == d.size() - header_size && u32(p + 4) == magic_cookie;
}

std::optional<response> read_response(std::string_view d) {
    if (!is_stun(d)) return std::nullopt;
    const auto* p = reinterpret_cast<const unsigned char*>(d.data());
    const std::uint16_t type = u16(p);
    if (type != binding_success_type && type != binding_error_type) return std::nullopt;
    response r;
    r.success = type == binding_success_type;
    std::memcpy(r.id.data(), p + 8, r.id.size());
    std::optional<endpoint> plain;
    std::optional<endpoint> xored;
    std::size_t at = header_size;
    while (at < d.size()) {
        if (d.size() - at < 4) return std::nullopt;
        const std::uint16_t attr = u16(p + at);
        const std::uint16_t length = u16(p + at + 2);
        const std::size_t padded = (static_cast<std::size_t>(length) + 3) & ~std::size_t{3};
        if (d.size() - at - 4 < padded) return std::nullopt;  // the value runs past the end
        const unsigned char* v = p + at + 4;
        if (attr == attr_xor_mapped_address || attr == attr_mapped_address) {
            auto a = read_address(v, length, attr == attr_xor_mapped_address, p + 4);
            if (!a) return std::nullopt;
            (attr == attr_xor_mapped_address ? xored : plain) = a;
        } else if (attr == attr_error_code && length >= 4) {
            const int cls = v[2] & 0x07;
            const int number = v[3];
            if (cls >= 3 && cls <= 6 && number < 100) r.error_code = cls * 100 + number;
        }
        at += 4 + padded;
    }
    if (r.success) r.mapped = xored ? xored : plain;
    return r;
}

std::string binding_success(const transaction_id& request_id, const endpoint& mapped) {
    const bool v6 = mapped.address.is_v6();
    const std::uint16_t value_length = v6 ? 20 : 8;
    std::string s = header(binding_success_type, static_cast<std::uint16_t>(4 + value_length), request_id);
    put16(s, attr_xor_mapped_address);
    put16(s, value_length);
    s.push_back(0);
    s.push_back(static_cast<char>(v6 ? 0x02 : 0x01));
    put16(s, static_cast<std::uint16_t>(mapped.port ^ (magic_cookie >> 16)));
    std::array<unsigned char, 16> cookie_and_id{};  // copied: the appends below may move the string
    std::memcpy(cookie_and_id.data(), s.data() + 4, cookie_and_id.size());
    if (v6) {
        const auto b = mapped.address.to_v6().to_bytes();
        for (std::size_t i = 0; i < 16; ++i) s.push_back(static_cast<char>(b[i] ^ cookie_and_id[i]));
    } else {
        const auto b = mapped.address.to_v4().to_bytes();
        for (std::size_t i = 0; i < 4; ++i) s.push_back(static_cast<char>(b[i] ^ cookie_and_id[i]));
    }
    return s;
}

}  // namespace sipvoice::transport::stun
