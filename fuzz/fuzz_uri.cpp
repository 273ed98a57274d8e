// fuzz_uri: parse_uri, the host helpers, parameter views, %-escaping and URI comparison.
//
// Properties:
//  - every part of a parsed URI is a view into the input;
//  - parameter iteration terminates and agrees with size() and find();
//  - unescape(escape(x, c)) == x for every component c, and escape() output has only valid escapes;
//  - uri_equivalent(u, u), and a URI re-parsed from a copy of its text is equivalent to it;
//  - classify_host agrees with the parser's host kind.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.hpp"
#include "sipvoice/sip/uri.hpp"

namespace {
using namespace sipvoice::sip;
using sipvoice::fuzz::touch;
using sipvoice::fuzz::use;
using sipvoice::fuzz::within;

void check_escape_round_trip(std::string_view x) {
    for (uri_component c : {uri_component::user, uri_component::password, uri_component::param, uri_component::header}) {
        const std::string e = escape(x, c);
        FUZZ_CHECK(valid_escapes(e));
        FUZZ_CHECK(unescape(e) == x);
    }
}

void check_params(const param_list& params, std::string_view text) {
    std::size_t n = 0;
    for (const param& p : params) {
        FUZZ_CHECK(within(p.name, text));
        FUZZ_CHECK(within(p.value, text));
        FUZZ_CHECK(!p.name.empty());
        if (!p.has_value) FUZZ_CHECK(p.value.empty());
        // find() returns the first parameter of that name (case-insensitively), which exists.
        const auto found = params.find(p.name);
        FUZZ_CHECK(found.has_value());
        FUZZ_CHECK(params.contains(p.name));
        touch(params.get(p.name));
        touch(unescape(p.value));
        ++n;
        FUZZ_CHECK(n <= params.raw().size());
    }
    FUZZ_CHECK(n == params.size());
    if (params.empty()) FUZZ_CHECK(n == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input = sipvoice::fuzz::as_text(data, size);

    // Helpers that take any text.
    use(classify_host(input));
    use(is_ipv4_address(input));
    use(is_ipv6_address(input));
    use(valid_escapes(input));
    touch(unescape(input));
    check_escape_round_trip(input);

    auto r = parse_uri(input);
    if (!r) {
        FUZZ_CHECK(r.error().failed());
        FUZZ_CHECK(r.error().offset <= size);
        return 0;
    }
    const uri& u = *r;
    FUZZ_CHECK(u.text == input);
    for (std::string_view part : {u.scheme_name, u.user, u.password, u.host, u.headers, u.opaque, u.params.raw()})
        FUZZ_CHECK(within(part, input));
    FUZZ_CHECK(!u.scheme_name.empty());
    if (!u.has_user) FUZZ_CHECK(u.user.empty());
    if (!u.has_password) FUZZ_CHECK(u.password.empty());
    if (!u.has_port) FUZZ_CHECK(u.port == 0);

    const std::string_view addr = u.host_address();
    FUZZ_CHECK(within(addr, input));
    if (u.is_sip()) {
        FUZZ_CHECK(!u.host.empty());
        FUZZ_CHECK(u.host_kind != host_type::none);
        FUZZ_CHECK(classify_host(u.host) == u.host_kind);
        if (u.host_kind == host_type::ipv6) {
            FUZZ_CHECK(u.host.size() >= 2 && u.host.front() == '[' && u.host.back() == ']');
            FUZZ_CHECK(is_ipv6_address(addr));
        }
        if (u.host_kind == host_type::ipv4) FUZZ_CHECK(is_ipv4_address(addr));
    }

    check_params(u.params, input);
    touch(u.param("transport"));
    touch(u.transport());
    touch(u.maddr());
    use(u.lr());
    use(u.has_param("user"));

    // unescape(escape(x)) == x for each decoded component.
    for (std::string_view part : {u.user, u.password, u.headers, u.params.raw()}) {
        const std::string decoded = unescape(part);
        check_escape_round_trip(decoded);
    }

    // Equivalence: reflexive, and the same URI parsed from another buffer compares equal.
    FUZZ_CHECK(uri_equivalent(u, u));
    const std::string copy(input);
    auto again = parse_uri(copy);
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(uri_equivalent(u, *again));
    FUZZ_CHECK(uri_equivalent(*again, u));
    return 0;
}
