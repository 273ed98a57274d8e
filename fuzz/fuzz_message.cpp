// fuzz_message: the whole-message parser, the typed accessors, the validator and the serializer.
//
// Properties beyond "no crash, no UB, no leak":
//  - a parse failure has a 1-based line and column inside the message;
//  - every typed accessor's error offset lies inside the message, and locate() gives line, column >= 1;
//  - header lists terminate (no more elements than bytes);
//  - round trip (builder.hpp): parse(serialize(m)) succeeds and == m, and serializing that again gives
//    the same bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.hpp"
#include "sipvoice/sip/builder.hpp"
#include "sipvoice/sip/message.hpp"
#include "sipvoice/sip/validate.hpp"

namespace {

using namespace sipvoice::sip;
using sipvoice::sip::result;
using sipvoice::fuzz::touch;
using sipvoice::fuzz::use;
using sipvoice::fuzz::within;

void check_error(const message& m, const error& e) {
    FUZZ_CHECK(e.failed());
    FUZZ_CHECK(e.offset <= m.bytes().size());
    const parse_error where = m.locate(e);
    FUZZ_CHECK(where.line >= 1 && where.column >= 1);
    FUZZ_CHECK(where.code == e.code);
}

template <class T>
void check_result(const message& m, const result<T>& r) {
    if (!r) {
        check_error(m, r.error());
        return;
    }
    use(*r);
}

void touch_params(const param_list& params) {
    std::size_t n = 0;
    for (const param& p : params) {
        touch(p.name);
        touch(p.value);
        ++n;
        FUZZ_CHECK(n <= params.raw().size());
    }
    FUZZ_CHECK(n == params.size());
}

void touch_uri(const uri& u) {
    touch(u.host_address());
    touch(u.user);
    touch(u.transport());
    use(u.lr());
    touch_params(u.params);
}

void touch_value(const via& v) {
    touch(v.host);
    touch(v.branch);
    use(v.rfc3261_branch());
    touch_params(v.params);
}
void touch_value(const name_addr& a) {
    touch(a.display());
    touch(a.tag());
    touch_uri(a.address);
    touch_params(a.params);
}
void touch_value(const contact& c) {
    if (!c.star) touch_value(c.address);
    use(c.has_expires());
    use(c.q);
}
void touch_value(const token& t) { touch(t.text); }
void touch_value(const auth_value& a) {
    touch(a.scheme);
    touch(a.token68);
    touch(a.params.get("realm"));
    a.params.for_each([](const param& p) { touch(p.value); });
}
void touch_value(const reason& r) {
    touch(r.protocol);
    touch_params(r.params);
}
void touch_value(const media_type& t) {
    use(t.matches("application", "sdp"));
    touch_params(t.params);
}

// Walks a header_values range: every element dereferenced, offsets inside the message, bounded length.
// The field whose value holds byte `offset`, or nullptr.
const header_field* field_at(const message& m, std::uint32_t offset) {
    for (const header_field& f : m.fields())
        if (offset >= f.value_offset && offset <= f.value_offset + f.value_length) return &f;
    return nullptr;
}

template <class T>
void walk(const message& m, const header_values<T>& values, header_id id) {
    std::size_t n = 0;
    std::uint32_t last = 0;
    for (auto it = values.begin(); it != values.end(); ++it) {
        // Elements come in message order, each from a line of this header (fields of one id are linked).
        FUZZ_CHECK(it.offset() <= m.bytes().size());
        FUZZ_CHECK(n == 0 || it.offset() >= last);
        last = it.offset();
        const header_field* f = field_at(m, it.offset());
        FUZZ_CHECK(f != nullptr && f->id == id);
        const result<T> r = *it;
        if (r) {
            touch_value(*r);
        } else {
            check_error(m, r.error());
        }
        ++n;
        FUZZ_CHECK(n <= m.bytes().size() + 1);
    }
    FUZZ_CHECK(n == values.size());
    FUZZ_CHECK(values.empty() == (n == 0));
    check_result(m, values.front());
}

void exercise(const message& m) {
    const std::string_view bytes = m.bytes();

    // start line
    touch(m.start_line());
    touch(m.version());
    if (m.is_request()) {
        FUZZ_CHECK(!m.is_response());
        touch(m.method_name());
        use(m.method());
        // The Request-URI is a view like every other part: it must point into this message's own
        // buffer, also after a move (message.hpp: "moves keep it valid").
        FUZZ_CHECK(within(m.request_uri().text, bytes));
        FUZZ_CHECK(within(m.request_uri().host, bytes));
        touch_uri(m.request_uri());
    } else {
        FUZZ_CHECK(m.status() >= 100 && m.status() <= 699);
        touch(m.reason_phrase());
    }

    // raw headers
    for (const header_field& f : m.fields()) {
        FUZZ_CHECK(within(m.name(f), bytes));
        FUZZ_CHECK(within(m.value(f), bytes));
        FUZZ_CHECK(f.line >= 1);
        FUZZ_CHECK(m.find(f.id) != nullptr || f.id == header_id::other);
        touch(m.header(m.name(f)));
    }
    for (std::size_t i = 0; i < header_id_count; ++i) {
        const auto id = static_cast<header_id>(i);
        touch(m.header(id));
        FUZZ_CHECK(m.has(id) == (m.count(id) > 0) || id == header_id::other);
    }
    FUZZ_CHECK(within(m.body(), bytes));
    FUZZ_CHECK(m.trailing_bytes() <= bytes.size());

    // typed access, every accessor of message.hpp
    walk(m, m.vias(), header_id::via);
    check_result(m, m.top_via());
    check_result(m, m.from());
    check_result(m, m.to());
    check_result(m, m.call_id());
    check_result(m, m.cseq());
    walk(m, m.contacts(), header_id::contact);
    check_result(m, m.max_forwards());
    check_result(m, m.content_length());
    check_result(m, m.content_type());
    walk(m, m.routes(), header_id::route);
    walk(m, m.record_routes(), header_id::record_route);
    walk(m, m.paths(), header_id::path);
    walk(m, m.service_routes(), header_id::service_route);
    check_result(m, m.expires());
    check_result(m, m.min_expires());
    walk(m, m.allow(), header_id::allow);
    walk(m, m.supported(), header_id::supported);
    walk(m, m.require(), header_id::require);
    walk(m, m.proxy_require(), header_id::proxy_require);
    walk(m, m.unsupported(), header_id::unsupported);
    walk(m, m.www_authenticate(), header_id::www_authenticate);
    walk(m, m.proxy_authenticate(), header_id::proxy_authenticate);
    walk(m, m.authorization(), header_id::authorization);
    walk(m, m.proxy_authorization(), header_id::proxy_authorization);
    touch(m.user_agent());
    touch(m.server());
    walk(m, m.reasons(), header_id::reason);
    check_result(m, m.session_expires());
    check_result(m, m.min_se());
    walk(m, m.accept(), header_id::accept);
    check_result(m, m.event());
    check_result(m, m.subscription_state());
    check_result(m, m.refer_to());

    // locate() anywhere, including past the end (it clamps)
    const std::uint32_t size = static_cast<std::uint32_t>(bytes.size());
    for (std::uint32_t off : {0U, size / 3, size / 2, size > 0 ? size - 1 : 0U, size, size + 7}) {
        const parse_error where = m.locate({errc::bad_header_value, off});
        FUZZ_CHECK(where.line >= 1 && where.column >= 1);
        FUZZ_CHECK(where.offset <= size);
    }

    // the validator, as a user agent and as a proxy
    for (role r : {role::user_agent, role::proxy}) {
        validation_policy policy;
        policy.role = r;
        const verdict v = validate(m, policy);
        if (v.action == action::respond) FUZZ_CHECK(v.status >= 100 && v.status <= 699);
        if (v.malformed) FUZZ_CHECK(v.action != action::accept);
        if (v.malformed) FUZZ_CHECK(v.where.line >= 1 && v.where.column >= 1);
        touch(v.detail);
        touch(v.unsupported);
    }
}

void round_trip(const message& m, transport_kind transport) {
    const std::string wire = serialize(m);
    parse_options opts;
    opts.transport = transport;
    opts.max_message_size = wire.size() + 1;  // canonical names and Content-Length can make it longer
    opts.max_headers = m.fields().size() + 2;
    auto again = message::parse(wire, opts);
    if (!again) {
        std::fprintf(stderr, "re-parse of the serialized message failed: %s at line %u column %u\n--- serialized:\n%s\n---\n",
                     std::string(again.error().what()).c_str(), again.error().line, again.error().column, wire.c_str());
    }
    FUZZ_CHECK(again.has_value());
    if (!(*again == m)) std::fprintf(stderr, "--- serialized:\n%s\n---\n", wire.c_str());
    FUZZ_CHECK(*again == m);
    FUZZ_CHECK(serialize(*again) == wire);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input = sipvoice::fuzz::as_text(data, size);
    for (transport_kind transport : {transport_kind::datagram, transport_kind::stream}) {
        parse_options opts;
        opts.transport = transport;
        auto m = message::parse(std::string(input), opts);
        if (!m) {
            const parse_error& e = m.error();
            FUZZ_CHECK(e.failed());
            FUZZ_CHECK(e.line >= 1 && e.column >= 1);
            FUZZ_CHECK(e.offset <= size);
            touch(e.what());
            continue;
        }
        // Folds are unfolded in place (CRLF becomes spaces): the size stays, the bytes may not.
        FUZZ_CHECK(m->bytes().size() == size);
        exercise(*m);
        round_trip(*m, transport);
        // A moved message keeps its views valid (message.hpp).
        message moved = std::move(*m);
        exercise(moved);
    }
    return 0;
}
