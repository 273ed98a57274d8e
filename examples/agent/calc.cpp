#include "calc.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <exception>
#include <vector>

#include "spoken.hpp"

namespace sipvoice::agent {
namespace {

// ---------------------------------------------------------------- lexer

enum class kind { number, plus, minus, times, divide, power, percent, of, sqrt, lparen, rparen, end };

struct token {
    kind k = kind::end;
    double value = 0;
    std::string_view text;  // as written (for error messages and for saying it back)
    bool out_of_range = false;  // a literal beyond a double ("1e309")
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

enum class failure { none, syntax, too_long, too_deep, empty };

struct lexed {
    std::vector<token> tokens;  // ends with kind::end
    failure fail = failure::none;
    std::size_t fail_at = 0;
};

// The digits of a number literal without its thousands separators, and where it ends.
std::size_t scan_number(std::string_view s, std::size_t i, std::string& digits) {
    auto at = [&s](std::size_t k) { return k < s.size() ? s[k] : '\0'; };
    while (i < s.size()) {
        if (is_digit(s[i])) {
            digits += s[i++];
        } else if (s[i] == ',' && !digits.empty() && digits.find('.') == std::string::npos && is_digit(at(i + 1)) &&
                   is_digit(at(i + 2)) && is_digit(at(i + 3)) && !is_digit(at(i + 4))) {
            ++i;  // "1,000"
        } else {
            break;
        }
    }
    if (at(i) == '.') {
        ++i;  // "5." is 5
        if (is_digit(at(i))) {
            digits += '.';
            while (is_digit(at(i))) digits += s[i++];
        }
    }
    const char e = at(i);
    if ((e == 'e' || e == 'E') && !digits.empty()) {
        std::size_t k = i + 1;
        if (at(k) == '+' || at(k) == '-') ++k;
        if (is_digit(at(k))) {
            digits += s.substr(i, k - i);
            i = k;
            while (is_digit(at(i))) digits += s[i++];
        }
    }
    return i;
}

token number_token(std::string_view text, const std::string& digits) {
    token t{kind::number, 0, text, false};
    std::string d = digits.front() == '.' ? "0" + digits : digits;
    const auto r = std::from_chars(d.data(), d.data() + d.size(), t.value);
    if (r.ec == std::errc::result_out_of_range) {
        // Too small rounds to zero; too large is an answer we cannot give.
        const auto e = d.find_first_of("eE");
        const bool tiny = e != std::string::npos && d.find('-', e) != std::string::npos;
        t.value = 0;
        t.out_of_range = !tiny;
    } else if (r.ec != std::errc{} || !std::isfinite(t.value)) {
        t.out_of_range = true;
        t.value = 0;
    }
    return t;
}

lexed lex(std::string_view s) {
    lexed out;
    auto fail = [&out](failure f, std::size_t at) {
        out.fail = f;
        out.fail_at = at;
        return out;
    };
    if (s.size() > max_expression_length) return fail(failure::too_long, 0);
    std::size_t i = 0;
    while (i < s.size()) {
        const char c = s[i];
        const std::string_view rest = s.substr(i);
        auto op = [&](kind k, std::size_t len) {
            out.tokens.push_back({k, 0, s.substr(i, len), false});
            i += len;
        };
        if (is_space(c)) {
            ++i;
        } else if (is_digit(c) || (c == '.' && i + 1 < s.size() && is_digit(s[i + 1]))) {
            std::string digits;
            const std::size_t end = scan_number(s, i, digits);
            out.tokens.push_back(number_token(s.substr(i, end - i), digits));
            i = end;
        } else if (rest.starts_with("**")) {
            op(kind::power, 2);
        } else if (c == '+') {
            op(kind::plus, 1);
        } else if (c == '-') {
            op(kind::minus, 1);
        } else if (c == '*') {
            op(kind::times, 1);
        } else if (c == '/') {
            op(kind::divide, 1);
        } else if (c == '^') {
            op(kind::power, 1);
        } else if (c == '%') {
            op(kind::percent, 1);
        } else if (c == '(') {
            op(kind::lparen, 1);
        } else if (c == ')') {
            op(kind::rparen, 1);
        } else if (rest.starts_with("\xC3\x97")) {  // ×
            op(kind::times, 2);
        } else if (rest.starts_with("\xC3\xB7")) {  // ÷
            op(kind::divide, 2);
        } else if (rest.starts_with("\xE2\x88\x92")) {  // − U+2212
            op(kind::minus, 3);
        } else if (is_alpha(c)) {
            std::size_t end = i;
            while (end < s.size() && is_alpha(s[end])) ++end;
            std::string word(s.substr(i, end - i));
            for (auto& ch : word) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            if (word == "x") op(kind::times, 1);
            else if (word == "of") op(kind::of, 2);
            else if (word == "sqrt") op(kind::sqrt, 4);
            else return fail(failure::syntax, i);
        } else if (c == '=' || c == '?') {
            // Only at the end: "5+3=", "what is 5+3?"
            for (std::size_t k = i; k < s.size(); ++k)
                if (!is_space(s[k]) && s[k] != '=' && s[k] != '?') return fail(failure::syntax, i);
            break;
        } else {
            return fail(failure::syntax, i);
        }
    }
    if (out.tokens.empty()) return fail(failure::empty, 0);
    out.tokens.push_back({kind::end, 0, s.substr(s.size()), false});
    return out;
}

// ---------------------------------------------------------------- parser and evaluator

enum class math_error { none, division_by_zero, too_large, no_real_answer, negative_root };

struct operand {
    double v = 0;
    bool bare_percent = false;  // "10%" alone: added to or taken from what is before it
};

// Evaluates while it parses. A math error does not stop the parse (the rest must still be read:
// "1/0 +" is unreadable, not a division by zero); the first one is kept and its operand becomes 0.
class parser {
public:
    explicit parser(const std::vector<token>& t) : t_(t) {}

    failure fail = failure::none;
    std::size_t fail_token = 0;
    math_error math = math_error::none;

    std::optional<double> run() {
        const operand r = sum(0);
        if (fail == failure::none && peek() != kind::end) syntax();
        if (fail != failure::none) return std::nullopt;
        return r.v;
    }

private:
    const std::vector<token>& t_;
    std::size_t pos_ = 0;

    [[nodiscard]] kind peek() const { return t_[pos_].k; }
    [[nodiscard]] bool ok() const { return fail == failure::none; }
    void syntax() {
        if (!ok()) return;
        fail = failure::syntax;
        fail_token = pos_;
    }
    bool deeper(int depth) {
        if (depth < max_expression_depth) return true;
        if (ok()) {
            fail = failure::too_deep;
            fail_token = pos_;
        }
        return false;
    }
    double check(double v, math_error if_infinite = math_error::too_large) {
        if (std::isfinite(v)) return v;
        if (math == math_error::none) math = std::isnan(v) ? math_error::no_real_answer : if_infinite;
        return 0;
    }

    operand sum(int depth) {
        operand lhs = product(depth);
        while (ok() && (peek() == kind::plus || peek() == kind::minus)) {
            const double sign = t_[pos_++].k == kind::plus ? 1 : -1;
            const operand rhs = product(depth);
            lhs.v = check(rhs.bare_percent ? lhs.v * (1 + sign * rhs.v) : lhs.v + sign * rhs.v);
            lhs.bare_percent = false;
        }
        return lhs;
    }

    operand product(int depth) {
        operand lhs = unary(depth);
        while (ok() && (peek() == kind::times || peek() == kind::divide)) {
            const bool divide = t_[pos_++].k == kind::divide;
            const operand rhs = unary(depth);
            if (divide && rhs.v == 0) {
                if (math == math_error::none) math = math_error::division_by_zero;
                lhs.v = 0;
            } else {
                lhs.v = check(divide ? lhs.v / rhs.v : lhs.v * rhs.v);
            }
            lhs.bare_percent = false;
        }
        return lhs;
    }

    operand unary(int depth) {
        const kind k = peek();
        if (k != kind::plus && k != kind::minus && k != kind::sqrt) return power(depth);
        if (!deeper(depth + 1)) return {};
        ++pos_;
        const operand x = unary(depth + 1);
        if (k == kind::plus) return {x.v, false};
        if (k == kind::minus) return {-x.v, false};
        if (x.v < 0) {
            if (math == math_error::none) math = math_error::negative_root;
            return {};
        }
        return {std::sqrt(x.v), false};
    }

    operand power(int depth) {
        operand base = percent(depth);
        if (!ok() || peek() != kind::power) return base;
        if (!deeper(depth + 1)) return {};
        ++pos_;
        const operand exponent = unary(depth + 1);
        // 0^-1 is 1/0; a negative base with a fractional exponent has no real answer (NaN).
        const auto if_infinite = base.v == 0 ? math_error::division_by_zero : math_error::too_large;
        return {check(std::pow(base.v, exponent.v), if_infinite), false};
    }

    operand percent(int depth) {
        operand x = primary(depth);
        while (ok() && peek() == kind::percent) {
            ++pos_;
            x = {x.v / 100, true};
            if (peek() == kind::of) {
                if (!deeper(depth + 1)) return {};
                ++pos_;
                const operand whole = unary(depth + 1);
                x = {check(x.v * whole.v), false};
            }
        }
        return x;
    }

    operand primary(int depth) {
        if (!ok()) return {};
        const token& tok = t_[pos_];
        if (tok.k == kind::number) {
            ++pos_;
            if (tok.out_of_range && math == math_error::none) math = math_error::too_large;
            return {tok.value, false};
        }
        if (tok.k == kind::lparen) {
            if (!deeper(depth + 1)) return {};
            ++pos_;
            const operand inner = sum(depth + 1);
            if (!ok()) return {};
            if (peek() != kind::rparen) {
                syntax();
                return {};
            }
            ++pos_;
            return {inner.v, inner.bare_percent};
        }
        syntax();
        return {};
    }
};

// What went wrong near `at`, quoted if it can be said (printable ASCII), cut to at most 20
// characters and then back to the end of a word when there is one.
std::string near(std::string_view s, std::size_t at) {
    constexpr std::size_t max_snippet = 20;
    std::string snippet;
    std::size_t i = at;
    for (; i < s.size() && snippet.size() < max_snippet; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c > 0x7E || c == '"') break;
        snippet += static_cast<char>(c);
    }
    const bool cut_in_word = snippet.size() == max_snippet && i < s.size() && s[i] != ' ';
    if (const auto space = snippet.rfind(' '); cut_in_word && space != std::string::npos) snippet.resize(space);
    while (!snippet.empty() && snippet.back() == ' ') snippet.pop_back();
    if (snippet.empty()) return "I could not read the expression: it has a character I do not know.";
    return "I could not read the expression near \"" + snippet + "\".";
}

struct analysis {
    calc_result result;
    bool readable = false;  // it parsed: a value or a math error (division by zero, too large, ...)
    std::vector<token> tokens;  // views into the analysed text: keep that alive as long
};

analysis analyse(std::string_view s) {
    analysis a;
    lexed l = lex(s);
    auto error = [&a](std::string text) {
        a.result.error = std::move(text);
        return a;
    };
    switch (l.fail) {
        case failure::none: break;
        case failure::empty: return error("There is nothing to calculate.");
        case failure::too_long:
            return error("That expression is too long for me: at most " + std::to_string(max_expression_length) +
                         " characters.");
        case failure::syntax: return error(near(s, l.fail_at));
        case failure::too_deep: break;  // not from the lexer
    }
    parser p(l.tokens);
    const auto value = p.run();
    if (!value) {
        if (p.fail == failure::too_deep) return error("That expression has too many brackets or signs inside each other for me.");
        const token& at = l.tokens[p.fail_token];
        if (at.k == kind::end) return error("I could not read the expression: it ends too soon.");
        return error(near(s, static_cast<std::size_t>(at.text.data() - s.data())));
    }
    a.readable = true;
    a.tokens = std::move(l.tokens);
    switch (p.math) {
        case math_error::none: a.result.value = *value; return a;
        case math_error::division_by_zero: a.result.division_by_zero = true; return error("You cannot divide by zero.");
        case math_error::too_large: return error("The numbers get too large for me to work that out.");
        case math_error::no_real_answer: return error("That has no answer in real numbers.");
        case math_error::negative_root: return error("I cannot take the square root of a negative number.");
    }
    return a;
}

// ---------------------------------------------------------------- saying it back

std::string spoken_literal(const token& t) {
    bool plain = true;
    std::string out;
    for (const char c : t.text) {
        if (is_digit(c) || c == '.') out += c;
        else if (c != ',') plain = false;
    }
    if (!plain || out.empty()) return spoken_number(t.value);
    if (out.front() == '.') out.insert(0, "0");
    if (out.back() == '.') out.pop_back();
    return out;
}

std::string say_tokens(const std::vector<token>& t) {
    std::string out;
    auto add = [&out](std::string_view w) {
        if (!out.empty() && out.back() != '(' && w != ")") out += ' ';
        out += w;
    };
    for (std::size_t i = 0; i < t.size() && t[i].k != kind::end; ++i) {
        switch (t[i].k) {
            case kind::number: add(spoken_literal(t[i])); break;
            case kind::plus: add("plus"); break;
            case kind::minus: add("minus"); break;
            case kind::times: add("times"); break;
            case kind::divide: add("divided by"); break;
            case kind::power: add("to the power of"); break;
            case kind::percent: add("percent"); break;
            case kind::of: add("of"); break;
            case kind::sqrt: add("the square root of"); break;
            case kind::lparen:
                // "(16)" is just 16
                if (i + 2 < t.size() && t[i + 1].k == kind::number && t[i + 2].k == kind::rparen) {
                    add(spoken_literal(t[i + 1]));
                    i += 2;
                } else {
                    add("(");
                }
                break;
            case kind::rparen: add(")"); break;
            case kind::end: break;
        }
    }
    if (!out.empty() && out.front() >= 'a' && out.front() <= 'z') out.front() = static_cast<char>(out.front() - 'a' + 'A');
    return out;
}

// ---------------------------------------------------------------- speech to expression

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < s.size()) {
        const std::size_t end = std::min(s.find(' ', i), s.size());
        if (end > i) out.push_back(s.substr(i, end - i));
        i = end + 1;
    }
    return out;
}

bool is_number_word(std::string_view w) {
    if (w.empty() || !is_digit(w.front())) return false;
    for (const char c : w)
        if (!is_digit(c) && c != '.') return false;
    return true;
}

// What a word (or a few) at t[i] means in an expression: its symbols and the number of words it
// takes. Empty symbols: not arithmetic.
struct mapped {
    std::string symbols;
    std::size_t words = 1;
    bool is_operator = true;  // not a number or a bracket
};

mapped map_words(const std::vector<std::string>& t, std::size_t i, const std::string& previous) {
    auto w = [&t](std::size_t k) -> std::string_view { return k < t.size() ? std::string_view(t[k]) : std::string_view(); };
    const std::string_view x = w(i);
    const bool after_operand = is_number_word(previous) || previous == ")" || previous == "%";
    const bool before_operand = is_number_word(w(i + 1)) || w(i + 1) == "(";
    if (is_number_word(x)) return {std::string(x), 1, false};
    if (x == "plus" || x == "+") return {"+", 1};
    if (x == "minus" || x == "-" || (x == "negative" && before_operand)) return {"-", 1};
    if (x == "times" || x == "*") return {"*", 1};
    if (x == "multiplied") return {"*", w(i + 1) == "by" ? 2u : 1u};
    if (x == "x" && after_operand && before_operand) return {"*", 1};
    if (x == "divided") return {"/", w(i + 1) == "by" ? 2u : 1u};
    if (x == "/" || (x == "over" && after_operand && before_operand)) return {"/", 1};
    if (x == "^") return {"^", 1};
    if (x == "to" && w(i + 1) == "the" && w(i + 2) == "power") return {"^", w(i + 3) == "of" ? 4u : 3u};
    if (x == "to" && w(i + 1) == "the" && after_operand && is_number_word(w(i + 2))) return {"^", 2};  // "2 to the 8"
    if (x == "raised" && w(i + 1) == "to") {
        if (w(i + 2) == "the" && w(i + 3) == "power") return {"^", w(i + 4) == "of" ? 5u : 4u};
        return {"^", 2};
    }
    if (x == "squared") return {"^ 2", 1};
    if (x == "cubed") return {"^ 3", 1};
    if (x == "the" && w(i + 1) == "square" && w(i + 2) == "root") return {"sqrt", w(i + 3) == "of" ? 4u : 3u};
    if (x == "square" && w(i + 1) == "root") return {"sqrt", w(i + 2) == "of" ? 3u : 2u};
    if (x == "sqrt") return {"sqrt", 1};
    if (x == "percent" || x == "%") return {"%", 1};
    if (x == "per" && w(i + 1) == "cent") return {"%", 2};
    if (x == "of" && previous == "%") return {"of", 1};
    const bool bracket = w(i + 1) == "parenthesis" || w(i + 1) == "bracket" || w(i + 1) == "paren";
    if ((x == "open" || x == "left") && bracket) return {"(", 2, false};
    if ((x == "close" || x == "right") && bracket) return {")", 2, false};
    if (x == "(" || x == ")") return {std::string(x), 1, false};
    return {"", 1, false};
}

std::string join_items(const std::vector<std::string>& items, std::size_t count) {
    std::string out;
    for (std::size_t i = 0; i < count; ++i) {
        if (!out.empty()) out += ' ';
        out += items[i];
    }
    return out;
}

// The run as an expression, or with up to three trailing words dropped ("5 + 3 *"), or nullopt.
std::optional<std::string> complete_expression(const std::vector<std::string>& items, const std::vector<bool>& op) {
    for (std::size_t drop = 0; drop <= 3 && drop < items.size(); ++drop) {
        const std::size_t count = items.size() - drop;
        bool has_number = false;
        bool has_operator = false;
        for (std::size_t i = 0; i < count; ++i) {
            has_number = has_number || is_number_word(items[i]);
            has_operator = has_operator || op[i];
        }
        if (!has_number || !has_operator) return std::nullopt;
        std::string e = join_items(items, count);
        if (analyse(e).readable) return e;
    }
    return std::nullopt;
}

}  // namespace

calc_result evaluate(std::string_view expression) {
    try {
        return analyse(expression).result;
    } catch (const std::exception&) {  // only std::bad_alloc can get here
        return {std::nullopt, "I could not work that out.", false};
    }
}

std::optional<std::string> spoken_calculation(std::string_view expression) {
    const analysis a = analyse(expression);
    if (!a.result.value) return std::nullopt;
    return say_tokens(a.tokens) + " is " + spoken_number(*a.result.value) + ".";
}

std::optional<std::string> expression_from_speech(std::string_view text) {
    const std::vector<std::string> t = split(words_to_digits(text));
    std::vector<std::string> items;  // the current run
    std::vector<bool> op;
    for (std::size_t i = 0; i <= t.size();) {
        mapped m = i < t.size() ? map_words(t, i, items.empty() ? std::string() : items.back()) : mapped{};
        if (m.symbols.empty()) {
            if (auto e = complete_expression(items, op)) return e;
            items.clear();
            op.clear();
            ++i;
            continue;
        }
        items.push_back(std::move(m.symbols));
        op.push_back(m.is_operator);
        i += m.words;
    }
    return std::nullopt;
}

tool make_calculate_tool() {
    tool t;
    t.name = "calculate";
    t.description =
        "Work out arithmetic exactly instead of guessing: + - * / ^, percentages (\"15% of 80\"), brackets and "
        "sqrt(). Returns a sentence to say, such as \"17 times 23 is 391.\"";
    t.parameters = {
        {"type", "object"},
        {"properties",
         {{"expression",
           {{"type", "string"},
            {"description", "The arithmetic in symbols, e.g. \"17 * 23\", \"(2 + 3) * 4\", \"15% of 80\", \"sqrt(16)\""}}}}},
        {"required", {"expression"}}};
    t.run = [](const nlohmann::json& args, const tool_context&) -> tool_result {
        if (!args.is_object() || !args.contains("expression") || !args["expression"].is_string())
            return {"calculate needs \"expression\", the arithmetic as a string, for example \"17 * 23\".", true};
        const std::string expression = args["expression"].get<std::string>();
        analysis a = analyse(expression);
        std::optional<std::string> from_speech;  // outlives `a`, whose tokens view into it
        if (!a.readable) {
            // Words rather than symbols: "seventeen times twenty three".
            from_speech = expression_from_speech(expression);
            if (from_speech) a = analyse(*from_speech);
        }
        if (a.result.division_by_zero) return {a.result.error, false};
        if (!a.result.value) return {a.result.error, true};
        return {say_tokens(a.tokens) + " is " + spoken_number(*a.result.value) + ".", false};
    };

    trigger tr;
    tr.keywords = {"plus",        "minus",        "times",          "multiplied by", "divided by",
                   "percent of",  "squared",      "cubed",          "square root",   "to the power",
                   "calculate"};
    // Few and common: every phrase dilutes the recognizer's bias towards all the others (with ten
    // here, "what time is it" over an 8 kHz line came out as "what kind of eight", from "power of
    // eight"). The keywords still fire on the rest ("squared", "to the power", ...).
    tr.phrases = {"what is five plus three", "what is seventeen times twenty three", "what is ten divided by two",
                  "what is nine minus four"};
    tr.arguments = [](std::string_view raw, std::string_view normalized) -> std::optional<nlohmann::json> {
        auto e = expression_from_speech(raw);
        if (!e) e = expression_from_speech(normalized);
        if (!e) return std::nullopt;
        return nlohmann::json{{"expression", *e}};
    };
    tr.ask = "Which numbers should I calculate?";
    tr.priority = 40;
    t.triggers.push_back(std::move(tr));
    return t;
}

}  // namespace sipvoice::agent
