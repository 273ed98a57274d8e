// The `calculate` tool (examples/agent/calc.hpp): the expression evaluator against a table of
// inputs, hostile ones included; arithmetic in what callers say; the tool's argument checks and
// its sentences; and its trigger for the offline rule brain.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "calc.hpp"
#include "offline_backends.hpp"

using namespace sipvoice::agent;

namespace {

struct value_case {
    std::string in;
    double value;
};

struct error_case {
    std::string in;
    std::string error;  // the exact sentence
    bool division_by_zero = false;
};

std::string repeat(std::string_view s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
}

bool close_to(double a, double b) { return std::fabs(a - b) <= 1e-9 * std::max(1.0, std::fabs(b)); }

tool_result run(const tool& t, const nlohmann::json& args) { return t.run(args, tool_context{}); }

// Lower case words one space apart with a space at both ends, as the rule brain matches keywords.
std::string normalized(std::string_view text) {
    std::string out = " ";
    for (const char c : text) {
        const bool word = std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '\'';
        if (word) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        else if (out.back() != ' ') out += ' ';
    }
    if (out.back() != ' ') out += ' ';
    return out;
}

bool fires(const trigger& tr, std::string_view text) {
    const std::string n = normalized(text);
    for (const auto& kw : tr.keywords)
        if (n.find(" " + kw + " ") != std::string::npos) return true;
    return false;
}

}  // namespace

TEST_CASE("evaluate computes arithmetic with the usual precedence", "[agent][calc]") {
    const std::vector<value_case> table = {
        {"17*23", 391},
        {"17 * 23", 391},
        {"(2+3)*4", 20},
        {"2+3*4", 14},
        {"10 - 4 - 3", 3},
        {"100 / 10 / 2", 5},
        {"2^3^2", 512},  // right associative
        {"-2^2", -4},    // the sign is looser than the power
        {"(-2)^2", 4},
        {"2^-1", 0.5},
        {"10/4", 2.5},
        {"7 - 10", -3},
        {"15%", 0.15},
        {"15% of 80", 12},
        {"15 % of 80 + 5", 17},
        {"80 + 10%", 88},  // a pocket calculator's percentage
        {"80 - 10%", 72},
        {"10% + 80", 80.1},
        {"50 * 10%", 5},
        {"(80 + 10)%", 0.9},
        {"sqrt(16)", 4},
        {"sqrt 16 + 9", 13},
        {"SQRT(2)^2", 2},
        {"3 x 4", 12},
        {"3x4", 12},
        {"3 X 4", 12},
        {"6 \xC3\x97 7", 42},          // ×
        {"84 \xC3\xB7 2", 42},         // ÷
        {"9 \xE2\x88\x92 4", 5},       // U+2212
        {"2**10", 1024},
        {"1,000 + 1", 1001},
        {"1,234,567", 1234567},
        {".5 + .5", 1},
        {"5.", 5},
        {"1e3", 1000},
        {"2.5E-1", 0.25},
        {"1e-400", 0},  // too small is zero
        {"--5", 5},
        {"+5", 5},
        {"-(-(3))", 3},
        {"5+3=", 8},
        {"5+3?", 8},
        {"  7  ", 7},
        {"\t(1)\n", 1},
        {"0.1+0.2", 0.3},
        {"12345678901234567890 * 10", 1.2345678901234567e20},
        {repeat("9", 200), 1e200},
        {"0." + repeat("0", 200) + "1", 1e-201},
        {repeat("1+", 127) + "1", 128},  // 255 characters
        {repeat("(", 31) + "1" + repeat(")", 31), 1},
    };
    for (const auto& c : table) {
        INFO("expression: \"" << c.in << "\"");
        const calc_result r = evaluate(c.in);
        INFO("error: " << r.error);
        REQUIRE(r.value.has_value());
        CHECK(close_to(*r.value, c.value));
        CHECK(r.error.empty());
        CHECK_FALSE(r.division_by_zero);
    }
}

TEST_CASE("evaluate answers bad and hostile input with a sentence", "[agent][calc]") {
    const std::string unreadable_char = "I could not read the expression: it has a character I do not know.";
    const std::string too_long = "That expression is too long for me: at most 256 characters.";
    const std::string too_deep = "That expression has too many brackets or signs inside each other for me.";
    const std::string too_large = "The numbers get too large for me to work that out.";
    const std::string ends = "I could not read the expression: it ends too soon.";
    const std::vector<error_case> table = {
        {"1/0", "You cannot divide by zero.", true},
        {"0/0", "You cannot divide by zero.", true},
        {"5 / (3 - 3)", "You cannot divide by zero.", true},
        {"0^-1", "You cannot divide by zero.", true},
        {"2^99999", too_large},
        {"1e309", too_large},
        {"1e308 * 10", too_large},
        {"1e308 + 1e308", too_large},
        {repeat("9", 250) + "^2", too_large},
        {"sqrt(-1)", "I cannot take the square root of a negative number."},
        {"(-8)^(1/3)", "That has no answer in real numbers."},
        {"5 +", ends},
        {"1/0 +", ends},  // unreadable first, whatever the numbers
        {"sqrt", ends},
        {"15 % of", ends},
        {"(2+3", ends},
        {")(", "I could not read the expression near \")(\"."},
        {"2 3", "I could not read the expression near \"3\"."},
        {"()", "I could not read the expression near \")\"."},
        {"x", "I could not read the expression near \"x\"."},
        {"1e", "I could not read the expression near \"e\"."},
        {"5 = 3", "I could not read the expression near \"= 3\"."},
        {"system('ls')", "I could not read the expression near \"system('ls')\"."},
        {"rm -rf /", "I could not read the expression near \"rm -rf /\"."},
        {"2 + 2; reboot", "I could not read the expression near \"; reboot\"."},
        {"__import__('os')", "I could not read the expression near \"__import__('os')\"."},
        {"what is a hundred divided by four", "I could not read the expression near \"what is a hundred\"."},
        {"abcdefghijklmnopqrstuvwxyz", "I could not read the expression near \"abcdefghijklmnopqrst\"."},
        {"5 + \xE2\x98\x83", unreadable_char},  // a snowman
        {"\xFF\xFE\x00\x01", unreadable_char},
        {std::string("1+\0", 3), unreadable_char},
        {"", "There is nothing to calculate."},
        {"   ", "There is nothing to calculate."},
        {repeat("1", 257), too_long},
        {repeat("(", 1000) + "1" + repeat(")", 1000), too_long},
        {repeat("(", 32) + "1" + repeat(")", 32), too_deep},
        {repeat("-", 40) + "1", too_deep},
        {repeat("2^", 40) + "2", too_deep},
        {repeat("sqrt ", 40) + "2", too_deep},
    };
    for (const auto& c : table) {
        INFO("expression: \"" << c.in << "\"");
        const calc_result r = evaluate(c.in);
        CHECK_FALSE(r.value.has_value());
        CHECK(r.error == c.error);
        CHECK(r.division_by_zero == c.division_by_zero);
        CHECK(r.error.find('\n') == std::string::npos);
    }
}

TEST_CASE("every byte string gives a finite value or a sentence", "[agent][calc]") {
    // A cheap sweep of short inputs over the evaluator's alphabet (the fuzz target goes further).
    const std::string alphabet = "0123456789.+-*/^%()x e,";
    std::size_t values = 0;
    for (const char a : alphabet)
        for (const char b : alphabet)
            for (const char c : alphabet)
                for (const char d : alphabet) {
                    const std::string in{a, b, c, d};
                    const calc_result r = evaluate(in);
                    if (r.value) {
                        REQUIRE(std::isfinite(*r.value));
                        REQUIRE(r.error.empty());
                        ++values;
                    } else {
                        REQUIRE_FALSE(r.error.empty());
                        REQUIRE(r.error.back() == '.');
                    }
                }
    CHECK(values > 1000);
}

TEST_CASE("expression_from_speech finds the arithmetic in what a caller says", "[agent][calc]") {
    struct speech_case {
        std::string in;
        std::string expression;
        double value;
    };
    const std::vector<speech_case> table = {
        {"what is seventeen times twenty three", "17 * 23", 391},
        {"what's 5 plus 3", "5 + 3", 8},
        {"fifteen percent of eighty", "15 % of 80", 12},
        {"what is fifteen per cent of eighty", "15 % of 80", 12},
        {"ten divided by two", "10 / 2", 5},
        {"ten over two", "10 / 2", 5},
        {"2 to the power of 8", "2 ^ 8", 256},
        {"two raised to the power of ten", "2 ^ 10", 1024},
        {"seven squared", "7 ^ 2", 49},
        {"three cubed", "3 ^ 3", 27},
        {"the square root of 16", "sqrt 16", 4},
        {"what is the square root of sixteen plus nine", "sqrt 16 + 9", 13},
        {"six multiplied by seven", "6 * 7", 42},
        {"five x three", "5 * 3", 15},
        {"what is nine minus four", "9 - 4", 5},
        {"minus five plus three", "- 5 + 3", -2},
        {"negative four times two", "- 4 * 2", -8},
        {"open parenthesis two plus three close parenthesis times four", "( 2 + 3 ) * 4", 20},
        {"What is 17*23?", "17 * 23", 391},
        {"what is two point five times four", "2.5 * 4", 10},
        {"eighty plus ten percent", "80 + 10 %", 88},
        {"what is one hundred and five minus five", "105 - 5", 100},
        {"calculate six times seven please", "6 * 7", 42},
        {"what is five plus three times", "5 + 3", 8},  // a dangling operator is dropped
        {"hello, what is five plus three? thanks", "5 + 3", 8},
    };
    for (const auto& c : table) {
        INFO("speech: \"" << c.in << "\"");
        const auto e = expression_from_speech(c.in);
        REQUIRE(e.has_value());
        CHECK(*e == c.expression);
        const calc_result r = evaluate(*e);
        REQUIRE(r.value.has_value());
        CHECK(close_to(*r.value, c.value));
    }

    SECTION("a division by zero is still an expression") {
        const auto e = expression_from_speech("what is ten divided by zero");
        REQUIRE(e);
        CHECK(*e == "10 / 0");
        CHECK(evaluate(*e).division_by_zero);
    }

    SECTION("no arithmetic, no expression") {
        for (const std::string in :
             {"ten minutes", "set a timer for ten minutes", "three times a day", "hello", "", "what time is it", "minus",
              "plus plus", "a box of chocolates", "it is over the hill", "the x factor", "calculate", "five", "times two",
              "what is seven", "square root"}) {
            INFO("speech: \"" << in << "\"");
            CHECK_FALSE(expression_from_speech(in).has_value());
        }
    }
}

TEST_CASE("the calculate tool says the expression back with its result", "[agent][calc]") {
    const tool t = make_calculate_tool();
    REQUIRE(t.name == "calculate");
    REQUIRE(t.run);
    CHECK(t.parameters["type"] == "object");
    CHECK(t.parameters["properties"]["expression"]["type"] == "string");
    CHECK(t.parameters["required"] == nlohmann::json::array({"expression"}));

    const std::vector<std::pair<std::string, std::string>> table = {
        {"17*23", "17 times 23 is 391."},
        {"(2+3)*4", "(2 plus 3) times 4 is 20."},
        {"15% of 80", "15 percent of 80 is 12."},
        {"80 + 10%", "80 plus 10 percent is 88."},
        {"sqrt(16)", "The square root of 16 is 4."},
        {"1/3", "1 divided by 3 is 0.333."},
        {"2^10", "2 to the power of 10 is 1024."},
        {"7 - 10", "7 minus 10 is minus 3."},
        {"-4 * 2.50", "Minus 4 times 2.50 is minus 10."},
        {"1,000 / 8", "1000 divided by 8 is 125."},
        {"1e3 + 1", "1000 plus 1 is 1001."},
        {"seventeen times twenty three", "17 times 23 is 391."},
        {"what is fifteen percent of eighty", "15 percent of 80 is 12."},
        {"the square root of sixteen", "The square root of 16 is 4."},
        {"1e15 * 3", "1 quadrillion times 3 is 3 quadrillion."},
    };
    for (const auto& [expression, text] : table) {
        INFO("expression: \"" << expression << "\"");
        const tool_result r = run(t, {{"expression", expression}});
        CHECK_FALSE(r.error);
        CHECK(r.text == text);
        CHECK_FALSE(r.end_call);
        CHECK(r.transfer_to.empty());
    }

    SECTION("division by zero is an answer to speak, not an error") {
        for (const std::string e : {"1/0", "0/0", "ten divided by zero"}) {
            const tool_result r = run(t, {{"expression", e}});
            CHECK_FALSE(r.error);
            CHECK(r.text == "You cannot divide by zero.");
        }
    }

    SECTION("bad arguments and unreadable expressions are one-line errors") {
        const std::vector<std::pair<nlohmann::json, std::string>> bad = {
            {nlohmann::json::object(), "calculate needs \"expression\""},
            {{{"expression", 5}}, "calculate needs \"expression\""},
            {{{"expression", nullptr}}, "calculate needs \"expression\""},
            {{{"expr", "1+1"}}, "calculate needs \"expression\""},
            {nlohmann::json::array({1, 2}), "calculate needs \"expression\""},
            {{{"expression", ""}}, "There is nothing to calculate."},
            {{{"expression", "hello there"}}, "I could not read the expression near \"hello there\"."},
            {{{"expression", "three times a day"}}, "I could not read the expression near \"three times a day\"."},
            {{{"expression", "2^99999"}}, "The numbers get too large for me to work that out."},
            {{{"expression", "sqrt(-4)"}}, "I cannot take the square root of a negative number."},
            {{{"expression", repeat("(", 40) + "1" + repeat(")", 40)}},
             "That expression has too many brackets or signs inside each other for me."},
        };
        for (const auto& [args, text] : bad) {
            INFO("arguments: " << args.dump());
            const tool_result r = run(t, args);
            CHECK(r.error);
            CHECK(r.text.rfind(text, 0) == 0);
            CHECK(r.text.find('\n') == std::string::npos);
        }
    }

    SECTION("through the registry, with arguments as an LLM sends them") {
        tool_registry registry;
        registry.add(make_calculate_tool());
        const tool_result ok = registry.call("calculate", R"({"expression":"5+3"})", tool_context{});
        CHECK_FALSE(ok.error);
        CHECK(ok.text == "5 plus 3 is 8.");
        CHECK(registry.call("calculate", R"({"expression":[1]})", tool_context{}).error);
        CHECK(registry.call("calculate", "not json", tool_context{}).error);
        const auto schema = registry.openai_tools();
        REQUIRE(schema.size() == 1);
        CHECK(schema[0]["function"]["name"] == "calculate");
    }
}

TEST_CASE("the calculate trigger: keywords, phrases and arguments", "[agent][calc]") {
    const tool t = make_calculate_tool();
    REQUIRE(t.triggers.size() == 1);
    const trigger& tr = t.triggers.front();
    CHECK(tr.priority == 40);
    CHECK(tr.ask == "Which numbers should I calculate?");
    REQUIRE(tr.arguments);

    const std::vector<std::pair<std::string, double>> expected = {
        {"what is five plus three", 8},
        {"what is seventeen times twenty three", 391},
        {"what is ten divided by two", 5},
        {"what is fifteen percent of eighty", 12},
        {"what is nine minus four", 5},
        {"calculate six times seven", 42},
        {"what is six multiplied by seven", 42},
        {"what is two to the power of eight", 256},
        {"what is seven squared", 49},
        {"what is the square root of sixteen", 4},
    };
    // Every phrase is in the table above, so that each is checked for its value.
    for (const auto& p : tr.phrases) {
        INFO("phrase: \"" << p << "\"");
        const auto it = std::find_if(expected.begin(), expected.end(), [&p](const auto& e) { return e.first == p; });
        REQUIRE(it != expected.end());
        CHECK(normalized(p) == " " + p + " ");  // already in the normalized form
        CHECK(fires(tr, p));
        const auto args = tr.arguments(p, p);
        REQUIRE(args.has_value());
        REQUIRE((*args)["expression"].is_string());
        const calc_result r = evaluate((*args)["expression"].get<std::string>());
        REQUIRE(r.value.has_value());
        CHECK(close_to(*r.value, it->second));
        // The tool, run with those arguments, says the result.
        const tool_result said = run(t, *args);
        CHECK_FALSE(said.error);
        CHECK(said.text.find(" is ") != std::string::npos);
    }

    SECTION("raw recognizer text and words that are not arithmetic") {
        const auto args = tr.arguments("What is 17 times 23?", "what is 17 times 23");
        REQUIRE(args);
        CHECK((*args)["expression"] == "17 * 23");
        CHECK_FALSE(fires(tr, "set a timer for ten minutes"));  // "minus" is not in "minutes"
        CHECK_FALSE(fires(tr, "what time is it"));
        CHECK(fires(tr, "three times a day"));
        CHECK_FALSE(tr.arguments("three times a day", "three times a day").has_value());
        CHECK_FALSE(tr.arguments("calculate", "calculate").has_value());
    }

    SECTION("every phrase word is in the recognizer's dictionary") {
        const auto& words = offline_dictionary_words();
        if (words.empty()) {
            WARN("no pocketsphinx dictionary at " << default_pocketsphinx_model_dir() << ": skipping the word check");
            return;
        }
        REQUIRE(words.size() > 100000);
        for (const auto& p : tr.phrases) {
            std::istringstream in(p);
            std::string w;
            while (in >> w) {
                INFO("phrase \"" << p << "\", word \"" << w << "\"");
                CHECK(words.count(w) == 1);
                CHECK(w.find_first_of("0123456789") == std::string::npos);
            }
        }
    }
}
