// fuzz_calc: the `calculate` tool's evaluator and the parsers of spoken numbers, durations and clock
// times (examples/agent/calc.hpp, spoken.hpp) on arbitrary text, as a caller's words or an LLM's
// arguments would bring it.
//
// Input: the whole input is the text. Its first 8 bytes also make a double (for spoken_number) and
// an int64 (for spoken_duration).
//
// Properties:
//  - evaluate never throws; it gives a finite value and no error, or an error sentence (one line,
//    ending with '.') and no value; division_by_zero comes with "You cannot divide by zero.";
//    a value can be said back (spoken_calculation);
//  - words_to_digits gives printable words one space apart and is idempotent, so that
//    parse_duration, parse_clock_time and expression_from_speech give the same on its output;
//  - parse_duration is within 0..10 years; parse_clock_time within 0:00..23:59;
//  - an expression from expression_from_speech is readable by evaluate (a value, or an arithmetic
//    error such as division by zero, never "could not read");
//  - the tool answers every string with a non-empty line, never an exception;
//  - spoken_number never writes an exponent; spoken_duration parses back to the same seconds.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "calc.hpp"
#include "fuzz_common.hpp"
#include "spoken.hpp"

namespace {
using namespace sipvoice::agent;

bool one_sentence(const std::string& s) { return !s.empty() && s.back() == '.' && s.find('\n') == std::string::npos; }

void check_evaluate(std::string_view text) {
    const calc_result r = evaluate(text);
    if (r.value) {
        FUZZ_CHECK(std::isfinite(*r.value));
        FUZZ_CHECK(r.error.empty());
        FUZZ_CHECK(!r.division_by_zero);
        const auto said = spoken_calculation(text);
        FUZZ_CHECK(said && one_sentence(*said));
    } else {
        FUZZ_CHECK(one_sentence(r.error));
        FUZZ_CHECK(!r.division_by_zero || r.error == "You cannot divide by zero.");
    }
    const calc_result again = evaluate(text);
    FUZZ_CHECK(again.value == r.value && again.error == r.error);
}

void check_words(std::string_view text) {
    const std::string w = words_to_digits(text);
    FUZZ_CHECK(w.empty() || (w.front() != ' ' && w.back() != ' '));
    FUZZ_CHECK(w.find("  ") == std::string::npos);
    for (const char c : w) FUZZ_CHECK(c >= 0x20 && c <= 0x7E);
    FUZZ_CHECK(words_to_digits(w) == w);

    const auto d = parse_duration(text);
    FUZZ_CHECK(d == parse_duration(w));
    if (d) FUZZ_CHECK(d->count() >= 0 && d->count() <= 10LL * 365 * 86400);

    const auto t = parse_clock_time(text);
    FUZZ_CHECK(t == parse_clock_time(w));
    if (t) FUZZ_CHECK(t->hour >= 0 && t->hour <= 23 && t->minute >= 0 && t->minute <= 59);

    const auto e = expression_from_speech(text);
    FUZZ_CHECK(e == expression_from_speech(w));
    if (e) {
        const calc_result r = evaluate(*e);
        FUZZ_CHECK(r.value || r.division_by_zero || r.error.rfind("I could not read", 0) != 0);
        FUZZ_CHECK(r.value || r.error.find("too long") == std::string::npos);
    }
}

void check_tool(std::string_view text) {
    static const tool calculate = make_calculate_tool();
    const tool_result r = calculate.run({{"expression", std::string(text)}}, tool_context{});
    FUZZ_CHECK(one_sentence(r.text));
    FUZZ_CHECK(!r.end_call && r.transfer_to.empty());
    const auto args = calculate.triggers.front().arguments(text, text);
    if (args) FUZZ_CHECK(args->contains("expression") && (*args)["expression"].is_string());
}

void check_speaking(const std::uint8_t* data, std::size_t size) {
    if (size < 8) return;
    double v = 0;
    std::int64_t n = 0;
    std::memcpy(&v, data, 8);
    std::memcpy(&n, data, 8);
    if (std::isfinite(v)) {
        const std::string s = spoken_number(v);
        FUZZ_CHECK(!s.empty() && s.find("e+") == std::string::npos && s.find("e-") == std::string::npos);
        FUZZ_CHECK(s.find("nan") == std::string::npos && s.find("inf") == std::string::npos);
    }
    const std::int64_t secs = n % (10LL * 365 * 86400);
    const std::string d = spoken_duration(std::chrono::seconds(secs));
    if (secs > 0) {
        const auto back = parse_duration(d);
        FUZZ_CHECK(back && back->count() == secs);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = sipvoice::fuzz::as_text(data, size);
    check_evaluate(text);
    check_words(text);
    check_tool(text);
    check_speaking(data, size);
    return 0;
}
