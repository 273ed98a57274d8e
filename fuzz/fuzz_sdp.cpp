// fuzz_sdp: the SDP parser, the serializer and offer/answer (sdp/).
//
// Properties beyond "no crash, no UB, no leak":
//  - a parse failure names a line of the input (1 .. number of lines + 1);
//  - round trip: parse(serialize(d)) succeeds and == d, and serializing that gives the same bytes;
//  - answering d as an offer (two sets of preferences) either fails with a negotiation error or gives
//    an answer with one m-line per offered m-line, our port on the chosen one and 0 on the others,
//    that re-parses to itself, with a codec of ours; the offerer reading that answer agrees on the
//    codec and sees the reverse direction;
//  - reading d as the answer to our offer never crashes, and a success names a codec we offered;
//  - an offer_answer session answering d and then re-offering writes valid SDP that keeps every m-line
//    and moves the o= version by at most one.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.hpp"
#include "sipvoice/sdp/offer_answer.hpp"

namespace {

namespace sdp = sipvoice::sdp;
using sipvoice::fuzz::touch;
using sipvoice::fuzz::use;

sdp::local_media preferences(bool opus_first) {
    sdp::local_media l;
    l.address = opus_first ? "2001:db8::5" : "203.0.113.5";
    l.port = 40000;
    l.session_id = 42;
    if (opus_first) {
        l.codecs = {sdp::opus(16000), sdp::g722(), sdp::pcma(), sdp::pcmu()};
        l.rtcp_mux = true;
        l.answer_all_common_codecs = true;
        l.direction = sdp::direction::sendonly;
    }
    return l;
}

bool ours(const sdp::local_media& l, const sdp::codec& c) {
    for (const sdp::codec& mine : l.codecs)
        if (mine.name == c.name && mine.clock_rate == c.clock_rate && mine.channels == c.channels) return true;
    return false;
}

void walk(const sdp::session_description& d) {
    touch(d.origin.session_id);
    touch(d.name);
    for (const sdp::attribute& a : d.attributes) touch(a.value);
    for (const sdp::media& m : d.media) {
        use(m.is_rtp());
        const sdp::direction dir = d.direction_of(m);
        if (m.direction) FUZZ_CHECK(dir == *m.direction);
        const sdp::connection* c = d.connection_of(m);
        if (m.port != 0) FUZZ_CHECK(c != nullptr);  // the parser requires an address for active streams
        if (c) use(c->is_null());
        FUZZ_CHECK(m.formats.size() + m.other_formats.size() <= sdp::max_formats);
        if (!m.is_rtp()) FUZZ_CHECK(m.formats.empty());
        for (const sdp::format& f : m.formats) {
            FUZZ_CHECK(f.payload_type <= 127);
            FUZZ_CHECK(m.find_format(f.payload_type) != nullptr);
            touch(f.fmtp);
            touch(sdp::fmtp_parameter(f.fmtp, "maxplaybackrate").value_or(""));
        }
        for (const sdp::attribute& a : m.attributes) FUZZ_CHECK(m.find_attribute(a.name) != nullptr);
    }
    FUZZ_CHECK(d.media.size() <= sdp::max_media);
    FUZZ_CHECK(!d.timings.empty());
}

sdp::session_description reparse(const sdp::session_description& d) {
    const std::string text = sdp::serialize(d);
    auto again = sdp::parse(text);
    if (!again) std::fprintf(stderr, "--- re-parse failed at line %u: %s\n%s---\n", again.error().line,
                             std::string(again.error().what()).c_str(), text.c_str());
    FUZZ_CHECK(again.has_value());
    if (!(*again == d)) std::fprintf(stderr, "--- round trip differs:\n%s---\n", text.c_str());
    FUZZ_CHECK(*again == d);
    FUZZ_CHECK(sdp::serialize(*again) == text);
    return *again;
}

bool is_audio(std::string_view type) {
    if (type.size() != 5) return false;
    for (std::size_t i = 0; i < 5; ++i)
        if ((type[i] | 0x20) != "audio"[i]) return false;
    return true;
}

// process_answer() reads the first active RTP audio stream of the offer; the answerer may have
// taken a later one (the first was SRTP, or had no codec in common).
bool first_active_audio(const sdp::session_description& offer, std::size_t index) {
    for (std::size_t i = 0; i < index; ++i) {
        const sdp::media& m = offer.media[i];
        if (is_audio(m.type) && m.port != 0 && m.is_rtp()) return false;
    }
    return true;
}

void answer_it(const sdp::session_description& offer, bool opus_first) {
    const sdp::local_media me = preferences(opus_first);
    auto r = sdp::build_answer(offer, me);
    if (!r) {
        const sdp::errc e = r.error().code;
        FUZZ_CHECK(e == sdp::errc::no_common_codec || e == sdp::errc::no_usable_media);
        FUZZ_CHECK(sdp::sip_status(e) == 488);
        return;
    }
    const sdp::session_description& answer = r->answer;
    const sdp::negotiated& n = r->result;
    FUZZ_CHECK(answer.media.size() == offer.media.size());
    FUZZ_CHECK(n.media_index < answer.media.size());
    for (std::size_t i = 0; i < answer.media.size(); ++i)
        FUZZ_CHECK(answer.media[i].port == (i == n.media_index ? me.port : 0));
    FUZZ_CHECK(ours(me, n.codec));
    FUZZ_CHECK(n.remote_port == offer.media[n.media_index].port);
    const sdp::session_description seen = reparse(answer);
    if (first_active_audio(offer, n.media_index)) {
        auto back = sdp::process_answer(offer, seen);
        FUZZ_CHECK(back.has_value());
        FUZZ_CHECK(back->codec.payload_type == n.codec.payload_type);
        FUZZ_CHECK(back->direction == sdp::reverse(n.direction));
    }
}

void as_answer(const sdp::session_description& answer) {
    const sdp::local_media me = preferences(true);
    const sdp::session_description offer = sdp::build_offer(me);
    auto r = sdp::process_answer(offer, answer);
    if (r) {
        FUZZ_CHECK(ours(me, r->codec));
        FUZZ_CHECK(offer.media[0].find_format(r->receive_payload_type) != nullptr);
    }
}

void session(const sdp::session_description& offer) {
    sdp::offer_answer oa(preferences(false));
    auto a = oa.receive_offer(offer);
    if (!a) {
        FUZZ_CHECK(oa.current() == nullptr);
        return;
    }
    FUZZ_CHECK(oa.current() != nullptr);
    oa.local().direction = sdp::direction::inactive;
    oa.local().codecs.push_back(sdp::opus());
    const sdp::session_description re = oa.create_offer();
    FUZZ_CHECK(re.media.size() == a->media.size());
    FUZZ_CHECK(re.origin.session_version == a->origin.session_version ||
               re.origin.session_version == a->origin.session_version + 1);
    FUZZ_CHECK(re.origin.session_id == a->origin.session_id);
    reparse(re);
    // The offer read back as its own answer is consistent: the codec we offered first.
    auto self = oa.receive_answer(re);
    use(self.has_value());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input = sipvoice::fuzz::as_text(data, size);
    auto d = sdp::parse(input);
    if (!d) {
        std::size_t lines = 1;
        for (char c : input) lines += c == '\n' ? 1 : 0;
        FUZZ_CHECK(d.error().failed());
        FUZZ_CHECK(d.error().line >= 1 && d.error().line <= lines + 1);
        FUZZ_CHECK(!d.error().what().empty());
        FUZZ_CHECK(sdp::sip_status(d.error().code) == 400);
        return 0;
    }
    walk(*d);
    reparse(*d);
    answer_it(*d, false);
    answer_it(*d, true);
    as_answer(*d);
    session(*d);
    return 0;
}
