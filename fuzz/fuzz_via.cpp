// fuzz_via: the typed header values of headers.hpp, fed one header value (Via first of all).
//
// The input is used whole as the value of each header, and also split with next_list_element() the
// way message.hpp splits list headers, each element then parsed as a Via and a Contact.
//
// Properties:
//  - every view of a parsed value points into the input; parameter lists iterate to their size();
//  - parsed scalars are within their header's limits;
//  - next_list_element() terminates, always consumes input when it reports another element, and its
//    elements are views into the input; next_token_element() splits exactly like it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_common.hpp"
#include "sipvoice/sip/headers.hpp"

namespace {
using namespace sipvoice::sip;
using sipvoice::fuzz::touch;
using sipvoice::fuzz::use;
using sipvoice::fuzz::within;
using sipvoice::fuzz::check_params;

void check_error(const error& e, std::string_view text) {
    FUZZ_CHECK(e.failed());
    FUZZ_CHECK(e.offset <= text.size());
}

void via_value(std::string_view text) {
    via v;
    const error e = parse_value(text, v);
    if (e.failed()) {
        check_error(e, text);
        return;
    }
    for (std::string_view part : {v.protocol_name, v.protocol_version, v.transport, v.host, v.branch, v.received, v.maddr})
        FUZZ_CHECK(within(part, text));
    FUZZ_CHECK(!v.host.empty());
    FUZZ_CHECK(v.host_kind != host_type::none);
    FUZZ_CHECK(classify_host(v.host) == v.host_kind);
    if (!v.has_port) FUZZ_CHECK(v.port == 0);
    if (!v.has_rport) FUZZ_CHECK(v.rport == 0);
    FUZZ_CHECK(v.ttl >= -1 && v.ttl <= 255);
    use(v.rfc3261_branch());
    check_params(v.params, text);
    touch(v.params.get("branch"));
    touch(v.params.get("received"));
}

void contact_value(std::string_view text) {
    contact c;
    const error e = parse_value(text, c);
    if (e.failed()) {
        check_error(e, text);
        return;
    }
    if (c.star) return;
    FUZZ_CHECK(within(c.address.text, text));
    FUZZ_CHECK(c.q >= -1 && c.q <= 1000);
    // expires is captured during the parameter pass; it must agree with the parameter list.
    FUZZ_CHECK(c.has_expires() == c.address.params.contains("expires"));
    touch(c.address.display());
    check_params(c.address.params, text);
    check_params(c.address.address.params, text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input = sipvoice::fuzz::as_text(data, size);

    via_value(input);
    contact_value(input);

    {
        cseq c;
        const error e = parse_value(input, c);
        if (e.failed()) {
            check_error(e, input);
        } else {
            FUZZ_CHECK(c.number <= max_cseq);
            FUZZ_CHECK(!c.method.empty() && within(c.method, input));
        }
    }
    {
        media_type t;
        const error e = parse_value(input, t);
        if (e.failed()) {
            check_error(e, input);
        } else {
            FUZZ_CHECK(within(t.type, input) && within(t.subtype, input));
            check_params(t.params, input);
            use(t.matches("*", "*"));
            use(t.matches("application", "sdp"));
            FUZZ_CHECK(t.matches(t.type, t.subtype));
        }
    }
    {
        reason r;
        const error e = parse_value(input, r);
        if (e.failed()) {
            check_error(e, input);
        } else {
            FUZZ_CHECK(within(r.protocol, input) && within(r.text, input));
            check_params(r.params, input);
        }
    }
    {
        session_expires s;
        const error e = parse_value(input, s);
        if (e.failed()) {
            check_error(e, input);
        } else {
            FUZZ_CHECK(within(s.refresher, input));
            check_params(s.params, input);
        }
    }
    {
        event ev;
        const error e = parse_value(input, ev);
        if (e.failed()) {
            check_error(e, input);
        } else {
            FUZZ_CHECK(within(ev.package, input) && within(ev.id, input));
            check_params(ev.params, input);
        }
    }
    {
        token t;
        const error e = parse_value(input, t);
        if (e.failed()) {
            check_error(e, input);
        } else {
            FUZZ_CHECK(within(t.text, input));
        }
    }
    for (std::uint32_t max : {max_delta_seconds, max_cseq, max_max_forwards, 0U}) {
        std::uint32_t n = 0;
        const error e = parse_number(input, max, n);
        if (e.failed()) {
            check_error(e, input);
        } else {
            FUZZ_CHECK(n <= max);
        }
    }
    {
        std::int64_t t = 0;
        const error e = parse_date(input, t);
        if (e.failed()) check_error(e, input);
        use(t);
    }
    {
        const error e = parse_call_id(input);
        if (e.failed()) check_error(e, input);
    }

    // The list splitter, as message.hpp drives it for Via, Contact, Route...
    std::string_view rest = input;
    std::string_view element;
    std::size_t elements = 0;
    for (;;) {
        const std::size_t before = rest.size();
        const bool more = next_list_element(rest, element);
        FUZZ_CHECK(within(rest, input));
        FUZZ_CHECK(within(element, input));
        FUZZ_CHECK(element.size() <= before);
        FUZZ_CHECK(rest.size() < before || (before == 0 && !more));
        ++elements;
        FUZZ_CHECK(elements <= size + 1);
        via_value(element);
        contact_value(element);
        if (!more) break;
    }
    FUZZ_CHECK(rest.empty());

    // next_token_element is a fast path of next_list_element: the same split on any input.
    std::string_view rest_a = input;
    std::string_view rest_b = input;
    for (std::size_t guard = 0;; ++guard) {
        FUZZ_CHECK(guard <= size + 1);
        std::string_view ea;
        std::string_view eb;
        const bool more_a = next_list_element(rest_a, ea);
        const bool more_b = next_token_element(rest_b, eb);
        FUZZ_CHECK(more_a == more_b);
        FUZZ_CHECK(ea == eb);
        FUZZ_CHECK(rest_a.data() == rest_b.data() && rest_a.size() == rest_b.size());
        token t;
        if (!parse_value(eb, t).failed()) FUZZ_CHECK(t.text == eb);
        if (!more_a) break;
    }
    return 0;
}
