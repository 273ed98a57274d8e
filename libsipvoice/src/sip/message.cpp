// The message parser (RFC 3261 §7, §25): start line, header section, body.
//
// One pass over the buffer: memchr finds line ends, header names are looked up once, folded lines are
// unfolded in place (the CRLF of a fold becomes two spaces, which RFC 3261 §7.3.1 says is equivalent),
// and each header is recorded as offsets. Typed values are parsed later, on access.
#include "sipvoice/sip/message.hpp"

#include <algorithm>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "charset.hpp"
#include "header_table.hpp"
#include "parse_into.hpp"

namespace sipvoice::sip {

namespace {
using namespace detail;

constexpr std::string_view method_names[] = {"",          "INVITE",    "ACK",    "BYE",   "CANCEL",
                                             "OPTIONS",   "REGISTER",  "INFO",   "UPDATE", "PRACK",
                                             "SUBSCRIBE", "NOTIFY",    "REFER",  "MESSAGE", "PUBLISH"};

// SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT; "SIP" is case-insensitive (RFC 3261 §7.1).
bool valid_version(std::string_view v) noexcept {
    if (v == "SIP/2.0") return true;  // what every message says
    if (v.size() < 7 || !iequals(v.substr(0, 4), "SIP/")) return false;
    const std::size_t dot = v.find('.', 4);
    if (dot == std::string_view::npos || dot == 4 || dot + 1 == v.size()) return false;
    for (std::size_t i = 4; i < v.size(); ++i)
        if (i != dot && !is_digit(v[i])) return false;
    return true;
}

}  // namespace

method lookup_method(std::string_view name) noexcept {
    for (std::size_t i = 1; i < std::size(method_names); ++i)
        if (method_names[i] == name) return static_cast<method>(i);
    return method::other;
}

std::string_view method_name(method m) noexcept { return method_names[static_cast<std::size_t>(m)]; }

class message_parser {
public:
    // Fills `m` (fresh) and returns the failure, if any, located in the message's text.
    static parse_error run(message& m, std::string&& bytes, const parse_options& options);
};

sipvoice::result<message, parse_error> message::parse(std::string bytes, const parse_options& options) {
    // The message is built inside the result that is returned (NRVO): a message move re-points the
    // Request-URI and copies every member, which cost as much as parsing a short header.
    sipvoice::result<message, parse_error> out;
    const parse_error e = message_parser::run(*out, std::move(bytes), options);
    if (e.failed()) out.set_error(e);
    return out;
}

parse_error message_parser::run(message& m, std::string&& bytes, const parse_options& options) {
    m.buf_ = std::move(bytes);
    char* const b = m.buf_.data();
    const std::size_t n = m.buf_.size();
    const std::size_t max_headers = std::min<std::size_t>(options.max_headers, UINT16_MAX - 1);
    auto fail = [&m](errc code, std::size_t offset) -> parse_error {
        return m.locate({code, static_cast<std::uint32_t>(offset)});
    };
    if (n > options.max_message_size || n > UINT32_MAX / 2) return fail(errc::message_too_large, 0);

    // RFC 3261 §7.5: CRLFs before the start line are ignored.
    std::size_t pos = 0;
    std::uint32_t line_no = 1;  // of the line at pos, for the headers' diagnostics
    while (pos < n && (b[pos] == '\r' || b[pos] == '\n')) line_no += b[pos++] == '\n' ? 1 : 0;
    if (pos == n) return fail(errc::empty_message, 0);

    // ---- start line
    const std::size_t line_end = pos + find_byte(b + pos, n - pos, '\n');
    if (line_end >= n) return fail(errc::no_end_of_headers, n);
    std::size_t content_end = (line_end > pos && b[line_end - 1] == '\r') ? line_end - 1 : line_end;
    const std::string_view line(b + pos, content_end - pos);
    m.start_line_ = {static_cast<std::uint32_t>(pos), static_cast<std::uint32_t>(line.size())};
    auto slice_of = [&](std::string_view v) {
        return message::slice{static_cast<std::uint32_t>(v.data() - b), static_cast<std::uint32_t>(v.size())};
    };
    const std::size_t sp1 = line.find(' ');
    if (sp1 == std::string_view::npos) return fail(errc::bad_start_line, pos + line.size());
    if (line.size() > 4 && iequals(line.substr(0, 4), "SIP/")) {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
        const std::string_view version = line.substr(0, sp1);
        if (!valid_version(version)) return fail(errc::bad_version, pos);
        const std::size_t code_at = sp1 + 1;
        std::size_t k = code_at;
        while (k < line.size() && is_digit(line[k])) ++k;
        if (k - code_at != 3 || (k < line.size() && line[k] != ' ')) return fail(errc::bad_status_code, pos + code_at);
        const int code = (line[code_at] - '0') * 100 + (line[code_at + 1] - '0') * 10 + (line[code_at + 2] - '0');
        if (code < 100 || code > 699) return fail(errc::bad_status_code, pos + code_at);
        const std::string_view reason = k < line.size() ? line.substr(k + 1) : line.substr(k);
        for (std::size_t r = 0; r < reason.size(); ++r) {
            const auto c = static_cast<unsigned char>(reason[r]);
            if ((c < 0x20 && c != '\t') || c == 0x7f) return fail(errc::bad_reason_phrase, pos + k + 1 + r);
        }
        m.version_ = slice_of(version);
        m.reason_ = slice_of(reason);
        m.status_ = code;
    } else {
        // Request-Line = Method SP Request-URI SP SIP-Version (exactly one SP each, RFC 3261 §7.1)
        const std::string_view method = line.substr(0, sp1);
        if (!is_token(method)) return fail(errc::bad_method, pos);
        const std::size_t uri_at = sp1 + 1;
        const std::size_t sp2 = line.find(' ', uri_at);
        if (sp2 == std::string_view::npos || sp2 == uri_at) return fail(errc::bad_request_uri, pos + uri_at);
        const std::string_view uri_text = line.substr(uri_at, sp2 - uri_at);
        // Parsed straight into the message (fresh, so the same as parse_uri()'s own fresh uri).
        const error ue = parse_uri_into(uri_text, m.request_uri_);
        if (ue.failed()) return fail(errc::bad_request_uri, pos + uri_at + ue.offset);
        const std::string_view version = line.substr(sp2 + 1);
        if (!valid_version(version)) return fail(errc::bad_version, pos + sp2 + 1);
        m.method_ = slice_of(method);
        m.method_id_ = lookup_method(method);
        m.version_ = slice_of(version);
    }
    pos = line_end + 1;
    ++line_no;

    // ---- header section (collected on the stack; one exact allocation at the end)
    constexpr std::size_t local_capacity = 48;
    union local_storage {  // left uninitialised: zeroing it would cost more than the parse of a header
        local_storage() {}
        header_field fields[local_capacity];
    } storage;
    header_field* const local = storage.fields;
    std::size_t count = 0;
    std::array<std::uint16_t, header_id_count> last;  // index of the latest field of each id; read only once set
    auto field_at = [&](std::size_t i) -> header_field& { return count <= local_capacity ? local[i] : m.fields_[i]; };
    // The slot of the next field: written in place (a field built apart and copied in cost a copy).
    auto next_slot = [&]() __attribute__((always_inline)) -> header_field& {
        if (count < local_capacity) return local[count];
        if (count == local_capacity) m.fields_.assign(local, local + local_capacity);
        return m.fields_.emplace_back();
    };
    const byte_pair_finder colon_or_lf(':', '\n');
    const byte_pair_finder cr_or_lf('\r', '\n');
    // (Inlined in both paths below: as a call, it cost more than the fast path saved.)
    auto record = [&](header_id id, std::size_t name_at, std::size_t name_end, std::size_t value_at, std::size_t value_end,
                      std::uint32_t header_line) __attribute__((always_inline)) {
        const auto slot = static_cast<std::size_t>(id);
        if (m.first_[slot] == 0) m.first_[slot] = static_cast<std::uint16_t>(count + 1);
        else field_at(last[slot]).next = static_cast<std::uint16_t>(count + 1);
        last[slot] = static_cast<std::uint16_t>(count);
        header_field& f = next_slot();
        f.id = id;
        f.next = 0;
        f.name_offset = static_cast<std::uint32_t>(name_at);
        f.name_length = static_cast<std::uint32_t>(name_end - name_at);
        f.value_offset = static_cast<std::uint32_t>(value_at);
        f.value_length = static_cast<std::uint32_t>(value_end - value_at);
        f.line = header_line;
        ++count;
    };
#if defined(__SSE2__)
    const __m128i v_colon = _mm_set1_epi8(':');
    const __m128i v_cr = _mm_set1_epi8('\r');
    const __m128i v_lf = _mm_set1_epi8('\n');
    auto block = [b](std::size_t at) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + at)); };
#endif
    for (;;) {
#if defined(__SSE2__)
        // The usual line, "Name:" or "Name: " then a value without LWS at its ends, CRLF, no fold, with
        // 32 bytes or more left: its colon and CR found 16 bytes at a time, with none of the general
        // path's checks below for what it is not. Any other line (an empty one, a fold, LWS around the
        // name, a bare CR or LF, an error) goes through the general path from its start, which gives
        // the usual line the same field.
        if (n - pos >= 32 && count < max_headers) {
            std::size_t colon = pos;
            auto specials = [&](std::size_t at) {  // ':', CR or LF
                const __m128i x = block(at);
                return static_cast<unsigned>(_mm_movemask_epi8(
                    _mm_or_si128(_mm_cmpeq_epi8(x, v_colon), _mm_or_si128(_mm_cmpeq_epi8(x, v_cr), _mm_cmpeq_epi8(x, v_lf)))));
            };
            unsigned mask = specials(pos);
            if (mask == 0) {
                mask = specials(pos + 16);
                colon += 16;
            }
            colon += mask != 0 ? static_cast<std::size_t>(__builtin_ctz(mask)) : 0;
            if (mask != 0 && b[colon] == ':' && colon > pos && b[colon - 1] != ' ' && b[colon - 1] != '\t') {
                const header_id id = find_header_id(std::string_view(b + pos, colon - pos));
                bool name_ok = true;
                if (id == header_id::other)
                    for (std::size_t c = pos; c < colon; ++c) name_ok = name_ok && is_token_char(b[c]);
                std::size_t v = colon + 1;
                if (b[v] == ' ') ++v;
                if (name_ok && b[v] != ' ' && b[v] != '\t') {
                    // The line end, 32 bytes per step (most values are longer than 16 bytes).
                    auto ends = [&](std::size_t at) {  // CR or LF
                        const __m128i x = block(at);
                        return static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, v_cr), _mm_cmpeq_epi8(x, v_lf))));
                    };
                    std::size_t le = v;
                    unsigned crlf = 0;
                    for (; n - le >= 32; le += 32) {
                        crlf = ends(le) | (ends(le + 16) << 16);
                        if (crlf != 0) break;
                    }
                    if (crlf == 0 && n - le >= 16) crlf = ends(le);
                    if (crlf != 0) {
                        le += static_cast<std::size_t>(__builtin_ctz(crlf));
                        if (b[le] == '\r' && n - le > 2 && b[le + 1] == '\n' && b[le + 2] != ' ' && b[le + 2] != '\t' &&
                            !(le > v && (b[le - 1] == ' ' || b[le - 1] == '\t'))) {
                            record(id, pos, colon, v, le, line_no);
                            ++line_no;
                            pos = le + 2;
                            continue;
                        }
                    }
                }
            }
        }
#endif
        if (pos >= n) {
            // A datagram is complete by itself: one whose last header line is not followed by the
            // empty line is taken as having no body (seen from real UAs, and RFC 4475's baddn.dat).
            if (options.transport == transport_kind::datagram) break;
            return fail(errc::no_end_of_headers, n);
        }
        if (b[pos] == '\n') {
            ++pos;
            break;
        }
        if (b[pos] == '\r' && pos + 1 < n && b[pos + 1] == '\n') {
            pos += 2;
            break;
        }
        if (count >= max_headers) return fail(errc::header_too_large, pos);
        // Name: up to the colon (RFC 3261 §7.3.1: name, optional whitespace, ':').
        const std::size_t name_at = pos;
        const std::size_t colon = pos + colon_or_lf(b + pos, n - pos);
        if (colon >= n || b[colon] != ':') {
            // Point at the end of the line's text: before the CR of a CRLF.
            const std::size_t at = colon >= n ? n : (colon > pos && b[colon - 1] == '\r' ? colon - 1 : colon);
            return fail(errc::missing_colon, at);
        }
        std::size_t name_end = colon;
        while (name_end > name_at && (b[name_end - 1] == ' ' || b[name_end - 1] == '\t')) --name_end;
        if (name_end == name_at) return fail(errc::bad_header_name, name_at);
        const header_id id = find_header_id(std::string_view(b + name_at, name_end - name_at));
        if (id == header_id::other) {  // a known name is a token already; check the others
            for (std::size_t c = name_at; c < name_end; ++c)
                if (!is_token_char(b[c])) return fail(errc::bad_header_name, c);
        }
        // Value: to the end of the line, joining folded continuation lines.
        std::size_t k = colon + 1;
        std::size_t value_at = k;
        std::size_t end = 0;
        const std::uint32_t header_line = line_no;
        for (;;) {
            // The line ends at LF (CRLF, or a bare LF from lenient peers); a CR anywhere else would be
            // turned into a line break by the next hop, so it is refused (RFC 3261 §7.3.1, §25.1).
            std::size_t le = k + cr_or_lf(b + k, n - k);
            if (le >= n) return fail(errc::no_end_of_headers, n);
            if (b[le] == '\r') {
                if (le + 1 >= n) return fail(errc::no_end_of_headers, n);
                if (b[le + 1] != '\n') return fail(errc::bad_header_value, le);
                ++le;
            }
            ++line_no;
            if (le + 1 < n && (b[le + 1] == ' ' || b[le + 1] == '\t')) {
                m.folds_.push_back(static_cast<std::uint32_t>(le));
                b[le] = ' ';
                if (le > k && b[le - 1] == '\r') b[le - 1] = ' ';
                k = le + 1;
                continue;
            }
            end = le;
            pos = le + 1;
            break;
        }
        std::size_t value_end = (end > value_at && b[end - 1] == '\r') ? end - 1 : end;
        while (value_at < value_end && (b[value_at] == ' ' || b[value_at] == '\t')) ++value_at;
        while (value_end > value_at && (b[value_end - 1] == ' ' || b[value_end - 1] == '\t')) --value_end;
        record(id, name_at, name_end, value_at, value_end, header_line);
    }
    if (count <= local_capacity) m.fields_.assign(local, local + count);

    // ---- body (RFC 3261 §18.3, §20.14)
    const std::size_t available = n - pos;
    std::size_t body_len = options.transport == transport_kind::datagram ? available : 0;
    bool seen_length = false;
    // Every Content-Length, in order, along the fields' links (header_field::next).
    for (std::uint16_t i = m.first_[static_cast<std::size_t>(header_id::content_length)]; i != 0;) {
        const header_field& f = m.fields_[i - 1U];
        i = f.next;
        std::uint32_t cl = 0;
        const error e = parse_number(m.value(f), max_delta_seconds, cl);
        if (e.failed()) return fail(errc::bad_content_length, f.value_offset + e.offset);
        if (seen_length && cl != body_len) return fail(errc::bad_content_length, f.value_offset);
        if (cl > available) return fail(errc::content_length_mismatch, f.value_offset);
        body_len = cl;
        seen_length = true;
    }
    m.body_ = {static_cast<std::uint32_t>(pos), static_cast<std::uint32_t>(body_len)};
    m.trailing_ = available - body_len;
    return {};
}

// ---- copies and moves: every view the message holds is an offset, except the parsed Request-URI.
namespace {
std::string_view moved(std::string_view v, const char* old_base, const char* new_base) noexcept {
    return v.data() == nullptr ? v : std::string_view(new_base + (v.data() - old_base), v.size());
}
}  // namespace

void message::rebase(const char* old_base) noexcept {
    const char* const base = buf_.data();
    if (old_base == base || !is_request()) return;
    uri& u = request_uri_;
    u.scheme_name = moved(u.scheme_name, old_base, base);
    u.user = moved(u.user, old_base, base);
    u.password = moved(u.password, old_base, base);
    u.host = moved(u.host, old_base, base);
    u.params = param_list(moved(u.params.raw(), old_base, base), u.params.syntax());
    u.headers = moved(u.headers, old_base, base);
    u.opaque = moved(u.opaque, old_base, base);
    u.text = moved(u.text, old_base, base);
}

message::message(const message& other)
    : buf_(other.buf_), fields_(other.fields_), first_(other.first_), folds_(other.folds_),
      start_line_(other.start_line_), method_(other.method_), version_(other.version_), reason_(other.reason_),
      body_(other.body_), method_id_(other.method_id_), request_uri_(other.request_uri_), status_(other.status_),
      trailing_(other.trailing_) {
    rebase(other.buf_.data());
}

message::message(message&& other) noexcept { *this = std::move(other); }

message& message::operator=(const message& other) {
    if (this != &other) *this = message(other);
    return *this;
}

message& message::operator=(message&& other) noexcept {
    if (this == &other) return *this;
    const char* const old_base = other.buf_.data();
    buf_ = std::move(other.buf_);
    fields_ = std::move(other.fields_);
    first_ = other.first_;
    folds_ = std::move(other.folds_);
    start_line_ = other.start_line_;
    method_ = other.method_;
    version_ = other.version_;
    reason_ = other.reason_;
    body_ = other.body_;
    method_id_ = other.method_id_;
    request_uri_ = other.request_uri_;
    status_ = other.status_;
    trailing_ = other.trailing_;
    rebase(old_base);
    return *this;
}

parse_error message::locate(error e) const noexcept {
    parse_error out;
    out.code = e.code;
    out.offset = std::min<std::uint32_t>(e.offset, static_cast<std::uint32_t>(buf_.size()));
    std::uint32_t line = 1;
    std::size_t line_start = 0;
    for (std::size_t i = 0; i < out.offset; ++i) {
        if (buf_[i] == '\n') {
            ++line;
            line_start = i + 1;
        }
    }
    for (std::uint32_t f : folds_) {
        if (f < out.offset) {
            ++line;
            line_start = std::max<std::size_t>(line_start, f + 1);
        }
    }
    out.line = line;
    out.column = static_cast<std::uint32_t>(out.offset - line_start + 1);
    return out;
}


std::string_view message::header(std::string_view name) const noexcept {
    const header_id id = lookup_header(name);
    if (id != header_id::other) return header(id);
    for (const header_field& f : fields_)
        if (f.id == header_id::other && iequals(this->name(f), name)) return value(f);
    return {};
}

std::size_t message::count(header_id id) const noexcept {
    return static_cast<std::size_t>(std::count_if(fields_.begin(), fields_.end(), [id](const header_field& f) { return f.id == id; }));
}

bool operator==(const message& a, const message& b) noexcept {
    if (a.status_ != b.status_ || a.version() != b.version()) return false;
    if (a.is_request()) {
        if (a.method_name() != b.method_name() || a.request_uri_.text != b.request_uri_.text) return false;
    } else if (a.reason_phrase() != b.reason_phrase()) {
        return false;
    }
    if (a.body() != b.body()) return false;
    // Content-Length is derived from the body (a serializer writes its own), so it is not compared.
    auto next = [](const message& m, std::size_t i) {
        while (i < m.fields_.size() && m.fields_[i].id == header_id::content_length) ++i;
        return i;
    };
    std::size_t i = next(a, 0);
    std::size_t j = next(b, 0);
    for (; i < a.fields_.size() && j < b.fields_.size(); i = next(a, i + 1), j = next(b, j + 1)) {
        const header_field& fa = a.fields_[i];
        const header_field& fb = b.fields_[j];
        if (fa.id != fb.id) return false;
        if (fa.id == header_id::other && !iequals(a.name(fa), b.name(fb))) return false;
        if (a.value(fa) != b.value(fb)) return false;
    }
    if (i != a.fields_.size() || j != b.fields_.size()) return false;
    return true;
}

}  // namespace sipvoice::sip
