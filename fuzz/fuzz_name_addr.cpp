// fuzz_name_addr: parse_name_addr (name-addr and addr-spec forms), display(), header parameters, and
// quote()/unquote().
//
// Properties:
//  - every part is a view into the input; the address is a valid URI on its own;
//  - in addr-spec form the URI has no parameters of its own (RFC 3261 §20.10: they are header params);
//  - parameter iteration terminates and agrees with size() and find();
//  - unquote(quote(s)) == s for any s without CR or LF, and quote(s) is accepted as a display name.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.hpp"
#include "sipvoice/sip/headers.hpp"
#include "sipvoice/sip/name_addr.hpp"

namespace {
using namespace sipvoice::sip;
using sipvoice::fuzz::touch;
using sipvoice::fuzz::use;
using sipvoice::fuzz::within;
using sipvoice::fuzz::check_params;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input = sipvoice::fuzz::as_text(data, size);

    // quote/unquote on arbitrary text.
    touch(unquote(input));
    if (input.find_first_of("\r\n") == std::string_view::npos) {
        const std::string q = quote(input);
        FUZZ_CHECK(unquote(q) == input);
        // A quoted display name in front of a fixed address parses back to the same display().
        const std::string text = q + " <sip:alice@example.com>";  // outlives the views into it
        auto na = parse_name_addr(text);
        if (na) {
            FUZZ_CHECK(na->quoted_display_name);
            FUZZ_CHECK(na->display() == input);
        }
    }

    auto r = parse_name_addr(input);
    if (!r) {
        FUZZ_CHECK(r.error().failed());
        FUZZ_CHECK(r.error().offset <= size);
        return 0;
    }
    const name_addr& a = *r;
    FUZZ_CHECK(within(a.display_name, input));
    FUZZ_CHECK(within(a.address.text, input));
    FUZZ_CHECK(within(a.params.raw(), input));
    FUZZ_CHECK(within(a.text, input));
    if (!a.angle_brackets) {
        FUZZ_CHECK(a.display_name.empty());
        FUZZ_CHECK(a.address.params.empty());
    }
    if (a.quoted_display_name) FUZZ_CHECK(a.display_name.size() >= 2 && a.display_name.front() == '"');

    touch(a.display());
    FUZZ_CHECK(within(a.tag(), input));
    // tag() is captured during the parameter pass; it must be the tag the parameter list holds.
    FUZZ_CHECK(a.tag() == a.params.get("tag"));
    check_params(a.params, input);
    check_params(a.address.params, input);
    touch(a.address.host_address());

    // The address alone is a URI that parses to the same thing.
    auto u = parse_uri(a.address.text);
    FUZZ_CHECK(u.has_value());
    FUZZ_CHECK(u->text == a.address.text);
    FUZZ_CHECK(u->host == a.address.host && u->port == a.address.port && u->user == a.address.user);
    FUZZ_CHECK(u->params.raw() == a.address.params.raw());

    // The same text through the header-value entry point.
    name_addr via_header;
    const error e = parse_value(input, via_header);
    use(e);
    return 0;
}
