#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "sipvoice/sip/builder.hpp"
#include "sipvoice/sip/message.hpp"

namespace sip = sipvoice::sip;

namespace {

sip::message must_parse(std::string bytes) {
    INFO(bytes);
    auto r = sip::message::parse(std::move(bytes));
    if (!r) INFO("error " << r.error().what() << " at " << r.error().line << ":" << r.error().column);
    REQUIRE(r.has_value());
    return std::move(*r);
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in.good());
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::size_t occurrences(std::string_view haystack, std::string_view needle) {
    std::size_t n = 0;
    for (std::size_t at = haystack.find(needle); at != std::string_view::npos; at = haystack.find(needle, at + 1)) ++n;
    return n;
}

const std::string invite =
    "INVITE sip:bob@biloxi.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8, SIP/2.0/UDP p1.example.com;branch=z9hG4bK1\r\n"
    "Max-Forwards: 70\r\n"
    "v: SIP/2.0/UDP p2.example.com;branch=z9hG4bK2\r\n"
    "To: Bob <sip:bob@biloxi.com>\r\n"
    "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@pc33.atlanta.com>\r\n"
    "Route: <sip:p3.example.com;lr>\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

}  // namespace

TEST_CASE("message_builder::request writes the canonical wire form", "[sip][builder]") {
    const std::string wire = sip::message_builder::request("OPTIONS", "sip:alice@example.com")
                                 .add(sip::header_id::via, "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds")
                                 .add(sip::header_id::max_forwards, "70")
                                 .add("X-Custom", "value")
                                 .add("i", "abc@host")
                                 .add("cseq", "1 OPTIONS")
                                 .str();
    CHECK(wire ==
          "OPTIONS sip:alice@example.com SIP/2.0\r\n"
          "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\n"
          "Max-Forwards: 70\r\n"
          "X-Custom: value\r\n"
          "Call-ID: abc@host\r\n"
          "CSeq: 1 OPTIONS\r\n"
          "Content-Length: 0\r\n"
          "\r\n");
    const sip::message m = must_parse(wire);
    CHECK(m.method() == sip::method::options);
    CHECK(m.request_uri().user == "alice");
    CHECK(m.header("X-Custom") == "value");
    CHECK(m.content_length().value() == 0);
}

TEST_CASE("message_builder::response and reason phrases", "[sip][builder]") {
    CHECK(sip::message_builder::response(486).str() == "SIP/2.0 486 Busy Here\r\nContent-Length: 0\r\n\r\n");
    CHECK(sip::message_builder::response(200, "Fine").str() == "SIP/2.0 200 Fine\r\nContent-Length: 0\r\n\r\n");
    CHECK(sip::message_builder::response(299).str() == "SIP/2.0 299 \r\nContent-Length: 0\r\n\r\n");
    const sip::message m = must_parse(sip::message_builder::response(183).add("Via", "SIP/2.0/UDP h").str());
    CHECK(m.status() == 183);
    CHECK(m.reason_phrase() == "Session Progress");
}

TEST_CASE("reason_phrase", "[sip][builder]") {
    const std::pair<int, std::string_view> rows[] = {
        {100, "Trying"},          {180, "Ringing"},           {183, "Session Progress"},
        {200, "OK"},              {202, "Accepted"},          {302, "Moved Temporarily"},
        {400, "Bad Request"},     {401, "Unauthorized"},      {403, "Forbidden"},
        {404, "Not Found"},       {405, "Method Not Allowed"}, {406, "Not Acceptable"},
        {407, "Proxy Authentication Required"}, {408, "Request Timeout"}, {415, "Unsupported Media Type"},
        {416, "Unsupported URI Scheme"}, {420, "Bad Extension"}, {421, "Extension Required"},
        {422, "Session Interval Too Small"}, {423, "Interval Too Brief"}, {481, "Call/Transaction Does Not Exist"},
        {483, "Too Many Hops"},   {486, "Busy Here"},         {487, "Request Terminated"},
        {488, "Not Acceptable Here"}, {500, "Server Internal Error"}, {501, "Not Implemented"},
        {503, "Service Unavailable"}, {505, "Version Not Supported"}, {600, "Busy Everywhere"},
        {603, "Decline"},         {606, "Not Acceptable"},
    };
    for (const auto& [code, phrase] : rows) {
        INFO(code);
        CHECK(sip::reason_phrase(code) == phrase);
    }
    for (int unknown : {0, 99, 299, 418, 499, 700, 1000, -1}) {
        INFO(unknown);
        CHECK(sip::reason_phrase(unknown).empty());
    }
}

TEST_CASE("Content-Length always matches the body", "[sip][builder]") {
    const std::string sdp = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n";
    auto b = sip::message_builder::request("INVITE", "sip:bob@example.com");
    b.add(sip::header_id::content_length, "999");  // ignored: derived from the body
    b.add("l", "5");
    b.add(sip::header_id::content_type, "text/plain");
    b.body("application/sdp", sdp);
    const std::string wire = b.str();
    CHECK(occurrences(wire, "Content-Length:") == 1);
    CHECK(occurrences(wire, "Content-Type:") == 1);
    CHECK(wire.find("999") == std::string::npos);
    CHECK(wire.substr(wire.size() - sdp.size()) == sdp);
    CHECK(wire.find("Content-Type: application/sdp\r\nContent-Length: " + std::to_string(sdp.size()) + "\r\n\r\n") !=
          std::string::npos);
    const sip::message m = must_parse(wire);
    CHECK(m.body() == sdp);
    CHECK(m.content_length().value() == sdp.size());
    CHECK(m.content_type()->subtype == "sdp");
    CHECK(m.trailing_bytes() == 0);

    // Content-Type set through add() without a body is still written.
    const std::string ct_only = sip::message_builder::request("MESSAGE", "sip:a@b").add("c", "text/plain").str();
    CHECK(ct_only == "MESSAGE sip:a@b SIP/2.0\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n");

    // A binary body with NULs and CRLFs.
    const std::string binary("a\0b\r\n\r\nc", 8);
    const sip::message bin = must_parse(sip::message_builder::request("MESSAGE", "sip:a@b")
                                            .body("application/octet-stream", binary)
                                            .str());
    CHECK(bin.body() == binary);
}

TEST_CASE("CR and LF in values cannot inject headers", "[sip][builder]") {
    const std::string wire = sip::message_builder::request("MESSAGE", "sip:a@b")
                                 .add("Subject", "hello\r\nVia: SIP/2.0/UDP evil")
                                 .add(sip::header_id::call_id, "x\ny")
                                 .add("X-Thing", "a\rb")
                                 .str();
    CHECK(wire.find("Subject: hello  Via: SIP/2.0/UDP evil\r\n") != std::string::npos);
    CHECK(wire.find("Call-ID: x y\r\n") != std::string::npos);
    CHECK(wire.find("X-Thing: a b\r\n") != std::string::npos);
    const sip::message m = must_parse(wire);
    CHECK_FALSE(m.has(sip::header_id::via));
    CHECK(m.fields().size() == 4);
    CHECK(m.header(sip::header_id::subject) == "hello  Via: SIP/2.0/UDP evil");
}

TEST_CASE("CR and LF in names, Request-URI and reason cannot inject headers", "[sip][builder]") {
    const std::string req = sip::message_builder::request("MESSAGE", "sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP evil\r\nX:")
                                .add("X-Name\r\nVia", "SIP/2.0/UDP evil2")
                                .str();
    CHECK(occurrences(req, "\r\n") == 4);  // start line, one header, Content-Length, empty line
    CHECK(req.find("\nVia") == std::string::npos);
    const std::string resp = sip::message_builder::response(200, "OK\r\nVia: SIP/2.0/UDP evil").str();
    CHECK(occurrences(resp, "\r\n") == 3);
    CHECK(resp.find("\nVia") == std::string::npos);
}

TEST_CASE("message_builder::response_to copies Via, From, To, Call-ID, CSeq per RFC 3261 §8.2.6.2", "[sip][builder]") {
    const sip::message req = must_parse(invite);
    const std::string wire = sip::message_builder::response_to(req, 180, {}, "a6c85cf").str();
    CHECK(wire ==
          "SIP/2.0 180 Ringing\r\n"
          "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8, SIP/2.0/UDP p1.example.com;branch=z9hG4bK1\r\n"
          "Via: SIP/2.0/UDP p2.example.com;branch=z9hG4bK2\r\n"
          "To: Bob <sip:bob@biloxi.com>;tag=a6c85cf\r\n"
          "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
          "Call-ID: a84b4c76e66710\r\n"
          "CSeq: 314159 INVITE\r\n"
          "Content-Length: 0\r\n"
          "\r\n");
    const sip::message resp = must_parse(wire);
    std::vector<std::string> hosts;
    for (auto v : resp.vias()) hosts.emplace_back(v->host);
    CHECK(hosts == std::vector<std::string>{"pc33.atlanta.com", "p1.example.com", "p2.example.com"});
    CHECK(resp.to()->tag() == "a6c85cf");
    CHECK(resp.from()->tag() == "1928301774");
    CHECK_FALSE(resp.has(sip::header_id::contact));
    CHECK_FALSE(resp.has(sip::header_id::route));
    CHECK_FALSE(resp.has(sip::header_id::max_forwards));

    SECTION("no tag requested: To copied unchanged") {
        const sip::message r = must_parse(sip::message_builder::response_to(req, 100).str());
        CHECK(r.to()->tag().empty());
        CHECK(r.reason_phrase() == "Trying");
        CHECK(r.header(sip::header_id::to) == "Bob <sip:bob@biloxi.com>");
    }
    SECTION("To already tagged: the tag is kept, no second one added") {
        std::string tagged = invite;
        tagged.replace(tagged.find("To: Bob <sip:bob@biloxi.com>"), 28, "t: Bob <sip:bob@biloxi.com>;tag=existing");
        const sip::message in_dialog = must_parse(tagged);
        const std::string out = sip::message_builder::response_to(in_dialog, 200, "OK", "new").str();
        CHECK(out.find("To: Bob <sip:bob@biloxi.com>;tag=existing\r\n") != std::string::npos);
        CHECK(out.find("new") == std::string::npos);
        CHECK(must_parse(out).to()->tag() == "existing");
    }
    SECTION("custom reason and extra headers") {
        const sip::message r = must_parse(sip::message_builder::response_to(req, 486, "Gone Fishing", "t1")
                                              .add("Retry-After", "60")
                                              .str());
        CHECK(r.reason_phrase() == "Gone Fishing");
        CHECK(r.header("Retry-After") == "60");
        CHECK(r.cseq()->number == 314159);
    }
}

TEST_CASE("serialize writes canonical names and one line per header", "[sip][builder]") {
    const sip::message m = must_parse(
        "MESSAGE sip:a@b SIP/2.0\r\n"
        "v:SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
        "i:   abc  \r\n"
        "call-info: <http://x>\r\n"
        "x-Custom\t:  folded\r\n"
        "   value\r\n"
        "l: 3\r\n"
        "\r\n"
        "abcTRAILING");
    const std::string out = sip::serialize(m);
    CHECK(out ==
          "MESSAGE sip:a@b SIP/2.0\r\n"
          "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
          "Call-ID: abc\r\n"
          "Call-Info: <http://x>\r\n"
          "x-Custom: folded     value\r\n"
          "Content-Length: 3\r\n"
          "\r\n"
          "abc");
    const sip::message again = must_parse(out);
    CHECK(again == m);
    CHECK(sip::serialize(again) == out);
}

TEST_CASE("serialize adds Content-Length for a datagram without one", "[sip][builder]") {
    const sip::message m = must_parse("SIP/2.0 200 OK\r\nCall-ID: x\r\n\r\nhello");
    CHECK(sip::serialize(m) == "SIP/2.0 200 OK\r\nCall-ID: x\r\nContent-Length: 5\r\n\r\nhello");
}

TEST_CASE("round trips over the RFC 4475 and RFC 5118 messages", "[sip][builder][torture]") {
    std::size_t files = 0;
    std::size_t parsed = 0;
    for (const char* dir : {"rfc4475", "rfc5118"}) {
        std::vector<std::filesystem::path> paths;
        for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(SIPVOICE_TEST_DATA_DIR) / dir))
            if (entry.is_regular_file()) paths.push_back(entry.path());
        std::sort(paths.begin(), paths.end());
        for (const auto& path : paths) {
            ++files;
            INFO(path.string());
            const std::string bytes = read_file(path);
            auto m = sip::message::parse(bytes);
            if (!m) continue;
            ++parsed;
            const std::string wire = sip::serialize(*m);
            auto again = sip::message::parse(wire);
            REQUIRE(again.has_value());
            CHECK(*again == *m);
            const std::string wire2 = sip::serialize(*again);
            CHECK(wire2 == wire);
            CHECK(again->body() == m->body());
            auto non_length = [](const sip::message& x) { return x.fields().size() - x.count(sip::header_id::content_length); };
            CHECK(non_length(*again) == non_length(*m));
            CHECK(again->count(sip::header_id::content_length) == 1);
            // Stream framing of the serialized form gives the same message too.
            sip::parse_options stream;
            stream.transport = sip::transport_kind::stream;
            auto streamed = sip::message::parse(wire, stream);
            REQUIRE(streamed.has_value());
            CHECK(*streamed == *m);
        }
    }
    CHECK(files == 61);
    CHECK(parsed >= 40);
}
