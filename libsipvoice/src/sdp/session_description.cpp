// SDP parser and serializer (RFC 8866). See session_description.hpp for the model and the leniency.
#include "sipvoice/sdp/session_description.hpp"

#include <algorithm>
#include <array>

#include "sipvoice/sip/uri.hpp"
#include "formats.hpp"
#include "text.hpp"

namespace sipvoice::sdp {

using detail::iequals;
using detail::is_token;
using detail::next_word;
using detail::parse_number;
using detail::trim;
using detail::trim_left;

namespace {

struct static_type {
    std::uint8_t payload_type;
    std::string_view encoding;
    std::uint32_t clock_rate;
    std::uint8_t channels;
};

// RFC 3551 §6, Table 4 (audio) and Table 5 (video). G722 says 8000 although it samples at 16 kHz: an
// error in the original registration that RFC 3551 §4.5.2 keeps for compatibility.
constexpr static_type static_types[] = {
    {0, "PCMU", 8000, 1},   {3, "GSM", 8000, 1},     {4, "G723", 8000, 1},   {5, "DVI4", 8000, 1},
    {6, "DVI4", 16000, 1},  {7, "LPC", 8000, 1},     {8, "PCMA", 8000, 1},   {9, "G722", 8000, 1},
    {10, "L16", 44100, 2},  {11, "L16", 44100, 1},   {12, "QCELP", 8000, 1}, {13, "CN", 8000, 1},
    {14, "MPA", 90000, 1},  {15, "G728", 8000, 1},   {16, "DVI4", 11025, 1}, {17, "DVI4", 22050, 1},
    {18, "G729", 8000, 1},  {25, "CelB", 90000, 1},  {26, "JPEG", 90000, 1}, {28, "nv", 90000, 1},
    {31, "H261", 90000, 1}, {32, "MPV", 90000, 1},   {33, "MP2T", 90000, 1}, {34, "H263", 90000, 1},
};

struct direction_name {
    sdp::direction value;
    std::string_view name;
};
constexpr direction_name direction_names[] = {
    {direction::sendrecv, "sendrecv"},
    {direction::sendonly, "sendonly"},
    {direction::recvonly, "recvonly"},
    {direction::inactive, "inactive"},
};

// RFC 8866 §5 order of the verbatim line types within their section.
int field_rank(char type) noexcept {
    switch (type) {
        case 'i': return 0;
        case 'u': return 1;
        case 'e': return 2;
        case 'p': return 3;
        case 'z': return 4;
        case 'k': return 5;
        default: return 6;
    }
}


// c=<nettype> <addrtype> <connection-address> (RFC 8866 §5.7), also the tail of a=rtcp (RFC 3605).
bool parse_connection(std::string_view value, connection& out) {
    const std::string_view nettype = next_word(value);
    const std::string_view addrtype = next_word(value);
    const std::string_view address = next_word(value);
    if (!value.empty() || address.empty() || !iequals(nettype, "IN")) return false;
    if (iequals(addrtype, "IP4")) {
        out.type = address_type::ip4;
    } else if (iequals(addrtype, "IP6")) {
        out.type = address_type::ip6;
    } else {
        return false;
    }
    // Multicast: IP4 "addr/ttl[/count]", IP6 "addr/count".
    const std::size_t slash = address.find('/');
    const std::string_view host = address.substr(0, slash);
    std::string_view suffix = slash == std::string_view::npos ? std::string_view{} : address.substr(slash);
    if (!suffix.empty()) {
        int parts = 0;
        std::string_view rest = suffix;
        while (!rest.empty()) {
            if (rest.front() != '/') return false;
            rest.remove_prefix(1);
            std::size_t n = 0;
            while (n < rest.size() && detail::is_digit(rest[n])) ++n;
            std::uint32_t ignored = 0;
            if (!parse_number(rest.substr(0, n), ignored)) return false;
            rest.remove_prefix(n);
            ++parts;
        }
        if (parts > (out.type == address_type::ip4 ? 2 : 1)) return false;
    }
    const bool literal = out.type == address_type::ip4 ? sip::is_ipv4_address(host) : sip::is_ipv6_address(host);
    // A fully qualified domain name is allowed in place of the literal (RFC 8866 §5.7).
    if (!literal && sip::classify_host(host) != sip::host_type::name) return false;
    out.address = std::string(host);
    out.multicast = std::string(suffix);
    return true;
}

// ptime/maxptime: non-zero-int-or-real (RFC 8866 §9); the fraction is dropped (whole milliseconds).
bool parse_milliseconds(std::string_view value, std::uint32_t& out) {
    const std::size_t dot = value.find('.');
    const std::string_view whole = value.substr(0, dot);
    if (dot != std::string_view::npos) {
        const std::string_view fraction = value.substr(dot + 1);
        std::uint32_t ignored = 0;
        if (fraction.size() > 9 || !parse_number(fraction, ignored)) return false;
    }
    return parse_number(whole, out) && out != 0;
}

// a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>] (RFC 8866 §6.6).
bool parse_rtpmap(std::string_view value, std::uint8_t& pt, std::string_view& encoding, std::uint32_t& rate,
                  std::uint8_t& channels) {
    const std::string_view number = next_word(value);
    const std::string_view map = next_word(value);
    if (!value.empty() || !parse_number(number, pt) || pt > 127) return false;
    const std::size_t s1 = map.find('/');
    if (s1 == std::string_view::npos) return false;
    encoding = map.substr(0, s1);
    std::string_view rest = map.substr(s1 + 1);
    const std::size_t s2 = rest.find('/');
    channels = 1;
    if (s2 != std::string_view::npos) {
        if (!parse_number(rest.substr(s2 + 1), channels) || channels == 0) return false;
        rest = rest.substr(0, s2);
    }
    return is_token(encoding) && parse_number(rest, rate) && rate != 0;
}

// Parser state: the description being filled and where we are.
class parser {
public:
    explicit parser(std::string_view text) : text_(text) {
        while (!text_.empty() && text_.back() == '\0') text_.remove_suffix(1);
    }

    result<session_description> run() {
        bool any = false;
        std::size_t pos = 0;
        while (pos < text_.size()) {
            const std::size_t nl = text_.find('\n', pos);
            const std::size_t end = nl == std::string_view::npos ? text_.size() : nl;
            ++line_;
            const std::string_view line = trim(text_.substr(pos, end - pos));
            pos = end + (nl == std::string_view::npos ? 0 : 1);
            if (line.empty()) continue;  // blank lines and a trailing empty line: tolerated
            any = true;
            if (const errc e = one_line(line); e != errc::ok) return fail(e, line_);
        }
        if (!any) return fail(errc::empty, 1);
        return finish();
    }

private:
    static error fail(errc code, std::uint32_t line) { return {code, line}; }

    errc one_line(std::string_view line) {
        // <type>=<value>, type one lowercase letter, value without NUL or CR (RFC 8866 §5, §9).
        if (line.size() < 2 || line[1] != '=' || line[0] < 'a' || line[0] > 'z') return errc::bad_line;
        for (char c : line)
            if (c == '\0' || c == '\r') return errc::bad_line;
        const char type = line[0];
        const std::string_view value = line.substr(2);
        if (!seen_v_) {
            if (type != 'v') return errc::bad_order;  // RFC 8866 §5: v= comes first
            seen_v_ = true;
            return value == "0" ? errc::ok : errc::bad_version;
        }
        media* m = d_.media.empty() ? nullptr : &d_.media.back();
        switch (type) {
            case 'v': return errc::duplicate_line;
            case 'o': return m ? errc::bad_order : origin_line(value);
            case 's':
                if (m) return errc::bad_order;
                if (seen_s_) return errc::duplicate_line;
                seen_s_ = true;
                d_.name = std::string(value);
                return errc::ok;
            case 'i':
            case 'k':
                (m ? m->fields : d_.fields).push_back({type, std::string(value)});
                return errc::ok;
            case 'u':
            case 'e':
            case 'p':
            case 'z':
                if (m) return errc::bad_order;
                d_.fields.push_back({type, std::string(value)});
                return errc::ok;
            case 'c': {
                std::optional<connection>& slot = m ? m->connection : d_.connection;
                if (slot) return errc::duplicate_line;
                connection c;
                if (!parse_connection(value, c)) return errc::bad_connection;
                slot = std::move(c);
                return errc::ok;
            }
            case 'b': {
                const std::size_t colon = value.find(':');
                bandwidth b;
                if (colon == std::string_view::npos || !is_token(value.substr(0, colon)) ||
                    !parse_number(value.substr(colon + 1), b.value))
                    return errc::bad_bandwidth;
                b.type = std::string(value.substr(0, colon));
                (m ? m->bandwidths : d_.bandwidths).push_back(std::move(b));
                return errc::ok;
            }
            case 't': {
                if (m) return errc::bad_order;
                std::string_view rest = value;
                timing t;
                if (!parse_number(next_word(rest), t.start) || !parse_number(next_word(rest), t.stop) || !rest.empty())
                    return errc::bad_timing;
                d_.timings.push_back(std::move(t));
                return errc::ok;
            }
            case 'r':
                if (m) return errc::bad_order;
                if (d_.timings.empty()) return errc::bad_timing;  // r= repeats the t= before it (§5.10)
                d_.timings.back().repeats.emplace_back(value);
                return errc::ok;
            case 'm': return media_line(value);
            case 'a': return attribute_line(value, m);
            default: return errc::bad_line;  // RFC 8866 §5: unknown type letters are not guessed at
        }
    }

    errc origin_line(std::string_view value) {
        if (seen_o_) return errc::duplicate_line;
        seen_o_ = true;
        std::string_view rest = value;
        std::string_view words[6];
        for (std::string_view& w : words) w = next_word(rest);
        if (!rest.empty() || words[5].empty()) return errc::bad_origin;
        origin& o = d_.origin;
        if (!parse_number(words[2], o.session_version)) return errc::bad_origin;
        o.username = std::string(words[0]);
        o.session_id = std::string(words[1]);
        o.network_type = std::string(words[3]);
        o.address_type = std::string(words[4]);
        o.address = std::string(words[5]);
        return errc::ok;
    }

    errc media_line(std::string_view value) {
        if (d_.media.empty()) session_end_ = line_;
        if (d_.media.size() >= max_media) return errc::too_large;
        media m;
        m.type = std::string(next_word(value));
        const std::string_view port = next_word(value);
        const std::string_view proto = next_word(value);
        if (!is_token(m.type) || proto.empty()) return errc::bad_media;
        for (char c : proto)
            if (!detail::is_token_char(c) && c != '/') return errc::bad_media;
        const std::size_t slash = port.find('/');
        if (!parse_number(port.substr(0, slash), m.port)) return errc::bad_media;
        if (slash != std::string_view::npos && (!parse_number(port.substr(slash + 1), m.port_count) || m.port_count == 0))
            return errc::bad_media;
        m.proto = std::string(proto);
        const bool rtp = m.is_rtp();
        while (!value.empty()) {
            const std::string_view fmt = next_word(value);
            if (m.formats.size() + m.other_formats.size() >= max_formats) return errc::too_large;
            if (rtp) {
                std::uint8_t pt = 0;
                if (!parse_number(fmt, pt) || pt > 127) return errc::bad_media;  // RFC 3551 §3
                m.formats.push_back(detail::bare_format(pt));
            } else {
                m.other_formats.emplace_back(fmt);
            }
        }
        d_.media.push_back(std::move(m));
        media_lines_.push_back(line_);
        return errc::ok;
    }

    errc attribute_line(std::string_view value, media* m) {
        const std::size_t colon = value.find(':');
        const std::string_view name = value.substr(0, colon);
        if (!is_token(name)) return errc::bad_attribute;
        attribute a;
        a.name = std::string(name);
        a.has_value = colon != std::string_view::npos;
        if (a.has_value) a.value = std::string(value.substr(colon + 1));
        const std::string_view v = a.has_value ? value.substr(colon + 1) : std::string_view{};

        // A direction, rtcp-mux, or a repeated typed attribute stays verbatim when it has a value it
        // should not have or when the typed slot is taken: the first one counts, the rest are kept.
        if (!a.has_value) {
            if (const auto dir = parse_direction(name)) {
                std::optional<direction>& slot = m ? m->direction : d_.direction;
                if (!slot) {
                    slot = dir;
                    return errc::ok;
                }
            } else if (m && iequals(name, "rtcp-mux") && !m->rtcp_mux) {
                m->rtcp_mux = true;
                return errc::ok;
            }
        } else if (m) {
            if (iequals(name, "ptime") || iequals(name, "maxptime")) {
                std::uint32_t ms = 0;
                if (!parse_milliseconds(v, ms)) return errc::bad_attribute;
                std::uint32_t& slot = iequals(name, "ptime") ? m->ptime : m->maxptime;
                if (slot == 0) {
                    slot = ms;
                    return errc::ok;
                }
            } else if (iequals(name, "rtcp")) {
                // a=rtcp:<port> [<nettype> <addrtype> <connection-address>] (RFC 3605 §2.1)
                std::string_view rest = v;
                rtcp_address r;
                if (!parse_number(next_word(rest), r.port)) return errc::bad_attribute;
                if (!rest.empty()) {
                    connection c;
                    if (!parse_connection(rest, c)) return errc::bad_attribute;
                    r.connection = std::move(c);
                }
                if (!m->rtcp) {
                    m->rtcp = std::move(r);
                    return errc::ok;
                }
            } else if (m->is_rtp() && iequals(name, "rtpmap")) {
                std::uint8_t pt = 0;
                std::uint32_t rate = 0;
                std::uint8_t channels = 1;
                std::string_view encoding;
                if (!parse_rtpmap(v, pt, encoding, rate, channels)) return errc::bad_attribute;
                format* f = first_format(*m, pt);
                if (f && !f->has_rtpmap) {
                    f->encoding = std::string(encoding);
                    f->clock_rate = rate;
                    f->channels = channels;
                    f->has_rtpmap = true;
                    return errc::ok;
                }
            } else if (m->is_rtp() && iequals(name, "fmtp")) {
                // a=fmtp:<format> <format specific parameters> (RFC 8866 §6.15)
                std::string_view rest = trim_left(v);
                const std::string_view fmt = next_word(rest);
                if (fmt.empty()) return errc::bad_attribute;
                std::uint8_t pt = 0;
                format* f = (parse_number(fmt, pt) && pt <= 127) ? first_format(*m, pt) : nullptr;
                if (f && f->fmtp.empty()) {
                    f->fmtp = std::string(rest);  // empty parameters say nothing and are dropped
                    return errc::ok;
                }
            }
        }
        (m ? m->attributes : d_.attributes).push_back(std::move(a));
        return errc::ok;
    }

    static format* first_format(media& m, std::uint8_t pt) noexcept {
        for (format& f : m.formats)
            if (f.payload_type == pt) return &f;
        return nullptr;
    }

    result<session_description> finish() {
        const std::uint32_t end = session_end_ ? session_end_ : line_ + 1;
        if (!seen_o_) return fail(errc::missing_origin, end);
        // RFC 8866 §5.7: every stream needs a connection address, its own or the session's. A
        // declined stream (port 0) carries no media, so it needs none.
        for (std::size_t i = 0; i < d_.media.size(); ++i)
            if (d_.media[i].port != 0 && !d_.connection_of(d_.media[i])) return fail(errc::missing_connection, media_lines_[i]);
        if (d_.timings.empty()) d_.timings.push_back({});  // "t=0 0": a permanent session (§5.9)
        const auto by_rank = [](const field& a, const field& b) { return field_rank(a.type) < field_rank(b.type); };
        std::stable_sort(d_.fields.begin(), d_.fields.end(), by_rank);
        for (media& m : d_.media) std::stable_sort(m.fields.begin(), m.fields.end(), by_rank);
        return std::move(d_);
    }

    std::string_view text_;
    session_description d_;
    std::uint32_t line_ = 0;
    std::uint32_t session_end_ = 0;  // line of the first m=
    std::vector<std::uint32_t> media_lines_;
    bool seen_v_ = false;
    bool seen_o_ = false;
    bool seen_s_ = false;
};

void append_connection(std::string& out, const connection& c) {
    out += "IN ";
    out += c.type == address_type::ip6 ? "IP6 " : "IP4 ";
    out += c.address;
    out += c.multicast;
}

void append_line(std::string& out, char type, std::string_view value) {
    out += type;
    out += '=';
    out += value;
    out += "\r\n";
}

void append_fields(std::string& out, const std::vector<field>& fields, int min_rank, int max_rank) {
    for (const field& f : fields) {
        const int rank = field_rank(f.type);
        if (rank >= min_rank && rank <= max_rank) append_line(out, f.type, f.value);
    }
}

void append_attribute(std::string& out, std::string_view name, std::string_view value = {}, bool has_value = false) {
    out += "a=";
    out += name;
    if (has_value) {
        out += ':';
        out += value;
    }
    out += "\r\n";
}

void append_number_attribute(std::string& out, std::string_view name, std::uint64_t value) {
    append_attribute(out, name, std::to_string(value), true);
}

}  // namespace

std::string_view to_string(direction d) noexcept {
    for (const auto& n : direction_names)
        if (n.value == d) return n.name;
    return "sendrecv";
}

std::optional<direction> parse_direction(std::string_view name) noexcept {
    for (const auto& n : direction_names)
        if (iequals(n.name, name)) return n.value;
    return std::nullopt;
}

bool static_payload_type(std::uint8_t payload_type, std::string_view& encoding, std::uint32_t& clock_rate,
                         std::uint8_t& channels) noexcept {
    for (const static_type& t : static_types) {
        if (t.payload_type == payload_type) {
            encoding = t.encoding;
            clock_rate = t.clock_rate;
            channels = t.channels;
            return true;
        }
    }
    return false;
}

std::optional<std::string_view> fmtp_parameter(std::string_view fmtp, std::string_view name) noexcept {
    while (!fmtp.empty()) {
        const std::size_t semi = fmtp.find(';');
        const std::string_view item = trim(fmtp.substr(0, semi));
        fmtp = semi == std::string_view::npos ? std::string_view{} : fmtp.substr(semi + 1);
        const std::size_t eq = item.find('=');
        if (iequals(trim(item.substr(0, eq)), name))
            return eq == std::string_view::npos ? std::string_view{} : trim(item.substr(eq + 1));
    }
    return std::nullopt;
}

bool media::is_rtp() const noexcept { return detail::icontains(proto, "RTP/"); }

const format* media::find_format(std::uint8_t payload_type) const noexcept {
    for (const format& f : formats)
        if (f.payload_type == payload_type) return &f;
    return nullptr;
}

const attribute* media::find_attribute(std::string_view name) const noexcept {
    for (const attribute& a : attributes)
        if (a.name == name) return &a;
    return nullptr;
}

direction session_description::direction_of(const sdp::media& m) const noexcept {
    if (m.direction) return *m.direction;
    if (direction) return *direction;
    return sdp::direction::sendrecv;
}

const connection* session_description::connection_of(const sdp::media& m) const noexcept {
    if (m.connection) return &*m.connection;
    if (connection) return &*connection;
    return nullptr;
}

result<session_description> parse(std::string_view text) { return parser(text).run(); }

std::string serialize(const session_description& d) {
    std::string out;
    out.reserve(512);
    out += "v=0\r\n";
    const origin& o = d.origin;
    out += "o=" + o.username + ' ' + o.session_id + ' ' + std::to_string(o.session_version) + ' ' + o.network_type +
           ' ' + o.address_type + ' ' + o.address + "\r\n";
    // RFC 8866 §5.3: a session without a meaningful name is "s= ".
    append_line(out, 's', d.name.empty() ? std::string_view(" ") : std::string_view(d.name));
    append_fields(out, d.fields, 0, 3);  // i u e p
    if (d.connection) {
        out += "c=";
        append_connection(out, *d.connection);
        out += "\r\n";
    }
    for (const bandwidth& b : d.bandwidths) append_line(out, 'b', b.type + ':' + std::to_string(b.value));
    if (d.timings.empty()) out += "t=0 0\r\n";
    for (const timing& t : d.timings) {
        append_line(out, 't', std::to_string(t.start) + ' ' + std::to_string(t.stop));
        for (const std::string& r : t.repeats) append_line(out, 'r', r);
    }
    append_fields(out, d.fields, 4, 6);  // z k
    if (d.direction) append_attribute(out, to_string(*d.direction));
    for (const attribute& a : d.attributes) append_attribute(out, a.name, a.value, a.has_value);

    for (const media& m : d.media) {
        out += "m=" + m.type + ' ' + std::to_string(m.port);
        if (m.port_count != 1) out += '/' + std::to_string(m.port_count);
        out += ' ';
        out += m.proto;
        for (const format& f : m.formats) out += ' ' + std::to_string(f.payload_type);
        for (const std::string& f : m.other_formats) out += ' ' + f;
        out += "\r\n";
        append_fields(out, m.fields, 0, 0);  // i
        if (m.connection) {
            out += "c=";
            append_connection(out, *m.connection);
            out += "\r\n";
        }
        for (const bandwidth& b : m.bandwidths) append_line(out, 'b', b.type + ':' + std::to_string(b.value));
        append_fields(out, m.fields, 1, 6);  // k
        for (const format& f : m.formats) {
            if (f.has_rtpmap) {
                std::string map = std::to_string(f.payload_type) + ' ' + f.encoding + '/' + std::to_string(f.clock_rate);
                if (f.channels != 1) map += '/' + std::to_string(f.channels);
                append_attribute(out, "rtpmap", map, true);
            }
            if (!f.fmtp.empty()) append_attribute(out, "fmtp", std::to_string(f.payload_type) + ' ' + f.fmtp, true);
        }
        if (m.ptime != 0) append_number_attribute(out, "ptime", m.ptime);
        if (m.maxptime != 0) append_number_attribute(out, "maxptime", m.maxptime);
        if (m.direction) append_attribute(out, to_string(*m.direction));
        if (m.rtcp) {
            std::string value = std::to_string(m.rtcp->port);
            if (m.rtcp->connection) {
                value += ' ';
                append_connection(value, *m.rtcp->connection);
            }
            append_attribute(out, "rtcp", value, true);
        }
        if (m.rtcp_mux) append_attribute(out, "rtcp-mux");
        for (const attribute& a : m.attributes) append_attribute(out, a.name, a.value, a.has_value);
    }
    return out;
}

namespace detail {

format bare_format(std::uint8_t pt) {
    format f;
    f.payload_type = pt;
    std::string_view encoding;
    if (static_payload_type(pt, encoding, f.clock_rate, f.channels)) f.encoding = std::string(encoding);
    return f;
}

}  // namespace detail
}  // namespace sipvoice::sdp
