// fuzz/fuzz_common.hpp: helpers shared by the libFuzzer targets.
//
// A property violation is a crash: FUZZ_CHECK prints what failed and aborts, so libFuzzer saves the
// input as a crash-* artifact and exits non-zero (which fails the ctest "fuzz: <target>" test).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>

#include "sipvoice/sip/name_addr.hpp"
#include "sipvoice/sip/params.hpp"

#define FUZZ_CHECK(cond)                                                                         \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            std::fprintf(stderr, "%s:%d: fuzz property violated: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                        \
        }                                                                                        \
    } while (0)

namespace sipvoice::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) noexcept {
    return {reinterpret_cast<const char*>(data), size};
}

// Zero-copy parsers return views into what they parsed: a non-empty view must lie inside it.
inline bool within(std::string_view part, std::string_view whole) noexcept {
    if (part.empty()) return true;
    const auto* b = whole.data();
    const auto* p = part.data();
    return p >= b && p + part.size() <= b + whole.size();
}
// The same for binary views (RTP, RTCP), and a text view into a binary input.
inline bool within(std::span<const std::uint8_t> part, std::span<const std::uint8_t> whole) noexcept {
    if (part.empty()) return true;
    return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}
inline bool within(std::string_view part, std::span<const std::uint8_t> whole) noexcept {
    return within(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(part.data()), part.size()), whole);
}

// Keeps the optimizer from dropping a computation whose result is otherwise unused.
template <class T>
inline void use(const T& value) noexcept {
    asm volatile("" : : "r"(&value) : "memory");
}

inline void touch(std::string_view s) noexcept {
    unsigned sum = 0;
    for (char c : s) sum += static_cast<unsigned char>(c);
    use(sum);
}

// A parameter list parsed from `text`: iteration stays inside it, terminates, and agrees with find()
// and size().
inline void check_params(const sipvoice::sip::param_list& params, std::string_view text) {
    FUZZ_CHECK(within(params.raw(), text));
    std::size_t n = 0;
    for (const sipvoice::sip::param& p : params) {
        FUZZ_CHECK(within(p.name, text));
        FUZZ_CHECK(within(p.value, text));
        FUZZ_CHECK(params.find(p.name).has_value());
        touch(sipvoice::sip::unquote(p.value));
        ++n;
        FUZZ_CHECK(n <= params.raw().size());
    }
    FUZZ_CHECK(n == params.size());
}

}  // namespace sipvoice::fuzz
