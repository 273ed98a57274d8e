// The SDP offer/answer model (RFC 3264) for one audio stream. See offer_answer.hpp for the choices.
#include "sipvoice/sdp/offer_answer.hpp"

#include <algorithm>
#include <array>

#include "formats.hpp"
#include "text.hpp"

namespace sipvoice::sdp {

using detail::iequals;

namespace {

using binding = offer_answer::binding;

bool is_telephone_event(std::string_view name) noexcept { return iequals(name, "telephone-event"); }

// Whether two rtpmap descriptions name the same codec. Names are case-insensitive (RFC 8866 §6.6:
// media subtypes). Opus is opus/48000/2 whatever it carries (RFC 7587 §7), but "opus/48000" without
// the /2 is common enough to accept. G.722 is G722/8000 (RFC 3551 §4.5.2); some phones write 16000.
bool same_codec(std::string_view a_name, std::uint32_t a_rate, std::uint8_t a_channels, std::string_view b_name,
                std::uint32_t b_rate, std::uint8_t b_channels) noexcept {
    if (!iequals(a_name, b_name)) return false;
    if (iequals(a_name, "opus")) return a_rate == 48000 && b_rate == 48000;
    if (iequals(a_name, "G722")) return (a_rate == 8000 || a_rate == 16000) && (b_rate == 8000 || b_rate == 16000);
    return a_rate == b_rate && a_channels == b_channels;
}

bool matches(const format& f, const codec& c) noexcept {
    return same_codec(f.encoding, f.clock_rate, f.channels, c.name, c.clock_rate, c.channels);
}
bool matches(const format& a, const format& b) noexcept {
    return same_codec(a.encoding, a.clock_rate, a.channels, b.encoding, b.clock_rate, b.channels);
}

// The local address as written in o= and c=: brackets of an IPv6 reference dropped, and 0.0.0.0 when
// the application does not know it yet (RFC 3264 §8.4 allows that in an offer).
std::string local_address(const local_media& local) {
    std::string_view a = local.address;
    if (a.size() >= 2 && a.front() == '[' && a.back() == ']') a = a.substr(1, a.size() - 2);
    return a.empty() ? std::string("0.0.0.0") : std::string(a);
}

address_type type_of(std::string_view address) noexcept {
    return address.find(':') != std::string_view::npos ? address_type::ip6 : address_type::ip4;
}

session_description skeleton(const local_media& local, std::uint64_t version) {
    session_description d;
    const std::string address = local_address(local);
    const address_type type = type_of(address);
    d.origin.username = local.username.empty() ? std::string("-") : local.username;
    d.origin.session_id = std::to_string(local.session_id);
    d.origin.session_version = version;
    d.origin.network_type = "IN";
    d.origin.address_type = type == address_type::ip6 ? "IP6" : "IP4";
    d.origin.address = address;
    d.name = local.session_name;
    d.connection = connection{type, address, {}};
    d.timings.push_back({});
    return d;
}

format format_of(const codec& c, std::uint8_t pt) {
    format f;
    f.payload_type = pt;
    f.encoding = c.name;
    f.clock_rate = c.clock_rate;
    f.channels = c.channels;
    f.has_rtpmap = true;  // RFC 3264 §5.1: rtpmap for every format, static ones included
    f.fmtp = c.fmtp;
    return f;
}

// A declined copy of an m-line: same media, proto and formats, port 0 (RFC 3264 §6, §8.2).
media declined(const media& m) {
    media out;
    out.type = m.type;
    out.port = 0;
    out.proto = m.proto;
    for (const format& f : m.formats) out.formats.push_back(detail::bare_format(f.payload_type));
    out.other_formats = m.other_formats;
    return out;
}

// Payload type numbers for a new offer: a number bound to the codec earlier in the session, else the
// codec's preferred number, else the first free dynamic one (RFC 3551 §3: 96..127). A number bound to
// another codec is never reused (RFC 3264 §8.3.2).
class payload_types {
public:
    explicit payload_types(const std::vector<binding>& bound) : bound_(bound) {}

    std::optional<std::uint8_t> assign(const codec& c) {
        for (const binding& b : bound_)
            if (b.payload_type <= 127 && !used_[b.payload_type] &&
                same_codec(b.name, b.clock_rate, b.channels, c.name, c.clock_rate, c.channels))
                return take(b.payload_type);
        if (c.payload_type <= 127 && !used_[c.payload_type] && !bound_elsewhere(c.payload_type, c) &&
            fits(c.payload_type, c))
            return take(c.payload_type);
        for (std::uint8_t pt = 96; pt <= 127; ++pt)
            if (!used_[pt] && !bound_elsewhere(pt, c)) return take(pt);
        return std::nullopt;
    }

private:
    std::uint8_t take(std::uint8_t pt) {
        used_[pt] = true;
        return pt;
    }
    bool bound_elsewhere(std::uint8_t pt, const codec& c) const {
        for (const binding& b : bound_)
            if (b.payload_type == pt && !same_codec(b.name, b.clock_rate, b.channels, c.name, c.clock_rate, c.channels))
                return true;
        return false;
    }
    // Below 96 only the codec's own static number (RFC 3551 §6).
    static bool fits(std::uint8_t pt, const codec& c) {
        if (pt >= 96) return true;
        std::string_view name;
        std::uint32_t rate = 0;
        std::uint8_t channels = 1;
        return static_payload_type(pt, name, rate, channels) && same_codec(name, rate, channels, c.name, c.clock_rate, c.channels);
    }

    const std::vector<binding>& bound_;
    std::array<bool, 128> used_{};
};

media offer_media(const local_media& local, const std::vector<binding>& bound) {
    media m;
    m.type = "audio";
    m.port = local.port;
    m.proto = "RTP/AVP";
    payload_types pts(bound);
    bool opus_offered = false;
    const auto add = [&](const codec& c) {
        for (const format& f : m.formats)
            if (matches(f, c)) return;  // listed twice by the application
        if (const auto pt = pts.assign(c)) {
            m.formats.push_back(format_of(c, *pt));
            opus_offered = opus_offered || iequals(c.name, "opus");
        }
    };
    for (const codec& c : local.codecs)
        if (!is_telephone_event(c.name)) add(c);
    if (local.telephone_event) {
        // RFC 4733 §2.4.1: events run on the clock of the audio they accompany; Opus needs /48000.
        add(telephone_event(8000));
        if (opus_offered) add(telephone_event(48000));
    }
    m.ptime = local.ptime;
    m.maxptime = local.maxptime;
    m.direction = local.direction;  // explicit even for sendrecv: some PBXs read only what is written
    m.rtcp_mux = local.rtcp_mux;
    return m;
}

// The peer's ptime for m: its own a=ptime, else a session-level one (not in RFC 8866 but sent by some
// gateways), else 20 ms (RFC 3551 §4.2).
std::uint32_t ptime_of(const session_description& d, const media& m) {
    if (m.ptime != 0) return m.ptime;
    for (const attribute& a : d.attributes) {
        std::uint32_t ms = 0;
        if (iequals(a.name, "ptime") && detail::parse_number(a.value.substr(0, a.value.find('.')), ms) && ms != 0)
            return ms;
    }
    return 20;
}

// The telephone-event format of m for audio at `rate`: the same rate, else 8000, else the first.
const format* pick_telephone_event(const media& m, std::uint32_t rate) {
    const format* at_8000 = nullptr;
    const format* first = nullptr;
    for (const format& f : m.formats) {
        if (!is_telephone_event(f.encoding)) continue;
        if (f.clock_rate == rate) return &f;
        if (!at_8000 && f.clock_rate == 8000) at_8000 = &f;
        if (!first) first = &f;
    }
    return at_8000 ? at_8000 : first;
}

// Where the peer's RTP and RTCP go, and what its description says about direction.
void fill_remote(negotiated& n, const session_description& d, const media& m, const connection& c, bool rtcp_mux) {
    n.remote_address = c.address;
    n.remote_address_type = c.type;
    n.remote_port = m.port;
    n.rtcp_mux = rtcp_mux;
    n.remote_rtcp_address = c.address;
    if (rtcp_mux) {
        n.remote_rtcp_port = m.port;  // RFC 5761 §5.1.1: RTCP on the RTP port
    } else if (m.rtcp) {
        n.remote_rtcp_port = m.rtcp->port;  // RFC 3605 §2.1
        if (m.rtcp->connection) n.remote_rtcp_address = m.rtcp->connection->address;
    } else {
        // RFC 3550 §11: the next higher (odd) port. 65535 has none; nobody sends RTP from there.
        n.remote_rtcp_port = m.port < 65535 ? static_cast<std::uint16_t>(m.port + 1) : m.port;
    }
    n.ptime = ptime_of(d, m);
    n.maxptime = m.maxptime;
}

// The peer's direction as it affects us: c=0.0.0.0 means "send nothing to me" (RFC 3264 §8.4).
direction effective_direction(const session_description& d, const media& m, const connection& c) {
    const direction dir = d.direction_of(m);
    return c.is_null() ? make_direction(sends(dir), false) : dir;
}

// An offered stream we can take: active audio over plain RTP (no SRTP here) with an address.
bool usable(const session_description& offer, const media& m) {
    return iequals(m.type, "audio") && m.port != 0 && (iequals(m.proto, "RTP/AVP") || iequals(m.proto, "RTP/AVPF")) &&
           offer.connection_of(m) != nullptr;
}

struct pick {
    const codec* ours;
    const format* theirs;
};

// Our codecs present in m, in our order of preference; with a negotiation in force on this stream,
// its codec first when still offered, so a re-offer (a session refresh, a hold) does not switch
// codecs for nothing.
std::vector<pick> common_codecs(const media& m, const local_media& local, const negotiated* current, std::size_t index) {
    std::vector<pick> picks;
    for (const codec& c : local.codecs) {
        if (is_telephone_event(c.name)) continue;
        for (const format& f : m.formats) {
            if (is_telephone_event(f.encoding) || !matches(f, c)) continue;
            const bool taken = std::any_of(picks.begin(), picks.end(), [&](const pick& p) { return p.theirs == &f; });
            if (!taken) picks.push_back({&c, &f});
            break;
        }
    }
    if (current && current->media_index == index) {
        const auto it = std::find_if(picks.begin(), picks.end(), [&](const pick& p) {
            return p.theirs->payload_type == current->codec.payload_type &&
                   same_codec(p.ours->name, p.ours->clock_rate, p.ours->channels, current->codec.name,
                              current->codec.clock_rate, current->codec.channels);
        });
        if (it != picks.end()) std::rotate(picks.begin(), it, it + 1);
    }
    return picks;
}

bool has_codec(const local_media& local) {
    return std::any_of(local.codecs.begin(), local.codecs.end(), [](const codec& c) { return !is_telephone_event(c.name); });
}

result<answer_result> answer_offer(const session_description& offer, const local_media& local, const negotiated* current,
                                   std::uint64_t version) {
    if (local.port == 0 || !has_codec(local)) return error{errc::bad_local_media, 0};
    bool any_usable = false;
    std::size_t index = 0;
    std::vector<pick> picks;
    for (std::size_t i = 0; i < offer.media.size() && picks.empty(); ++i) {
        if (!usable(offer, offer.media[i])) continue;
        any_usable = true;
        picks = common_codecs(offer.media[i], local, current, i);
        index = i;
    }
    if (picks.empty()) return error{any_usable ? errc::no_common_codec : errc::no_usable_media, 0};

    const media& om = offer.media[index];
    const connection& rc = *offer.connection_of(om);
    answer_result out;
    out.answer = skeleton(local, version);

    media a;
    a.type = om.type;
    a.port = local.port;
    a.proto = om.proto;
    // An offer listing one number twice (for two codecs) cannot be answered with both: one rtpmap per
    // number. The first use of a number wins.
    std::array<bool, 128> used{};
    const std::size_t count = local.answer_all_common_codecs ? picks.size() : 1;
    for (std::size_t k = 0; k < count; ++k) {
        if (used[picks[k].theirs->payload_type]) continue;
        used[picks[k].theirs->payload_type] = true;
        // Their number and their rtpmap (RFC 3264 §6.1), our fmtp: what we want to receive.
        format f = *picks[k].theirs;
        f.has_rtpmap = true;
        f.fmtp = picks[k].ours->fmtp;
        a.formats.push_back(std::move(f));
    }
    const codec& chosen = *picks.front().ours;
    const format& chosen_format = *picks.front().theirs;
    const format* te = local.telephone_event ? pick_telephone_event(om, chosen_format.clock_rate) : nullptr;
    if (te && used[te->payload_type]) te = nullptr;
    if (te) {
        format f = *te;
        f.has_rtpmap = true;
        f.fmtp = telephone_event(te->clock_rate).fmtp;
        a.formats.push_back(std::move(f));
    }
    // RFC 3264 §6.1: sendonly is answered recvonly (or inactive), recvonly sendonly, inactive inactive;
    // sendrecv leaves the choice to us, and our own direction (hold) narrows it further.
    const direction theirs = effective_direction(offer, om, rc);
    const direction ours =
        make_direction(sends(local.direction) && receives(theirs), receives(local.direction) && sends(theirs));
    a.direction = ours;
    a.ptime = local.ptime;
    a.maxptime = local.maxptime;
    a.rtcp_mux = local.rtcp_mux && om.rtcp_mux;  // RFC 5761 §5.1.1: only when offered

    for (std::size_t i = 0; i < offer.media.size(); ++i)
        out.answer.media.push_back(i == index ? a : declined(offer.media[i]));

    negotiated& n = out.result;
    n.media_index = index;
    fill_remote(n, offer, om, rc, a.rtcp_mux);
    n.codec = codec{chosen.name, chosen.clock_rate, chosen.channels, chosen_format.payload_type, chosen_format.fmtp};
    n.receive_payload_type = chosen_format.payload_type;  // we answered with their number
    n.local_fmtp = chosen.fmtp;
    if (te) {
        n.telephone_event = te->payload_type;
        n.receive_telephone_event = te->payload_type;
        n.telephone_event_rate = te->clock_rate;
    }
    n.direction = ours;
    n.remote_hold = !receives(theirs);
    n.local_port = local.port;
    return out;
}

result<negotiated> read_answer(const session_description& offer, const session_description& answer) {
    // RFC 3264 §6: one answer m-line per offer m-line, in order.
    if (answer.media.size() != offer.media.size()) return error{errc::answer_mismatch, 0};
    std::size_t index = offer.media.size();
    for (std::size_t i = 0; i < offer.media.size() && index == offer.media.size(); ++i)
        if (iequals(offer.media[i].type, "audio") && offer.media[i].port != 0 && offer.media[i].is_rtp()) index = i;
    if (index == offer.media.size()) return error{errc::no_usable_media, 0};
    const media& om = offer.media[index];
    const media& am = answer.media[index];
    if (!iequals(am.type, om.type)) return error{errc::answer_mismatch, 0};
    if (am.port == 0) return error{errc::media_rejected, 0};
    const connection* rc = answer.connection_of(am);
    if (!rc) return error{errc::answer_mismatch, 0};

    // The answerer lists what it prefers first (RFC 3264 §6.1); take the first we offered.
    const format* theirs = nullptr;
    const format* ours = nullptr;
    for (const format& f : am.formats) {
        if (is_telephone_event(f.encoding)) continue;
        for (const format& o : om.formats) {
            if (!is_telephone_event(o.encoding) && matches(f, o)) {
                theirs = &f;
                ours = &o;
                break;
            }
        }
        if (theirs) break;
    }
    if (!theirs) return error{errc::no_common_codec, 0};

    negotiated n;
    n.media_index = index;
    fill_remote(n, answer, am, *rc, om.rtcp_mux && am.rtcp_mux);
    n.codec = codec{ours->encoding, ours->clock_rate, ours->channels, theirs->payload_type, theirs->fmtp};
    n.receive_payload_type = ours->payload_type;  // numbers are what their author receives (RFC 3264 §5.1)
    n.local_fmtp = ours->fmtp;
    if (const format* te = pick_telephone_event(am, ours->clock_rate)) {
        for (const format& o : om.formats) {
            if (is_telephone_event(o.encoding) && o.clock_rate == te->clock_rate) {
                n.telephone_event = te->payload_type;
                n.receive_telephone_event = o.payload_type;
                n.telephone_event_rate = te->clock_rate;
                break;
            }
        }
    }
    const direction offered = offer.direction_of(om);
    const direction answered = effective_direction(answer, am, *rc);
    n.direction = make_direction(sends(offered) && receives(answered), receives(offered) && sends(answered));
    n.remote_hold = !receives(answered);
    n.local_port = om.port;
    return n;
}

}  // namespace

codec pcmu() { return {"PCMU", 8000, 1, 0, {}}; }
codec pcma() { return {"PCMA", 8000, 1, 8, {}}; }
codec g722() { return {"G722", 8000, 1, 9, {}}; }

codec opus(std::uint32_t max_playback_rate) {
    // RFC 7587 §6.1: useinbandfec=1 asks the sender for in-band FEC, maxplaybackrate caps the audio
    // bandwidth it spends bits on, stereo=0 says we want mono.
    return {"opus", 48000, 2, 111, "useinbandfec=1;maxplaybackrate=" + std::to_string(max_playback_rate) + ";stereo=0"};
}

codec telephone_event(std::uint32_t clock_rate) {
    // RFC 4733 §2.4.1: the events we take, 0-9 * # A-D (0-15) and flash (16).
    const std::uint8_t pt = clock_rate == 8000 ? 101 : clock_rate == 48000 ? 110 : 102;
    return {"telephone-event", clock_rate, 1, pt, "0-16"};
}

session_description build_offer(const local_media& local, std::uint64_t version) {
    session_description d = skeleton(local, version);
    d.media.push_back(offer_media(local, {}));
    return d;
}

result<answer_result> build_answer(const session_description& offer, const local_media& local, std::uint64_t version) {
    return answer_offer(offer, local, nullptr, version);
}

result<negotiated> process_answer(const session_description& our_offer, const session_description& answer) {
    return read_answer(our_offer, answer);
}

offer_answer::offer_answer(local_media local) : local_(std::move(local)) {}

session_description offer_answer::stamp(session_description d) {
    if (last_local_) {
        // RFC 3264 §8: o= stays as it was except the version, which grows by one exactly when the
        // description changed (even when only our address did: o= keeps the first address).
        d.origin = last_local_->origin;
        if (!(d == *last_local_)) ++d.origin.session_version;
    } else {
        d.origin.session_version = 1;
    }
    last_local_ = d;
    return d;
}

void offer_answer::learn(const session_description& d) {
    for (const media& m : d.media) {
        if (!iequals(m.type, "audio") || !m.is_rtp()) continue;
        for (const format& f : m.formats) {
            if (f.encoding.empty() || f.clock_rate == 0) continue;
            const bool bound = std::any_of(bindings_.begin(), bindings_.end(),
                                           [&](const binding& b) { return b.payload_type == f.payload_type; });
            if (!bound) bindings_.push_back({f.payload_type, f.encoding, f.clock_rate, f.channels});
        }
    }
}

session_description offer_answer::create_offer() {
    session_description d = skeleton(local_, 1);
    media audio = offer_media(local_, bindings_);
    if (current_ && last_local_) {
        // RFC 3264 §8: every m-line of the session stays, in place; those not in use stay declined.
        const std::vector<media>& previous = last_local_->media;
        for (std::size_t i = 0; i < previous.size(); ++i) {
            if (i == current_->media_index) {
                audio.type = previous[i].type;
                if (previous[i].port != 0) audio.proto = previous[i].proto;  // keep RTP/AVPF if that was agreed
                d.media.push_back(audio);
            } else {
                d.media.push_back(declined(previous[i]));
            }
        }
        if (current_->media_index >= previous.size()) d.media.push_back(std::move(audio));
    } else {
        d.media.push_back(std::move(audio));
    }
    d = stamp(std::move(d));
    learn(d);
    pending_ = d;
    return d;
}

result<negotiated> offer_answer::receive_answer(const session_description& answer) {
    if (!pending_) return error{errc::no_offer_pending, 0};
    const session_description offer = std::move(*pending_);
    pending_.reset();
    auto r = read_answer(offer, answer);
    if (!r) return r;
    learn(answer);
    current_ = *r;
    last_remote_ = answer;
    return r;
}

void offer_answer::cancel_offer() noexcept { pending_.reset(); }

result<session_description> offer_answer::receive_offer(const session_description& offer) {
    if (pending_) return error{errc::offer_pending, 0};
    auto r = answer_offer(offer, local_, current(), 1);
    if (!r) return r.error();
    learn(offer);
    session_description d = stamp(std::move(r->answer));
    current_ = std::move(r->result);
    last_remote_ = offer;
    return d;
}

}  // namespace sipvoice::sdp
