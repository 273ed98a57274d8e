// Numbers, durations and clock times as callers say them (examples/agent/spoken.hpp), and numbers
// and durations as the agent says them back.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "spoken.hpp"

using namespace sipvoice::agent;
using std::chrono::seconds;

namespace {

struct text_case {
    std::string in;
    std::string out;
};

struct duration_case {
    std::string in;
    std::optional<long long> secs;
};

struct clock_case {
    std::string in;
    std::optional<clock_time> at;
};

std::string show(const std::optional<clock_time>& t) {
    if (!t) return "nullopt";
    return std::to_string(t->hour) + ":" + (t->minute < 10 ? "0" : "") + std::to_string(t->minute);
}

}  // namespace

TEST_CASE("words_to_digits turns spoken numbers into digits and keeps the other words", "[agent][spoken]") {
    const std::vector<text_case> table = {
        {"what is seventeen times twenty three", "what is 17 times 23"},
        {"one hundred and five", "105"},
        {"a hundred and five", "105"},
        {"two point five", "2.5"},
        {"three point one four", "3.14"},
        {"point five", "0.5"},
        {"two point oh five", "2.05"},
        {"a thousand", "1000"},
        {"twelve thousand three hundred", "12300"},
        {"one million two hundred thousand and one", "1200001"},
        {"nineteen hundred", "1900"},
        {"twenty five hundred", "2500"},
        {"one thousand and one nights", "1001 nights"},
        {"zero", "0"},
        {"seven oh five", "7 05"},
        {"oh what is five plus three", "oh what is 5 plus 3"},
        {"oh", "oh"},
        {"seven thirty", "7 30"},
        {"one two three", "1 2 3"},
        {"twenty twenty four", "20 24"},
        {"one and a half hours", "1.5 hours"},
        {"2 and a half", "2.5"},
        {"a dozen eggs", "12 eggs"},
        {"two dozen", "24"},
        {"an hour", "1 hour"},
        {"a minute", "1 minute"},
        {"wait a second", "wait 1 second"},
        {"half an hour", "half an hour"},
        {"set a timer for ten minutes", "set a timer for 10 minutes"},
        {"three times a day", "3 times a day"},
        {"a cat", "a cat"},
        {"what's the point", "what's the point"},
        {"17 times 23", "17 times 23"},
        {"1,000", "1000"},
        {"1,000,000 people", "1000000 people"},
        {"5 hundred", "500"},
        {"1.5 million", "1500000"},
        {"two point five million", "2500000"},
        {"Twenty-Three", "23"},
        {"What is 5+3?", "what is 5 + 3"},
        {"17*23", "17 * 23"},
        {"5x3", "5 * 3"},
        {"6 \xC3\x97 7 \xC3\xB7 2 \xE2\x88\x92 1", "6 * 7 / 2 - 1"},
        {"set a timer for 10min.", "set a timer for 10 min"},
        {"at 7:30pm", "at 7:30 pm"},
        {"It\xE2\x80\x99s 5 o'clock", "it's 5 o'clock"},
        {"caf\xC3\xA9 au lait", "caf au lait"},
        {"", ""},
        {"   ,,, ", ""},
        // A scale word out of order multiplies what came before it, as it would in digits.
        {"one thousand one thousand", "1001000"},
        {"two million three million", "2000003000000"},
        {"one hundred dozen", "1200"},
        {"two point five thousand", "2500"},
        {"nine hundred ninety nine trillion nine hundred ninety nine billion", "999999000000000"},
        {"one trillion trillion", "1000000000000000000000000"},
        {"seven oh five and a half", "7 5.5"},
    };
    for (const auto& c : table) {
        INFO("input: \"" << c.in << "\"");
        CHECK(words_to_digits(c.in) == c.out);
    }
}

TEST_CASE("parse_duration finds a duration anywhere in a sentence", "[agent][spoken]") {
    const std::vector<duration_case> table = {
        {"ten minutes", 600},
        {"set a timer for ten minutes", 600},
        {"for 10 min", 600},
        {"an hour", 3600},
        {"a minute", 60},
        {"one and a half hours", 5400},
        {"an hour and a half", 5400},
        {"half an hour", 1800},
        {"a half hour", 1800},
        {"a quarter of an hour", 900},
        {"three quarters of an hour", 2700},
        {"90 seconds", 90},
        {"1 hour 30 minutes", 5400},
        {"two hours and fifteen minutes", 8100},
        {"1 hour, 2 minutes and 5 seconds", 3725},
        {"call me back in two days", 172800},
        {"2.5 minutes", 150},
        {"Set a timer for 5 MINUTES please.", 300},
        {"remind me in thirty secs", 30},
        {"set a timer for one minute", 60},
        {"0 minutes", 0},
        {"set a timer", std::nullopt},
        {"for ten", std::nullopt},
        {"the second timer", std::nullopt},
        {"at seven thirty", std::nullopt},
        {"what is five plus three", std::nullopt},
        {"", std::nullopt},
        {"a billion hours", std::nullopt},  // beyond 10 years: a misheard number
    };
    for (const auto& c : table) {
        INFO("input: \"" << c.in << "\"");
        const auto d = parse_duration(c.in);
        REQUIRE(d.has_value() == c.secs.has_value());
        if (d) CHECK(d->count() == *c.secs);
    }
}

TEST_CASE("parse_clock_time needs a marker and returns 24 hour times", "[agent][spoken]") {
    const std::vector<clock_case> table = {
        {"call me back at 7 pm", clock_time{19, 0}},
        {"at seven p m", clock_time{19, 0}},
        {"at 7 p.m.", clock_time{19, 0}},
        {"at seven thirty", clock_time{7, 30}},
        {"at seven forty five pm", clock_time{19, 45}},
        {"at seven oh five", clock_time{7, 5}},
        {"at 19:00", clock_time{19, 0}},
        {"at 7:30 am", clock_time{7, 30}},
        {"at 7:30am", clock_time{7, 30}},
        {"at 12 am", clock_time{0, 0}},
        {"at 12 pm", clock_time{12, 0}},
        {"at noon", clock_time{12, 0}},
        {"at midnight", clock_time{0, 0}},
        {"12 noon", clock_time{12, 0}},
        {"at half past six", clock_time{6, 30}},  // no am/pm: as said
        {"at half past six pm", clock_time{18, 30}},
        {"at quarter to eight", clock_time{7, 45}},
        {"at a quarter past nine", clock_time{9, 15}},
        {"at ten to eight", clock_time{7, 50}},
        {"at twenty minutes past four in the afternoon", clock_time{16, 20}},
        {"at quarter to one pm", clock_time{12, 45}},
        {"at quarter to midnight", clock_time{23, 45}},
        {"at ten past noon", clock_time{12, 10}},
        {"at 7", clock_time{7, 0}},
        {"at around 7", clock_time{7, 0}},
        {"seven o'clock", clock_time{7, 0}},
        {"seven o\xE2\x80\x99" "clock", clock_time{7, 0}},
        {"at seven in the evening", clock_time{19, 0}},
        {"at eight in the morning", clock_time{8, 0}},
        {"at 1900", clock_time{19, 0}},
        {"at nineteen hundred hours", clock_time{19, 0}},
        {"at 730", clock_time{7, 30}},
        {"at 24:00", clock_time{0, 0}},
        {"at 10:15:30", clock_time{10, 15}},
        {"in ten minutes", std::nullopt},
        {"at 5 minutes", std::nullopt},
        {"at ten percent", std::nullopt},
        {"what is five plus three", std::nullopt},
        {"1900", std::nullopt},
        {"half past six", std::nullopt},  // no "at", no marker
        {"at 25:00", std::nullopt},
        {"at 7:75", std::nullopt},
        {"at 13 am", std::nullopt},
        {"at 7:30 o'clock", std::nullopt},
        {"", std::nullopt},
    };
    for (const auto& c : table) {
        INFO("input: \"" << c.in << "\"");
        CHECK(show(parse_clock_time(c.in)) == show(c.at));
    }
}

TEST_CASE("spoken_number says at most three decimals and no exponent", "[agent][spoken]") {
    const std::vector<std::pair<double, std::string>> table = {
        {391, "391"},
        {-4, "minus 4"},
        {2.5, "2.5"},
        {1.0 / 3, "0.333"},
        {2.0 / 3, "0.667"},
        {0.1 + 0.2, "0.3"},
        {0, "0"},
        {-0.0, "0"},
        {0.0001, "0"},
        {-0.0001, "0"},
        {1.9999, "2"},
        {12300, "12300"},
        {999999999999999, "999999999999999"},
        {999999999999999.4, "999999999999999.375"},  // the nearest double, said as it is
        {123456789.25, "123456789.25"},
        {0.0005, "0.001"},
        {1e15, "1 quadrillion"},
        {1.2e15, "1.2 quadrillion"},
        {123.4e15, "123.4 quadrillion"},
        {3e18, "3 quintillion"},
        {-3e18, "minus 3 quintillion"},
        {1e100, "1 times 10 to the power of 100"},
        {1.5e21, "1.5 times 10 to the power of 21"},
        {std::numeric_limits<double>::max(), "1.798 times 10 to the power of 308"},
    };
    for (const auto& [v, s] : table) {
        INFO("value: " << v);
        CHECK(spoken_number(v) == s);
        CHECK(spoken_number(v).find("e+") == std::string::npos);
        CHECK(spoken_number(v).find("e-") == std::string::npos);
    }
}

TEST_CASE("spoken_duration says hours, minutes and seconds", "[agent][spoken]") {
    const std::vector<std::pair<long long, std::string>> table = {
        {600, "10 minutes"},
        {60, "1 minute"},
        {3660, "1 hour and 1 minute"},
        {5400, "1 hour and 30 minutes"},
        {45, "45 seconds"},
        {1, "1 second"},
        {90, "1 minute and 30 seconds"},
        {3725, "1 hour, 2 minutes and 5 seconds"},
        {86400, "24 hours"},
        {0, "0 seconds"},
        {-60, "minus 1 minute"},
    };
    for (const auto& [n, s] : table) {
        INFO("seconds: " << n);
        CHECK(spoken_duration(seconds(n)) == s);
    }
}

TEST_CASE("what spoken_duration says parses back to the same duration", "[agent][spoken]") {
    for (const long long n : {1LL, 59LL, 60LL, 61LL, 600LL, 3599LL, 3600LL, 3725LL, 86400LL, 90061LL}) {
        INFO("seconds: " << n);
        const auto back = parse_duration(spoken_duration(seconds(n)));
        REQUIRE(back);
        CHECK(back->count() == n);
    }
}

TEST_CASE("the spoken parsers never choke on hostile text", "[agent][spoken]") {
    std::string junk;
    for (int i = 0; i < 256; ++i) junk += static_cast<char>(i);
    const std::vector<std::string> inputs = {
        junk,
        std::string(100000, '9'),
        std::string(20000, ','),
        "1,0,0,0,,,000",
        ".......5",
        "::::7:30::::",
        std::string(5000, 'a') + " hour",
    };
    std::string many_numbers;
    for (int i = 0; i < 2000; ++i) many_numbers += "nine hundred ninety nine thousand and ";
    for (const auto& in : inputs) {
        CHECK_NOTHROW(words_to_digits(in));
        CHECK_NOTHROW(parse_duration(in));
        CHECK_NOTHROW(parse_clock_time(in));
    }
    CHECK_NOTHROW(words_to_digits(many_numbers));
    CHECK(words_to_digits(std::string(100000, '9')) == std::string(100000, '9'));
}

TEST_CASE("words_to_digits is idempotent, so the parsers agree on its output", "[agent][spoken]") {
    const std::vector<std::string> inputs = {
        "one thousand one thousand",    "seven oh five and a half",     "five hundred and a half",
        "point five million",           "one hundred dozen",            "a quarter of an hour",
        "at half past six p.m.",        "1,000,000 and a half",         "two point five zero",
        "what is 17*23?",               "twenty-three o'clock",         "one trillion trillion trillion",
        "set a timer for an hour and a half",
    };
    for (const auto& in : inputs) {
        INFO("input: \"" << in << "\"");
        const std::string once = words_to_digits(in);
        CHECK(words_to_digits(once) == once);
        CHECK(parse_duration(once) == parse_duration(in));
        CHECK(show(parse_clock_time(once)) == show(parse_clock_time(in)));
    }
}
