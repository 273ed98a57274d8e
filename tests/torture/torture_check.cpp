// The torture check: parse a message from RFC 4475 / RFC 5118, validate it as a user agent would,
// and compare with what expected.tsv says (see the header of that file for the columns).
#include "torture_check.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "sipvoice/sip/builder.hpp"
#include "sipvoice/sip/message.hpp"
#include "sipvoice/sip/validate.hpp"

namespace sip = sipvoice::sip;

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in.good());
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// "405-or-501" -> {"405", "501"}
std::vector<std::string> alternatives(const std::string& s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        const std::size_t sep = s.find("-or-", start);
        out.push_back(s.substr(start, sep == std::string::npos ? std::string::npos : sep - start));
        if (sep == std::string::npos) return out;
        start = sep + 4;
    }
}

}  // namespace

void check_torture(const char* path, const char* parser_expectation, const char* ua_expectation) {
    const std::string bytes = read_file(std::string(SIPVOICE_TEST_DATA_DIR) + "/" + path);
    const bool is_response = bytes.rfind("SIP/", 0) == 0;
    auto parsed = sip::message::parse(bytes);

    // What the parser (plus the validation step right after it) concluded.
    std::string parser_outcome;
    std::string ua_outcome;
    if (!parsed) {
        INFO("parse error " << parsed.error().line << ":" << parsed.error().column << ": " << parsed.error().what());
        parser_outcome = "invalid";
        // A request that cannot be parsed is answered 400 where possible; a response is discarded.
        ua_outcome = is_response ? "drop" : "400";
        CHECK(parsed.error().line >= 1);
        CHECK(parsed.error().column >= 1);
    } else {
        const sip::verdict v = sip::validate(*parsed);
        INFO("verdict status " << v.status << " detail: " << v.detail);
        parser_outcome = v.malformed ? "invalid" : "valid";
        switch (v.action) {
            case sip::action::accept: ua_outcome = "accept"; break;
            case sip::action::respond: ua_outcome = std::to_string(v.status); break;
            case sip::action::drop: ua_outcome = "drop"; break;
        }
        if (v.malformed) CHECK(v.where.line >= 1);
        if (v.status == 420) CHECK(!v.unsupported.empty());

        // Every message that parses round-trips through the serializer.
        const std::string wire = sip::serialize(*parsed);
        auto again = sip::message::parse(wire);
        REQUIRE(again.has_value());
        CHECK(*again == *parsed);
        CHECK(sip::serialize(*again) == wire);
    }

    INFO("parser: expected " << parser_expectation << ", got " << parser_outcome);
    if (std::string(parser_expectation) != "either") CHECK(parser_outcome == parser_expectation);

    INFO("user agent: expected " << ua_expectation << ", got " << ua_outcome);
    if (std::string(ua_expectation) != "-") {
        const auto allowed = alternatives(ua_expectation);
        CHECK(std::find(allowed.begin(), allowed.end(), ua_outcome) != allowed.end());
    }
}
