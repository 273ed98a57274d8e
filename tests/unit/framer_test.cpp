#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "sipvoice/sip/framer.hpp"
#include "sipvoice/sip/message.hpp"

namespace sip = sipvoice::sip;

namespace {

const std::string options_msg =
    "OPTIONS sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK1\r\n"
    "Call-ID: 1@h\r\n"
    "CSeq: 1 OPTIONS\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

const std::string message_msg =
    "MESSAGE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK2\r\n"
    "Call-ID: 2@h\r\n"
    "CSeq: 2 MESSAGE\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 25\r\n"
    "\r\n"
    "Hello\r\n\r\nWorld, CRLFCRLF!";

const std::string compact_msg =
    "SIP/2.0 200 OK\r\n"
    "v: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK2\r\n"
    "i: 2@h\r\n"
    "l:5\r\n"
    "\r\n"
    "12345";

const std::string lf_only_msg =
    "NOTIFY sip:bob@example.com SIP/2.0\n"
    "Call-ID: 3@h\n"
    "Content-Length: 3\n"
    "\n"
    "abc";

const std::string no_length_msg =
    "BYE sip:bob@example.com SIP/2.0\r\n"
    "Call-ID: 4@h\r\n"
    "\r\n";

std::string all_messages() { return options_msg + message_msg + compact_msg + lf_only_msg + no_length_msg; }
const std::vector<std::string> expected_messages{options_msg, message_msg, compact_msg, lf_only_msg, no_length_msg};

// Drains every event the framer has now; messages' bytes are appended to `messages`.
std::vector<sip::frame_kind> drain(sip::stream_framer& f, std::vector<std::string>& messages) {
    std::vector<sip::frame_kind> kinds;
    for (;;) {
        sip::frame_event ev = f.next();
        if (ev.kind == sip::frame_kind::need_more) break;
        kinds.push_back(ev.kind);
        if (ev.kind == sip::frame_kind::message) messages.push_back(std::move(ev.bytes));
        if (ev.kind == sip::frame_kind::error) break;
    }
    return kinds;
}

std::vector<std::string> feed_in_chunks(std::string_view stream, const std::vector<std::size_t>& sizes) {
    sip::stream_framer f;
    std::vector<std::string> messages;
    std::size_t at = 0;
    for (std::size_t i = 0; at < stream.size(); ++i) {
        const std::size_t n = std::min(sizes[i % sizes.size()], stream.size() - at);
        f.feed(stream.substr(at, n));
        at += n;
        const auto kinds = drain(f, messages);
        for (auto k : kinds) REQUIRE(k == sip::frame_kind::message);
    }
    CHECK(f.buffered() == 0);
    CHECK_FALSE(f.failed());
    return messages;
}

sip::frame_event next_after(sip::stream_framer& f, std::string_view bytes) {
    f.feed(bytes);
    return f.next();
}

}  // namespace

TEST_CASE("framer: one message in one chunk", "[sip][framer]") {
    sip::stream_framer f;
    f.feed(options_msg);
    CHECK(f.buffered() == options_msg.size());
    sip::frame_event ev = f.next();
    REQUIRE(ev.kind == sip::frame_kind::message);
    CHECK(ev.bytes == options_msg);
    CHECK_FALSE(ev.error.failed());
    CHECK(f.buffered() == 0);
    CHECK(f.next().kind == sip::frame_kind::need_more);

    // The framed bytes parse as a stream message.
    sip::parse_options stream;
    stream.transport = sip::transport_kind::stream;
    auto m = sip::message::parse(std::move(ev.bytes), stream);
    REQUIRE(m.has_value());
    CHECK(m->method() == sip::method::options);
    CHECK(m->cseq()->number == 1);
}

TEST_CASE("framer: pipelined messages in one chunk", "[sip][framer]") {
    sip::stream_framer f;
    f.feed(all_messages());
    std::vector<std::string> messages;
    const auto kinds = drain(f, messages);
    CHECK(kinds == std::vector<sip::frame_kind>(expected_messages.size(), sip::frame_kind::message));
    CHECK(messages == expected_messages);
    CHECK(f.buffered() == 0);
}

TEST_CASE("framer: one byte at a time gives the same messages", "[sip][framer]") {
    CHECK(feed_in_chunks(all_messages(), {1}) == expected_messages);
}

TEST_CASE("framer: split at every byte boundary", "[sip][framer]") {
    const std::string stream = message_msg + compact_msg + options_msg;
    const std::vector<std::string> expected{message_msg, compact_msg, options_msg};
    for (std::size_t split = 1; split < stream.size(); ++split) {
        INFO("split at " << split);
        sip::stream_framer f;
        std::vector<std::string> messages;
        f.feed(std::string_view(stream).substr(0, split));
        for (auto k : drain(f, messages)) REQUIRE(k == sip::frame_kind::message);
        f.feed(std::string_view(stream).substr(split));
        for (auto k : drain(f, messages)) REQUIRE(k == sip::frame_kind::message);
        CHECK(messages == expected);
        CHECK(f.buffered() == 0);
    }
}

TEST_CASE("framer: random chunk sizes with a fixed seed", "[sip][framer]") {
    std::mt19937 rng(20240229);
    std::uniform_int_distribution<std::size_t> size(1, 97);
    std::string stream;
    std::vector<std::string> expected;
    for (int round = 0; round < 20; ++round)
        for (const std::string& m : expected_messages) {
            stream += m;
            expected.push_back(m);
        }
    for (int trial = 0; trial < 25; ++trial) {
        std::vector<std::size_t> sizes(64);
        for (auto& s : sizes) s = size(rng);
        INFO("trial " << trial);
        CHECK(feed_in_chunks(stream, sizes) == expected);
    }
}

TEST_CASE("framer: body arriving in several chunks", "[sip][framer]") {
    sip::stream_framer f;
    const std::size_t header_len = message_msg.find("\r\n\r\n") + 4;
    CHECK(next_after(f, message_msg.substr(0, header_len)).kind == sip::frame_kind::need_more);
    CHECK(next_after(f, message_msg.substr(header_len, 10)).kind == sip::frame_kind::need_more);
    CHECK(f.buffered() == header_len + 10);
    const sip::frame_event ev = next_after(f, message_msg.substr(header_len + 10) + "OPT");
    REQUIRE(ev.kind == sip::frame_kind::message);
    CHECK(ev.bytes == message_msg);
    CHECK(f.buffered() == 3);
    CHECK(f.next().kind == sip::frame_kind::need_more);
}

TEST_CASE("framer: compact l: and missing Content-Length", "[sip][framer]") {
    sip::stream_framer f;
    sip::frame_event ev = next_after(f, compact_msg);
    REQUIRE(ev.kind == sip::frame_kind::message);
    CHECK(ev.bytes.substr(ev.bytes.size() - 5) == "12345");
    // No Content-Length: the message ends with its header section; what follows is the next message.
    ev = next_after(f, no_length_msg + "BODY?");
    REQUIRE(ev.kind == sip::frame_kind::message);
    CHECK(ev.bytes == no_length_msg);
    CHECK(f.buffered() == 5);
}

TEST_CASE("framer: CRLF keep-alives (RFC 5626 §4.4.1)", "[sip][framer]") {
    SECTION("ping") {
        sip::stream_framer f;
        const sip::frame_event ev = next_after(f, "\r\n\r\n");
        CHECK(ev.kind == sip::frame_kind::ping);
        CHECK(ev.bytes.empty());
        CHECK(f.buffered() == 0);
        CHECK(f.next().kind == sip::frame_kind::need_more);
    }
    SECTION("pong") {
        sip::stream_framer f;
        CHECK(next_after(f, "\r\n").kind == sip::frame_kind::pong);
        CHECK(f.buffered() == 0);
        CHECK(f.next().kind == sip::frame_kind::need_more);
    }
    SECTION("ping, pong and messages interleaved in one chunk") {
        sip::stream_framer f;
        f.feed("\r\n\r\n" + options_msg + "\r\n" + compact_msg + "\r\n\r\n\r\n");
        std::vector<std::string> messages;
        const auto kinds = drain(f, messages);
        CHECK(kinds == std::vector<sip::frame_kind>{sip::frame_kind::ping, sip::frame_kind::message,
                                                    sip::frame_kind::pong, sip::frame_kind::message,
                                                    sip::frame_kind::ping, sip::frame_kind::pong});
        CHECK(messages == std::vector<std::string>{options_msg, compact_msg});
        CHECK(f.buffered() == 0);
    }
    SECTION("a CR alone waits for its LF") {
        sip::stream_framer f;
        CHECK(next_after(f, "\r").kind == sip::frame_kind::need_more);
        CHECK(f.buffered() == 1);
        CHECK(next_after(f, "\n\r\n").kind == sip::frame_kind::ping);
    }
    SECTION("three bytes of a ping wait for the fourth") {
        sip::stream_framer f;
        CHECK(next_after(f, "\r\n\r").kind == sip::frame_kind::need_more);
        CHECK(next_after(f, "\n").kind == sip::frame_kind::ping);
    }
}

TEST_CASE("framer: header section over the limit", "[sip][framer]") {
    sip::framer_limits limits;
    limits.max_header_bytes = 100;
    SECTION("unterminated and too long") {
        sip::stream_framer f(limits);
        std::string big = "OPTIONS sip:a@b SIP/2.0\r\nX-Long: " + std::string(200, 'x');
        sip::frame_event ev = next_after(f, big);
        REQUIRE(ev.kind == sip::frame_kind::error);
        CHECK(ev.error.code == sip::errc::header_too_large);
        CHECK(f.failed());
        // The stream cannot recover: more bytes, even a valid message, still give the error.
        f.feed("\r\n\r\n" + options_msg);
        ev = f.next();
        CHECK(ev.kind == sip::frame_kind::error);
        CHECK(ev.error.code == sip::errc::header_too_large);
        CHECK(f.failed());
        f.reset();
        CHECK_FALSE(f.failed());
        CHECK(f.buffered() == 0);
        std::string small = "OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\n\r\n";
        ev = next_after(f, small);
        CHECK(ev.kind == sip::frame_kind::message);
        CHECK(ev.bytes == small);
    }
    SECTION("terminated but too long") {
        sip::stream_framer f(limits);
        const std::string head = "OPTIONS sip:a@b SIP/2.0\r\nX: " + std::string(100, 'y') + "\r\n\r\n";
        const sip::frame_event ev = next_after(f, head);
        REQUIRE(ev.kind == sip::frame_kind::error);
        CHECK(ev.error.code == sip::errc::header_too_large);
    }
    SECTION("exactly at the limit") {
        std::string head = "OPTIONS sip:a@b SIP/2.0\r\nX: ";
        head += std::string(100 - head.size() - 4, 'z') + "\r\n\r\n";
        REQUIRE(head.size() == 100);
        sip::stream_framer f(limits);
        CHECK(next_after(f, head).kind == sip::frame_kind::message);
        head.insert(30, "z");
        sip::stream_framer g(limits);
        CHECK(next_after(g, head).kind == sip::frame_kind::error);
    }
}

TEST_CASE("framer: body over the limit", "[sip][framer]") {
    sip::framer_limits limits;
    limits.max_body_bytes = 10;
    sip::stream_framer ok(limits);
    const sip::frame_event fits = next_after(ok, "MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 10\r\n\r\n0123456789");
    CHECK(fits.kind == sip::frame_kind::message);
    sip::stream_framer f(limits);
    // The error comes as soon as the header section is there, before the body.
    const sip::frame_event ev = next_after(f, "MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 11\r\n\r\n");
    REQUIRE(ev.kind == sip::frame_kind::error);
    CHECK(ev.error.code == sip::errc::body_too_large);
    CHECK(f.failed());
    CHECK(next_after(f, "01234567890").kind == sip::frame_kind::error);
}

TEST_CASE("framer: invalid or conflicting Content-Length", "[sip][framer]") {
    for (std::string_view head : {
             "MESSAGE sip:a@b SIP/2.0\r\nContent-Length: abc\r\n\r\n",
             "MESSAGE sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n",
             "MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 99999999999\r\n\r\n",
             "MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 5\r\nl: 6\r\n\r\n",
             "MESSAGE sip:a@b SIP/2.0\r\nl:\r\n\r\n",
         }) {
        INFO(head);
        sip::stream_framer f;
        const sip::frame_event ev = next_after(f, head);
        REQUIRE(ev.kind == sip::frame_kind::error);
        CHECK(ev.error.code == sip::errc::bad_content_length);
        CHECK(f.failed());
    }
    sip::stream_framer same;
    const sip::frame_event ev = next_after(same, "MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 2\r\nl: 2\r\n\r\nab");
    REQUIRE(ev.kind == sip::frame_kind::message);
    CHECK(ev.bytes.substr(ev.bytes.size() - 2) == "ab");
    sip::stream_framer spaced;
    CHECK(next_after(spaced, "MESSAGE sip:a@b SIP/2.0\r\ncontent-length :  2 \r\n\r\nab").kind == sip::frame_kind::message);
}

TEST_CASE("framer: require_content_length", "[sip][framer]") {
    sip::framer_limits limits;
    limits.require_content_length = true;
    sip::stream_framer strict(limits);
    const sip::frame_event ev = next_after(strict, no_length_msg);
    REQUIRE(ev.kind == sip::frame_kind::error);
    CHECK(ev.error.code == sip::errc::bad_content_length);
    CHECK(strict.failed());
    sip::stream_framer strict_ok(limits);
    CHECK(next_after(strict_ok, options_msg).kind == sip::frame_kind::message);
    CHECK(next_after(strict_ok, compact_msg).kind == sip::frame_kind::message);
}

TEST_CASE("framer: a folded line is not a Content-Length header", "[sip][framer]") {
    // RFC 3261 §7.3.1: a continuation line belongs to the header above it, even when it reads like
    // "Content-Length: 99" (a regression test for a framer that looked at physical lines).
    const std::string msg =
        "MESSAGE sip:a@b SIP/2.0\r\n"
        "Subject: hello\r\n"
        " Content-Length: 99\r\n"
        "Content-Length: 2\r\n"
        "\r\n"
        "ab";
    sip::stream_framer f;
    const sip::frame_event ev = next_after(f, msg);
    CHECK(ev.kind == sip::frame_kind::message);
    CHECK(ev.bytes == msg);
}

TEST_CASE("framer: a folded Content-Length value is read", "[sip][framer]") {
    // "Content-Length:" CRLF SP "2" is legal LWS after HCOLON; the framer must read it as the message
    // parser does (regression test).
    const std::string msg = "MESSAGE sip:a@b SIP/2.0\r\nContent-Length:\r\n 2\r\n\r\nab";
    sip::parse_options stream;
    stream.transport = sip::transport_kind::stream;
    auto parsed = sip::message::parse(msg, stream);
    REQUIRE(parsed.has_value());
    CHECK(parsed->body() == "ab");
    sip::stream_framer f;
    const sip::frame_event ev = next_after(f, msg);
    CHECK(ev.kind == sip::frame_kind::message);
    CHECK(ev.bytes == msg);
}

TEST_CASE("framer: a stray CR cannot make the buffer grow without limit", "[sip][framer]") {
    // Data starting with '\r' not followed by '\n' is an error at once, not need_more forever with a
    // buffer growing past the header limit (regression test).
    sip::framer_limits limits;
    limits.max_header_bytes = 1024;
    sip::stream_framer f(limits);
    f.feed("\r");
    f.feed(std::string(4096, 'A'));
    const sip::frame_event ev = f.next();
    CHECK(ev.kind == sip::frame_kind::error);
    CHECK(f.failed());
}
