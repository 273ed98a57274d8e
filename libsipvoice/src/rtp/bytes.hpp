// Network byte order reads and writes shared by the rtp/ sources (not installed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace sipvoice::rtp::detail {

inline std::uint16_t get16(std::span<const std::uint8_t> b, std::size_t at) noexcept {
    return static_cast<std::uint16_t>((b[at] << 8) | b[at + 1]);
}
inline std::uint32_t get24(std::span<const std::uint8_t> b, std::size_t at) noexcept {
    return (std::uint32_t{b[at]} << 16) | (std::uint32_t{b[at + 1]} << 8) | b[at + 2];
}
inline std::uint32_t get32(std::span<const std::uint8_t> b, std::size_t at) noexcept {
    return (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) | (std::uint32_t{b[at + 2]} << 8) |
           b[at + 3];
}
inline std::uint64_t get64(std::span<const std::uint8_t> b, std::size_t at) noexcept {
    return (std::uint64_t{get32(b, at)} << 32) | get32(b, at + 4);
}

inline void put16(std::span<std::uint8_t> b, std::size_t at, std::uint16_t v) noexcept {
    b[at] = static_cast<std::uint8_t>(v >> 8);
    b[at + 1] = static_cast<std::uint8_t>(v);
}
inline void put24(std::span<std::uint8_t> b, std::size_t at, std::uint32_t v) noexcept {
    b[at] = static_cast<std::uint8_t>(v >> 16);
    b[at + 1] = static_cast<std::uint8_t>(v >> 8);
    b[at + 2] = static_cast<std::uint8_t>(v);
}
inline void put32(std::span<std::uint8_t> b, std::size_t at, std::uint32_t v) noexcept {
    put16(b, at, static_cast<std::uint16_t>(v >> 16));
    put16(b, at + 2, static_cast<std::uint16_t>(v));
}
inline void put64(std::span<std::uint8_t> b, std::size_t at, std::uint64_t v) noexcept {
    put32(b, at, static_cast<std::uint32_t>(v >> 32));
    put32(b, at + 4, static_cast<std::uint32_t>(v));
}

inline bool same_bytes(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i] != b[i]) return false;
    return true;
}

}  // namespace sipvoice::rtp::detail
