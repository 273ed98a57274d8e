// sipvoice/sip/message.hpp: a parsed SIP request or response (RFC 3261 §7).
//
// message::parse() takes the bytes (by value: the message owns its buffer), checks the start line and
// the header section, and records where each header's name and value are. Nothing is copied: every
// accessor returns a view into the buffer, valid while the message lives (moves keep it valid).
// Folded header lines (RFC 3261 §7.3.1) are unfolded in place, so a value is one contiguous view.
//
// Typed accessors parse a header when called (cheap: no allocation) and return result<T>; the
// validator (validate.hpp) runs them all once and says what a user agent or proxy must answer.
//
//   auto m = sip::message::parse(std::move(bytes));
//   if (!m) log(m.error().line, m.error().column, m.error().what());
//   for (auto v : m->vias()) if (v) use(v->host, v->branch);
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "sipvoice/sip/error.hpp"
#include "sipvoice/sip/headers.hpp"
#include "sipvoice/sip/name_addr.hpp"
#include "sipvoice/sip/uri.hpp"

namespace sipvoice::sip {

enum class method : std::uint8_t {
    other, invite, ack, bye, cancel, options, register_, info, update, prack, subscribe, notify,
    refer, message, publish
};
method lookup_method(std::string_view name) noexcept;  // case-sensitive, as RFC 3261 §7.1 says
std::string_view method_name(method m) noexcept;       // empty for method::other

// How the bytes arrived, which decides what a missing or short Content-Length means (RFC 3261 §18.3).
enum class transport_kind : std::uint8_t {
    datagram,  // UDP: no Content-Length = body is the rest; bytes after the body are ignored; a
               // datagram ending right after a header line (no empty line) has an empty body
    stream,    // TCP/TLS (already framed): no Content-Length = empty body
};

struct parse_options {
    transport_kind transport = transport_kind::datagram;
    std::size_t max_message_size = 65535;
    std::size_t max_headers = 256;
};

// A parse failure with its position: 1-based line and column (in bytes) of the offending character.
struct parse_error {
    errc code = errc::ok;
    std::uint32_t offset = 0;
    std::uint32_t line = 0;
    std::uint32_t column = 0;
    [[nodiscard]] constexpr bool failed() const noexcept { return code != errc::ok; }
    [[nodiscard]] std::string_view what() const noexcept { return describe(code); }
};

struct header_field {
    header_id id = header_id::other;
    std::uint16_t next = 0;  // 1 + index of the next field with the same id; 0 = none
    std::uint32_t name_offset = 0;
    std::uint32_t name_length = 0;
    std::uint32_t value_offset = 0;
    std::uint32_t value_length = 0;
    std::uint32_t line = 0;  // 1-based line where the header starts
};

class message;

// The elements of every header line with one id, in order, comma lists split (RFC 3261 §7.3.1).
// Dereferencing parses the element: a result<T> whose error offset is relative to the message.
template <class T>
class header_values {
public:
    class iterator {
    public:
        using value_type = result<T>;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        iterator(const message* m, header_id id) noexcept;
        result<T> operator*() const noexcept;
        iterator& operator++() noexcept;
        iterator operator++(int) noexcept { auto c = *this; ++*this; return c; }
        friend bool operator==(const iterator& a, const iterator& b) noexcept {
            return a.index_ == b.index_ && a.element_.data() == b.element_.data();
        }
        // Byte offset of the current element within the message.
        [[nodiscard]] std::uint32_t offset() const noexcept;

    private:
        void load(std::size_t index) noexcept;
        void split() noexcept;
        void finish_split() const noexcept;
        const message* m_ = nullptr;
        header_id id_ = header_id::other;
        bool list_ = false;              // is_list_header(id_), read once
        std::size_t index_ = SIZE_MAX;  // current field; SIZE_MAX = end
        // Lists of Via, Contact and name-addr elements are split lazily: a scan for the end of an
        // element cost about as much as parsing it, and the parse finds that end anyway. Until then
        // (split_ false) rest_ runs from the current element on and element_ only says where it
        // starts (all that operator== and offset() read); operator* parses the element and records
        // the split, operator++ splits if nothing did. The split is the same either way.
        mutable std::string_view rest_;     // unsplit remainder of the current field's value
        mutable std::string_view element_;  // the current element
        mutable bool more_ = false;         // a comma followed the current element
        mutable bool split_ = true;         // rest_, element_ and more_ describe the split
        bool checked_token_ = false;        // element_ is already known to be a token (token lists)
    };

    header_values(const message* m, header_id id) noexcept : m_(m), id_(id) {}
    [[nodiscard]] iterator begin() const noexcept { return {m_, id_}; }
    [[nodiscard]] iterator end() const noexcept { return {}; }
    [[nodiscard]] bool empty() const noexcept { return begin() == end(); }
    [[nodiscard]] result<T> front() const noexcept;
    [[nodiscard]] std::size_t size() const noexcept;

private:
    const message* m_;
    header_id id_;
};

class message {
public:
    using initialized_by_default = void;  // every data member has its initializer (result.hpp)
    message() = default;
    // Copies and moves re-point the parsed Request-URI's views at the new buffer (a short message
    // lives inside the std::string object itself, so even a move changes its address).
    message(const message& other);
    message(message&& other) noexcept;
    message& operator=(const message& other);
    message& operator=(message&& other) noexcept;
    ~message() = default;

    // Parses one complete message. For datagrams, bytes after the body are ignored (RFC 4475 §3.1.1.8).
    static sipvoice::result<message, parse_error> parse(std::string bytes, const parse_options& options = {});
    static sipvoice::result<message, parse_error> parse(std::string_view bytes, const parse_options& options = {}) {
        return parse(std::string(bytes), options);
    }

    // ---- start line
    [[nodiscard]] bool is_request() const noexcept { return status_ == 0; }
    [[nodiscard]] bool is_response() const noexcept { return status_ != 0; }
    [[nodiscard]] std::string_view method_name() const noexcept { return view(method_); }
    [[nodiscard]] sip::method method() const noexcept { return method_id_; }
    [[nodiscard]] const uri& request_uri() const noexcept { return request_uri_; }
    [[nodiscard]] std::string_view version() const noexcept { return view(version_); }
    [[nodiscard]] int status() const noexcept { return status_; }
    [[nodiscard]] std::string_view reason_phrase() const noexcept { return view(reason_); }
    [[nodiscard]] std::string_view start_line() const noexcept { return view(start_line_); }

    // ---- raw headers, in order
    [[nodiscard]] std::span<const header_field> fields() const noexcept { return fields_; }
    [[nodiscard]] std::string_view name(const header_field& f) const noexcept { return {buf_.data() + f.name_offset, f.name_length}; }
    [[nodiscard]] std::string_view value(const header_field& f) const noexcept { return {buf_.data() + f.value_offset, f.value_length}; }
    // First value of a header, or empty when absent.
    [[nodiscard]] std::string_view header(header_id id) const noexcept {
        const header_field* f = find(id);
        return f == nullptr ? std::string_view{} : value(*f);
    }
    [[nodiscard]] std::string_view header(std::string_view name) const noexcept;
    [[nodiscard]] const header_field* find(header_id id) const noexcept;
    [[nodiscard]] std::size_t count(header_id id) const noexcept;
    [[nodiscard]] bool has(header_id id) const noexcept { return find(id) != nullptr; }

    // ---- body and bytes
    [[nodiscard]] std::string_view body() const noexcept { return view(body_); }
    [[nodiscard]] std::string_view bytes() const noexcept { return {buf_.data(), buf_.size()}; }
    [[nodiscard]] std::size_t trailing_bytes() const noexcept { return trailing_; }  // ignored after the body

    // ---- typed access (RFC 3261 §20); each parses on call
    [[nodiscard]] header_values<via> vias() const noexcept { return {this, header_id::via}; }
    [[nodiscard]] result<via> top_via() const noexcept { return vias().front(); }
    [[nodiscard]] result<name_addr> from() const noexcept { return single<name_addr>(header_id::from); }
    [[nodiscard]] result<name_addr> to() const noexcept { return single<name_addr>(header_id::to); }
    [[nodiscard]] result<std::string_view> call_id() const noexcept;
    [[nodiscard]] result<sip::cseq> cseq() const noexcept { return single<sip::cseq>(header_id::cseq); }
    [[nodiscard]] header_values<contact> contacts() const noexcept { return {this, header_id::contact}; }
    [[nodiscard]] result<std::uint32_t> max_forwards() const noexcept { return number(header_id::max_forwards, max_max_forwards); }
    [[nodiscard]] result<std::uint32_t> content_length() const noexcept;
    [[nodiscard]] result<media_type> content_type() const noexcept { return single<media_type>(header_id::content_type); }
    [[nodiscard]] header_values<name_addr> routes() const noexcept { return {this, header_id::route}; }
    [[nodiscard]] header_values<name_addr> record_routes() const noexcept { return {this, header_id::record_route}; }
    [[nodiscard]] header_values<name_addr> paths() const noexcept { return {this, header_id::path}; }
    [[nodiscard]] header_values<name_addr> service_routes() const noexcept { return {this, header_id::service_route}; }
    [[nodiscard]] result<std::uint32_t> expires() const noexcept { return number(header_id::expires, max_delta_seconds); }
    [[nodiscard]] result<std::uint32_t> min_expires() const noexcept { return number(header_id::min_expires, max_delta_seconds); }
    [[nodiscard]] header_values<token> allow() const noexcept { return {this, header_id::allow}; }
    [[nodiscard]] header_values<token> supported() const noexcept { return {this, header_id::supported}; }
    [[nodiscard]] header_values<token> require() const noexcept { return {this, header_id::require}; }
    [[nodiscard]] header_values<token> proxy_require() const noexcept { return {this, header_id::proxy_require}; }
    [[nodiscard]] header_values<token> unsupported() const noexcept { return {this, header_id::unsupported}; }
    [[nodiscard]] header_values<auth_value> www_authenticate() const noexcept { return {this, header_id::www_authenticate}; }
    [[nodiscard]] header_values<auth_value> proxy_authenticate() const noexcept { return {this, header_id::proxy_authenticate}; }
    [[nodiscard]] header_values<auth_value> authorization() const noexcept { return {this, header_id::authorization}; }
    [[nodiscard]] header_values<auth_value> proxy_authorization() const noexcept { return {this, header_id::proxy_authorization}; }
    [[nodiscard]] std::string_view user_agent() const noexcept { return header(header_id::user_agent); }
    [[nodiscard]] std::string_view server() const noexcept { return header(header_id::server); }
    [[nodiscard]] header_values<sip::reason> reasons() const noexcept { return {this, header_id::reason}; }
    [[nodiscard]] result<sip::session_expires> session_expires() const noexcept { return single<sip::session_expires>(header_id::session_expires); }
    [[nodiscard]] result<std::uint32_t> min_se() const noexcept { return number(header_id::min_se, max_delta_seconds); }
    [[nodiscard]] header_values<media_type> accept() const noexcept { return {this, header_id::accept}; }
    [[nodiscard]] result<sip::event> event() const noexcept { return single<sip::event>(header_id::event); }
    [[nodiscard]] result<sip::subscription_state> subscription_state() const noexcept {
        return single<sip::subscription_state>(header_id::subscription_state);
    }
    [[nodiscard]] result<name_addr> refer_to() const noexcept { return single<name_addr>(header_id::refer_to); }
    [[nodiscard]] result<name_addr> referred_by() const noexcept { return single<name_addr>(header_id::referred_by); }

    // 1-based line and column of a byte offset into bytes().
    [[nodiscard]] parse_error locate(error e) const noexcept;

    // Semantic equality: same start line, same headers in order (by id; unknown ones by name,
    // case-insensitively) with the same values, same body. parse(serialize(m)) == m.
    friend bool operator==(const message& a, const message& b) noexcept;

private:
    struct slice {
        std::uint32_t offset = 0;
        std::uint32_t length = 0;
    };
    [[nodiscard]] std::string_view view(slice s) const noexcept { return {buf_.data() + s.offset, s.length}; }
    template <class T>
    [[nodiscard]] result<T> single(header_id id) const noexcept;
    [[nodiscard]] result<std::uint32_t> number(header_id id, std::uint32_t max) const noexcept;
    void rebase(const char* old_base) noexcept;
    friend class message_parser;

    std::string buf_;
    std::vector<header_field> fields_;
    std::array<std::uint16_t, header_id_count> first_{};  // 1 + index of the first field with that id; 0 = none
    std::vector<std::uint32_t> folds_;  // offsets of line folds unfolded in place (for locate())
    slice start_line_, method_, version_, reason_, body_;
    sip::method method_id_ = sip::method::other;
    uri request_uri_;
    int status_ = 0;
    std::size_t trailing_ = 0;
};

// ---- header_values implementation ---------------------------------------------------------------
namespace detail {
// parse_value() into a value-initialised `out` (what every accessor here passes): the large view
// types skip parse_value()'s reset of `out` (parse_fresh() in headers.hpp).
template <class T>
error parse_element(std::string_view text, T& out) noexcept {
    if constexpr (requires { parse_fresh(text, out); }) {
        return parse_fresh(text, out);
    } else {
        return parse_value(text, out);
    }
}

// The element types whose parsers can read the first element of an unsplit list
// (parse_first_element() in headers.hpp).
template <class T>
inline constexpr bool parses_unsplit = std::is_same_v<T, via> || std::is_same_v<T, name_addr> || std::is_same_v<T, contact>;

constexpr bool is_lws_byte(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
}  // namespace detail

template <class T>
inline header_values<T>::iterator::iterator(const message* m, header_id id) noexcept
    : m_(m), id_(id), list_(detail::has_header_bit(detail::list_header_bits, id)) {
    // An absent header leaves the iterator as the end iterator (the members' defaults): most of the
    // headers a reader asks about are absent from most messages.
    if (const header_field* f = m_->find(id_)) load(static_cast<std::size_t>(f - m_->fields().data()));
}

template <class T>
inline void header_values<T>::iterator::load(std::size_t index) noexcept {
    // Fields with the same id are linked (header_field::next), so iterating costs nothing per other header.
    const auto fields = m_->fields();
    for (index_ = index; index_ != SIZE_MAX;) {
        rest_ = m_->value(fields[index_]);
        if (!rest_.empty() || !detail::has_header_bit(detail::may_be_empty_bits, id_)) {
            split();
            return;
        }
        // "Supported:" lists nothing: no element; try the next line.
        index_ = fields[index_].next == 0 ? SIZE_MAX : fields[index_].next - 1U;
    }
    element_ = {};
    rest_ = {};
    more_ = false;
}

template <class T>
inline void header_values<T>::iterator::split() noexcept {
    // Non-list headers are one element: their commas belong to the value (RFC 3261 §7.3.1).
    if (!list_) {
        element_ = rest_;
        rest_ = rest_.substr(rest_.size());
        more_ = false;
    } else if constexpr (std::is_same_v<T, token>) {
        more_ = next_token_element(rest_, element_, checked_token_);
    } else if constexpr (detail::parses_unsplit<T>) {
        // Where the element starts (past LWS: where next_list_element() would trim it); its end later.
        std::size_t b = 0;
        while (b < rest_.size() && detail::is_lws_byte(rest_[b])) ++b;
        element_ = rest_.substr(b, 0);
        split_ = false;
    } else {
        more_ = next_list_element(rest_, element_);
    }
}

template <class T>
inline void header_values<T>::iterator::finish_split() const noexcept {
    if (split_) return;
    more_ = next_list_element(rest_, element_);
    split_ = true;
}

template <class T>
inline auto header_values<T>::iterator::operator++() noexcept -> iterator& {
    if (index_ == SIZE_MAX) return *this;
    finish_split();
    if (more_) {
        split();
    } else {
        const std::uint16_t next = m_->fields()[index_].next;
        load(next == 0 ? SIZE_MAX : next - 1U);
    }
    return *this;
}

template <class T>
inline std::uint32_t header_values<T>::iterator::offset() const noexcept {
    if (index_ == SIZE_MAX) return 0;
    return static_cast<std::uint32_t>(element_.data() - m_->bytes().data());
}

template <class T>
inline result<T> header_values<T>::iterator::operator*() const noexcept {
    if constexpr (std::is_same_v<T, token>) {
        if (checked_token_) return token{element_};  // the split already read it as a token
    }
    result<T> r;  // filled in place and returned by NRVO: views like name_addr are a few hundred bytes
    if constexpr (detail::parses_unsplit<T>) {
        if (!split_) {
            // Parse the element where it starts; its parse says where it ends. Past the end only LWS
            // and the ',' before the next element (or the end of the value) may follow.
            const std::string_view from = rest_.substr(static_cast<std::size_t>(element_.data() - rest_.data()));
            std::size_t length = 0;
            if (detail::parse_first_element(from, *r, length)) {
                std::size_t k = length;
                while (k < from.size() && detail::is_lws_byte(from[k])) ++k;
                if (k == from.size() || from[k] == ',') {
                    element_ = from.substr(0, length);
                    more_ = k < from.size();
                    rest_ = more_ ? from.substr(k + 1) : from.substr(from.size());
                    split_ = true;
                    return r;
                }
            }
            finish_split();  // then the usual way, from a fresh value again
            *r = T{};
        }
    }
    error e = detail::parse_element(element_, *r);
    if (e.failed()) {
        e.offset += offset();
        r.set_error(e);
    }
    return r;
}

template <class T>
result<T> header_values<T>::front() const noexcept {
    auto it = begin();
    if (it == end()) return error{errc::missing_header, 0};
    return *it;
}

template <class T>
std::size_t header_values<T>::size() const noexcept {
    std::size_t n = 0;
    for (auto it = begin(); it != end(); ++it) ++n;
    return n;
}

inline const header_field* message::find(header_id id) const noexcept {
    if (id == header_id::other) return nullptr;  // unknown names share slot 0 of first_
    const std::uint16_t i = first_[static_cast<std::size_t>(id)];
    return i == 0 ? nullptr : &fields_[i - 1U];
}

// call_id(), number() and single() are inline: a call for the lookup and another for the parse cost
// more than the lookup itself.
inline result<std::string_view> message::call_id() const noexcept {
    const header_field* f = find(header_id::call_id);
    if (f == nullptr) return error{errc::missing_header, 0};
    error e = parse_call_id(value(*f));
    if (e.failed()) {
        e.offset += f->value_offset;
        return e;
    }
    return value(*f);
}

inline result<std::uint32_t> message::number(header_id id, std::uint32_t max) const noexcept {
    const header_field* f = find(id);
    if (f == nullptr) return error{errc::missing_header, 0};
    std::uint32_t v = 0;
    error e = parse_number(value(*f), max, v);
    if (e.failed()) {
        e.offset += f->value_offset;
        return e;
    }
    return v;
}

// parse() read every Content-Length already: a message exists only when they all parsed and agreed,
// and the first one then gave the body its length (RFC 3261 §20.14).
inline result<std::uint32_t> message::content_length() const noexcept {
    if (!has(header_id::content_length)) return error{errc::missing_header, 0};
    return body_.length;
}

template <class T>
inline result<T> message::single(header_id id) const noexcept {
    result<T> r;
    const header_field* f = find(id);
    if (f == nullptr) {
        r.set_error(error{errc::missing_header, 0});
        return r;
    }
    error e = detail::parse_element(value(*f), *r);
    if (e.failed()) {
        e.offset += f->value_offset;
        r.set_error(e);
    }
    return r;
}

}  // namespace sipvoice::sip
