// fuzz_auth_params: WWW-Authenticate / Authorization values (RFC 3261 §20.7, RFC 7616, RFC 7235).
//
// Properties:
//  - scheme, token68 and params.raw are views into the input; a value has params or token68, not both;
//  - for_each() terminates, visits named, valued params inside the input, and find() agrees with it;
//  - get() of the common digest parameters is a view into the input without its surrounding quotes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fuzz_common.hpp"
#include "sipvoice/auth/digest.hpp"
#include "sipvoice/sip/headers.hpp"
#include "sipvoice/sip/name_addr.hpp"

namespace {
using namespace sipvoice::sip;
using sipvoice::fuzz::touch;
using sipvoice::fuzz::within;

constexpr std::string_view digest_params[] = {"realm", "nonce", "qop",    "algorithm", "opaque", "username",
                                              "uri",   "response", "cnonce", "nc",     "stale", "domain"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input = sipvoice::fuzz::as_text(data, size);

    // The parameter walkers accept any text (a caller may hold a raw value that was never validated).
    {
        auth_params unchecked{input};
        std::size_t n = 0;
        unchecked.for_each([&](const param& p) {
            FUZZ_CHECK(within(p.name, input));
            FUZZ_CHECK(within(p.value, input));
            ++n;
            FUZZ_CHECK(n <= size);
        });
        touch(unchecked.get("realm"));
    }

    auth_value v;
    const error e = parse_value(input, v);
    if (e.failed()) {
        FUZZ_CHECK(e.offset <= size);
        return 0;
    }
    FUZZ_CHECK(!v.scheme.empty());
    FUZZ_CHECK(within(v.scheme, input));
    FUZZ_CHECK(within(v.token68, input));
    FUZZ_CHECK(within(v.params.raw, input));
    FUZZ_CHECK(v.token68.empty() || v.params.raw.empty());

    std::size_t n = 0;
    v.params.for_each([&](const param& p) {
        FUZZ_CHECK(!p.name.empty());
        FUZZ_CHECK(p.has_value && !p.value.empty());
        FUZZ_CHECK(within(p.name, v.params.raw));
        FUZZ_CHECK(within(p.value, v.params.raw));
        const auto found = v.params.find(p.name);
        FUZZ_CHECK(found.has_value());
        if (p.value.front() == '"') {
            FUZZ_CHECK(p.value.size() >= 2 && p.value.back() == '"');
            touch(unquote(p.value));
        }
        ++n;
        FUZZ_CHECK(n <= size);
    });

    for (std::string_view name : digest_params) {
        const auto p = v.params.find(name);
        const std::string_view value = v.params.get(name, "<absent>");
        if (!p) {
            FUZZ_CHECK(value == "<absent>");
            continue;
        }
        FUZZ_CHECK(within(value, input));
        FUZZ_CHECK(value.size() <= p->value.size());
        touch(unquote(p->value));
    }

    // The digest client (auth/) reads the same value as a challenge and answers it.
    auto ch = sipvoice::auth::parse_challenge(v, (size & 1U) != 0);
    if (ch) {
        FUZZ_CHECK(!ch->nonce.empty() || v.params.find("nonce").has_value());
        // The password shapes the response hash and nothing else of what is sent.
        auto answer = [&](const char* password) {
            return sipvoice::auth::authorization(*ch, {"user", password}, "REGISTER", "sip:example.com", "c", 1, input);
        };
        // Compare parameter by parameter after parsing the values back (they must parse as credentials).
        auto params_without_response = [](const std::string& value) {
            auth_value parsed;
            FUZZ_CHECK(!parse_value(value, parsed).failed());
            std::vector<std::pair<std::string, std::string>> out;
            parsed.params.for_each([&](const param& p) {
                if (p.name != "response") out.emplace_back(p.name, p.value);
            });
            return out;
        };
        const std::string value = answer("pw-one");
        FUZZ_CHECK(params_without_response(value) == params_without_response(answer("pw-two")));
    } else {
        FUZZ_CHECK(ch.error().failed());
    }
    return 0;
}
