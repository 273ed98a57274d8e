#include "spoken.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

namespace sipvoice::agent {
namespace {

using words = std::vector<std::string>;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_alnum(char c) { return is_digit(c) || is_alpha(c); }

// ---------------------------------------------------------------- tokens

// Lower-case ASCII; the few non-ASCII characters that matter in speech or arithmetic mapped to
// ASCII (the typographic apostrophe a recognizer may write, × ÷ and the minus sign); every other
// non-ASCII byte is a space.
std::string to_ascii(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            out += static_cast<char>(std::tolower(c));
            continue;
        }
        const std::string_view rest = text.substr(i);
        if (rest.starts_with("\xE2\x80\x99") || rest.starts_with("\xE2\x80\x98")) {  // U+2019, U+2018
            out += '\'';
            i += 2;
        } else if (rest.starts_with("\xE2\x88\x92")) {  // U+2212 MINUS SIGN
            out += '-';
            i += 2;
        } else if (rest.starts_with("\xC3\x97")) {  // U+00D7 MULTIPLICATION SIGN
            out += '*';
            i += 1;
        } else if (rest.starts_with("\xC3\xB7")) {  // U+00F7 DIVISION SIGN
            out += '/';
            i += 1;
        } else {
            out += ' ';
        }
    }
    return out;
}

bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (const char c : s)
        if (!is_digit(c)) return false;
    return true;
}

// "12", "2.5": digits with at most one inner '.'.
bool is_plain_decimal(std::string_view s) {
    const auto dot = s.find('.');
    if (dot == std::string_view::npos) return all_digits(s);
    return all_digits(s.substr(0, dot)) && all_digits(s.substr(dot + 1));
}

// See "Tokens" in spoken.hpp.
words tokenize(std::string_view text) {
    const std::string s = to_ascii(text);
    words out;
    std::string cur;
    auto flush = [&] {
        if (!cur.empty()) out.push_back(std::move(cur));
        cur.clear();
    };
    auto at = [&s](std::size_t i) { return i < s.size() ? s[i] : ' '; };
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        const char prev = i > 0 ? s[i - 1] : ' ';
        const char next = at(i + 1);
        if (is_alnum(c)) {
            // "10min" -> "10 min"; "5x3" -> "5 * 3".
            if (is_alpha(c) && !cur.empty() && is_digit(cur.back())) {
                flush();
                if (c == 'x' && is_digit(next)) {
                    out.emplace_back("*");
                    continue;
                }
            }
            cur += c;
        } else if (c == '\'' && !cur.empty() && is_alnum(prev) && is_alnum(next)) {
            cur += c;
        } else if (c == '.' && is_digit(next) && cur.empty()) {
            cur = "0.";  // ".5"
        } else if (c == '.' && is_digit(next) && all_digits(cur)) {
            cur += c;
        } else if (c == ':' && is_digit(next) && !cur.empty() && is_digit(cur.back()) && is_digit(cur.front()) &&
                   cur.find('.') == std::string::npos) {
            cur += c;
        } else if (c == ',' && all_digits(cur) && is_digit(next) && is_digit(at(i + 2)) && is_digit(at(i + 3)) &&
                   !is_digit(at(i + 4))) {
            // thousands separator: "1,000" (the digits continue in cur)
        } else if (c == '-' && is_alnum(prev) && is_alnum(next) && (is_alpha(prev) || is_alpha(next))) {
            flush();  // a hyphen: "twenty-three"
        } else if (c == '+' || c == '-' || c == '*' || c == '/' || c == '^' || c == '%' || c == '(' || c == ')' ||
                   c == '=') {
            flush();
            out.emplace_back(1, c);
        } else {
            flush();
        }
    }
    flush();
    return out;
}

std::string join(const words& w) {
    std::string out;
    for (const auto& x : w) {
        if (!out.empty()) out += ' ';
        out += x;
    }
    return out;
}

// ---------------------------------------------------------------- number words

int small_value(std::string_view w) {  // zero..nineteen, or -1
    static constexpr std::array<std::string_view, 20> names = {
        "zero", "one",    "two",    "three",    "four",     "five",    "six",     "seven",     "eight",    "nine",
        "ten",  "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"};
    for (std::size_t i = 0; i < names.size(); ++i)
        if (names[i] == w) return static_cast<int>(i);
    return -1;
}

int tens_value(std::string_view w) {  // twenty..ninety, or -1
    static constexpr std::array<std::string_view, 8> names = {"twenty", "thirty",  "forty",  "fifty",
                                                              "sixty",  "seventy", "eighty", "ninety"};
    for (std::size_t i = 0; i < names.size(); ++i)
        if (names[i] == w) return 20 + 10 * static_cast<int>(i);
    return -1;
}

// thousand..trillion as a power of ten (3..12), or 0.
int scale_power(std::string_view w) {
    if (w == "thousand") return 3;
    if (w == "million") return 6;
    if (w == "billion") return 9;
    if (w == "trillion") return 12;
    return 0;
}

std::uint64_t pow10(int n) {
    std::uint64_t v = 1;
    while (n-- > 0) v *= 10;
    return v;
}

// A digit said after "point": zero..nine or "oh"; -1 otherwise.
int digit_word(std::string_view w) {
    if (w == "oh") return 0;
    const int v = small_value(w);
    return v >= 0 && v <= 9 ? v : -1;
}

bool is_number_word(std::string_view w) { return small_value(w) >= 0 || tens_value(w) >= 0; }

bool is_multiplier(std::string_view w) { return w == "hundred" || w == "dozen" || scale_power(w) != 0; }

// digits.frac times 10^zeros, as plain decimal digits without leading zeros.
std::string shift_decimal(const std::string& int_digits, const std::string& frac, std::size_t zeros) {
    std::string s = int_digits + frac;
    const std::size_t point = int_digits.size() + zeros;
    if (s.size() < point) s.append(point - s.size(), '0');
    std::string int_part = s.substr(0, point);
    std::string frac_part = s.substr(point);
    while (int_part.size() > 1 && int_part.front() == '0') int_part.erase(0, 1);
    while (!frac_part.empty() && frac_part.back() == '0') frac_part.pop_back();
    return frac_part.empty() ? int_part : int_part + "." + frac_part;
}

struct phrase {
    std::string digits;
    std::size_t end = 0;  // the index after the phrase
};

// "and a half", "and a quarter", "and three quarters" at t[i]: the fraction's digits, or "".
std::string and_fraction(const words& t, std::size_t i, std::size_t* end) {
    if (i + 2 >= t.size() || t[i] != "and") return "";
    std::string frac;
    if (t[i + 1] == "a" && t[i + 2] == "half") frac = "5";
    else if (t[i + 1] == "a" && t[i + 2] == "quarter") frac = "25";
    else if (t[i + 1] == "three" && t[i + 2] == "quarters") frac = "75";
    if (!frac.empty()) *end = i + 3;
    return frac;
}

// What may follow a number and change it: multipliers ("5 hundred", "1.5 million", "2 dozen", and
// the second "thousand" of "one thousand one thousand") and "and a half". Applied to every number,
// in words or in digits, so that words_to_digits(words_to_digits(x)) == words_to_digits(x). A
// number longer than 64 digits takes no more: nobody says one, and it keeps the work linear.
std::string with_suffixes(std::string number, const words& t, std::size_t& j) {
    while (j < t.size() && number.size() <= 64 && is_plain_decimal(number)) {
        const auto dot = number.find('.');
        const std::string int_digits = number.substr(0, dot);
        const std::string frac = dot == std::string::npos ? "" : number.substr(dot + 1);
        const std::string& w = t[j];
        std::size_t end = j + 1;
        if (w == "hundred") {
            number = shift_decimal(int_digits, frac, 2);
        } else if (const int p = scale_power(w); p != 0) {
            number = shift_decimal(int_digits, frac, static_cast<std::size_t>(p));
        } else if (w == "dozen" && frac.empty() && int_digits.size() <= 15) {
            std::uint64_t v = 0;
            std::from_chars(int_digits.data(), int_digits.data() + int_digits.size(), v);
            number = std::to_string(v * 12);
        } else if (const std::string f = frac.empty() ? and_fraction(t, j, &end) : ""; !f.empty()) {
            number = shift_decimal(int_digits, f, 0);
        } else {
            break;
        }
        j = end;
    }
    return number;
}

// A number said in words starting at t[i] ("twenty three", "a hundred and five", "two point five"),
// without its suffixes. nullopt when t[i] starts none.
std::optional<phrase> number_phrase(const words& t, std::size_t i) {

    enum class kind { none, zero, unit, teen, tens, hundred, scale, conj };
    std::uint64_t total = 0;
    std::uint64_t current = 0;  // the group below the last scale word
    int last_scale = 99;        // scale words must come in decreasing order
    kind last = kind::none;
    std::size_t j = i;
    const std::size_t n = t.size();
    auto next_is_number_word = [&](std::size_t k) { return k + 1 < n && is_number_word(t[k + 1]) && t[k + 1] != "zero"; };

    if ((t[i] == "a" || t[i] == "an") && i + 1 < n && is_multiplier(t[i + 1])) {
        current = 1;
        last = kind::unit;
        j = i + 1;
    }
    for (; j < n; ++j) {
        const std::string& w = t[j];
        const int small = small_value(w);
        const int tens = tens_value(w);
        const bool group_open = last == kind::none || last == kind::hundred || last == kind::scale || last == kind::conj;
        if (small == 0) {
            if (last != kind::none) break;
            last = kind::zero;
        } else if (small >= 1 && small <= 9) {
            if (!group_open && last != kind::tens) break;
            current += static_cast<std::uint64_t>(small);
            last = kind::unit;
        } else if (small >= 10 || tens >= 0) {
            if (!group_open) break;
            current += static_cast<std::uint64_t>(small >= 10 ? small : tens);
            last = small >= 10 ? kind::teen : kind::tens;
        } else if (w == "hundred") {
            if ((last != kind::unit && last != kind::teen && last != kind::tens) || current % 100 != current) break;
            current *= 100;
            last = kind::hundred;
        } else if (const int p = scale_power(w); p != 0) {
            if ((last != kind::unit && last != kind::teen && last != kind::tens && last != kind::hundred) || p >= last_scale)
                break;
            total += current * pow10(p);
            current = 0;
            last_scale = p;
            last = kind::scale;
        } else if (w == "dozen") {
            if ((last != kind::unit && last != kind::teen && last != kind::tens) || total != 0 || current >= 100) break;
            current *= 12;
            ++j;
            break;
        } else if (w == "and") {
            if ((last != kind::hundred && last != kind::scale) || !next_is_number_word(j)) break;
            last = kind::conj;
        } else if (w == "point") {
            if (j + 1 >= n || digit_word(t[j + 1]) < 0) break;
            std::string frac;
            ++j;
            while (j < n && digit_word(t[j]) >= 0) frac += static_cast<char>('0' + digit_word(t[j++]));
            return phrase{shift_decimal(std::to_string(total + current), frac, 0), j};
        } else {
            break;
        }
    }
    if (last == kind::none || j == i) return std::nullopt;
    return phrase{std::to_string(total + current), j};
}

bool is_time_unit_word(std::string_view w) { return w == "hour" || w == "minute" || w == "second"; }

bool is_numeric(std::string_view w) { return !w.empty() && is_digit(w.front()); }

words digits_of(std::string_view text) {
    const words t = tokenize(text);
    words out;
    for (std::size_t i = 0; i < t.size();) {
        std::optional<std::string> number;
        std::size_t j = i + 1;
        if (t[i] == "point" && i + 1 < t.size() && digit_word(t[i + 1]) >= 0) {
            // "point five": a number that starts with its decimal point
            std::string frac;
            while (j < t.size() && digit_word(t[j]) >= 0) frac += static_cast<char>('0' + digit_word(t[j++]));
            number = shift_decimal("0", frac, 0);
        } else if (t[i] == "oh" && !out.empty() && is_numeric(out.back()) && i + 1 < t.size() && digit_word(t[i + 1]) >= 1) {
            number = std::string("0") + static_cast<char>('0' + digit_word(t[i + 1]));  // "seven oh five"
            j = i + 2;
        } else if (auto p = number_phrase(t, i)) {
            number = std::move(p->digits);
            j = p->end;
        } else if (is_plain_decimal(t[i])) {
            number = t[i];
        }
        if (number) {
            out.push_back(with_suffixes(std::move(*number), t, j));
            i = j;
            continue;
        }
        if ((t[i] == "a" || t[i] == "an") && i + 1 < t.size() && is_time_unit_word(t[i + 1]) &&
            (out.empty() || out.back() != "half")) {
            out.emplace_back("1");
        } else {
            out.push_back(t[i]);
        }
        ++i;
    }
    return out;
}

std::optional<double> number_value(std::string_view w) {
    if (!is_plain_decimal(w)) return std::nullopt;
    double v = 0;
    const auto r = std::from_chars(w.data(), w.data() + w.size(), v);
    if (r.ec != std::errc{} || r.ptr != w.data() + w.size() || !std::isfinite(v)) return std::nullopt;
    return v;
}

std::optional<int> small_int(std::string_view w, int max) {
    if (!all_digits(w) || w.size() > 4) return std::nullopt;
    int v = 0;
    std::from_chars(w.data(), w.data() + w.size(), v);
    if (v > max) return std::nullopt;
    return v;
}

// ---------------------------------------------------------------- durations

double unit_seconds(std::string_view w) {  // 0: not a unit
    if (w == "second" || w == "seconds" || w == "sec" || w == "secs") return 1;
    if (w == "minute" || w == "minutes" || w == "min" || w == "mins") return 60;
    if (w == "hour" || w == "hours" || w == "hr" || w == "hrs" || w == "h") return 3600;
    if (w == "day" || w == "days") return 86400;
    return 0;
}

struct part {
    double seconds = 0;
    std::size_t end = 0;
};

// One part of a duration at t[i]: "10 minutes", "1 hour and a half", "half an hour", "a quarter of
// an hour", "3 quarters of an hour".
std::optional<part> duration_part(const words& t, std::size_t i) {
    const std::size_t n = t.size();
    auto word = [&](std::size_t k) -> std::string_view { return k < n ? std::string_view(t[k]) : std::string_view(); };
    // "half an hour", "half hour", "a quarter of an hour", "quarter hour"
    double fraction = 0;
    std::size_t j = i;
    if (word(j) == "a") ++j;
    if (word(j) == "half") fraction = 0.5;
    else if (word(j) == "quarter") fraction = 0.25;
    else if (word(i) != "a" && number_value(word(i)) && word(i + 1) == "quarters") {
        fraction = 0.25 * *number_value(word(i));
        j = i + 1;
    }
    if (fraction > 0) {
        ++j;
        if (word(j) == "of") ++j;
        if (word(j) == "a" || word(j) == "an" || word(j) == "1") ++j;
        const double u = unit_seconds(word(j));
        if (u == 0) return std::nullopt;
        return part{fraction * u, j + 1};
    }
    const auto v = number_value(word(i));
    if (!v) return std::nullopt;
    const double u = unit_seconds(word(i + 1));
    if (u == 0) return std::nullopt;
    part p{*v * u, i + 2};
    if (word(p.end) == "and" && word(p.end + 1) == "a" && word(p.end + 2) == "half") {
        p.seconds += u / 2;
        p.end += 3;
    }
    return p;
}

constexpr double max_duration_seconds = 10.0 * 365 * 86400;

// ---------------------------------------------------------------- clock times

// "a m" -> "am", "p m" -> "pm", "o clock" / "oclock" -> "o'clock".
words join_markers(words t) {
    words out;
    for (std::size_t i = 0; i < t.size(); ++i) {
        const bool pair = i + 1 < t.size();
        if (pair && (t[i] == "a" || t[i] == "p") && t[i + 1] == "m" && !out.empty()) {
            out.push_back(t[i] + "m");
            ++i;
        } else if (pair && t[i] == "o" && t[i + 1] == "clock") {
            out.emplace_back("o'clock");
            ++i;
        } else if (t[i] == "oclock") {
            out.emplace_back("o'clock");
        } else {
            out.push_back(t[i]);
        }
    }
    return out;
}

enum class meridiem { none, am, pm, oclock, noon, midnight };

// The marker after a time at t[i], and the index after it.
meridiem marker_at(const words& t, std::size_t i, std::size_t* end) {
    auto word = [&](std::size_t k) -> std::string_view { return k < t.size() ? std::string_view(t[k]) : std::string_view(); };
    *end = i;
    auto take = [&](std::size_t count, meridiem m) {
        *end = i + count;
        return m;
    };
    if (word(i) == "am") return take(1, meridiem::am);
    if (word(i) == "pm") return take(1, meridiem::pm);
    if (word(i) == "o'clock") return take(1, meridiem::oclock);
    if (word(i) == "noon" || word(i) == "midday") return take(1, meridiem::noon);
    if (word(i) == "midnight") return take(1, meridiem::midnight);
    if (word(i) == "tonight") return take(1, meridiem::pm);
    if (word(i) == "in" && word(i + 1) == "the") {
        if (word(i + 2) == "morning") return take(3, meridiem::am);
        if (word(i + 2) == "afternoon" || word(i + 2) == "evening") return take(3, meridiem::pm);
    }
    if (word(i) == "at" && word(i + 1) == "night") return take(2, meridiem::pm);
    return meridiem::none;
}

// The hour said as `h` with marker `m` on a 24 h clock, or -1.
int apply_marker(int h, int minute, meridiem m) {
    switch (m) {
        case meridiem::none:
        case meridiem::oclock:
            if (m == meridiem::oclock && minute != 0) return -1;
            if (h == 24 && minute == 0) return 0;
            return h <= 23 ? h : -1;
        case meridiem::am:
            if (h < 1 || h > 12) return -1;
            return h % 12;
        case meridiem::pm:
            if (h < 1 || h > 23) return -1;
            return h >= 12 ? h : h + 12;
        case meridiem::noon:
            return h == 12 && minute == 0 ? 12 : -1;
        case meridiem::midnight:
            return h == 12 && minute == 0 ? 0 : -1;
    }
    return -1;
}

// After a bare "at 5": words that make it a quantity, not a time.
bool is_quantity_word(std::string_view w) {
    if (unit_seconds(w) != 0) return true;
    static constexpr std::string_view list[] = {"percent", "%",          "times", "degrees", "plus",   "minus",
                                                "*",       "/",          "+",     "-",       "^",      "divided",
                                                "multiplied", "dollars", "euros", "pounds",  "people", "weeks"};
    for (const auto x : list)
        if (x == w) return true;
    return false;
}

// A time as said, before its marker: hour and minute, or an hour and minutes before or after it.
struct said_time {
    int hour = 0;
    int minute = 0;
    int offset = 0;         // minutes from hour:00 ("quarter to 8": -15), when relative
    bool relative = false;  // "half past 6"
    std::size_t end = 0;    // the index after it
};

std::string_view word_at(const words& t, std::size_t k) { return k < t.size() ? std::string_view(t[k]) : std::string_view(); }

// "half past 6", "a quarter to 8", "10 past 9", "20 minutes to 7", "10 past noon".
std::optional<said_time> relative_time(const words& t, std::size_t i) {
    std::size_t k = i;
    if (word_at(t, k) == "a" && word_at(t, k + 1) == "quarter") ++k;
    const std::string_view amount_word = word_at(t, k);
    int amount = -1;
    if (amount_word == "half") amount = 30;
    else if (amount_word == "quarter") amount = 15;
    else if (auto v = small_int(amount_word, 59); v && *v >= 1) amount = *v;
    if (amount < 0) return std::nullopt;
    std::size_t m = k + 1;
    const bool counted = amount_word != "half" && amount_word != "quarter";
    if (counted && (word_at(t, m) == "minute" || word_at(t, m) == "minutes")) ++m;
    const bool past = word_at(t, m) == "past" || word_at(t, m) == "after";
    const bool to = (word_at(t, m) == "to" || word_at(t, m) == "before") && amount_word != "half";
    if (!past && !to) return std::nullopt;
    const std::string_view hour_word = word_at(t, m + 1);
    std::optional<int> h = small_int(hour_word, 23);
    if (hour_word == "noon" || hour_word == "midday") h = 12;
    if (hour_word == "midnight") h = 0;
    if (!h) return std::nullopt;
    return said_time{*h, 0, past ? amount : -amount, true, m + 2};
}

// "19:00", "7:30:15", "730" / "1900" (only after "at": alone they are years or counts), "7",
// "7 30", "7 05".
std::optional<said_time> digits_time(const words& t, std::size_t i, bool at) {
    const std::string_view w = word_at(t, i);
    if (const auto colon = w.find(':'); colon != std::string_view::npos) {
        const auto h = small_int(w.substr(0, colon), 24);
        std::string_view rest = w.substr(colon + 1);
        if (const auto c2 = rest.find(':'); c2 != std::string_view::npos) {
            if (rest.size() - c2 - 1 != 2 || !small_int(rest.substr(c2 + 1), 59)) return std::nullopt;
            rest = rest.substr(0, c2);  // seconds are dropped
        }
        const auto m = rest.size() == 2 ? small_int(rest, 59) : std::nullopt;
        if (!h || !m) return std::nullopt;
        return said_time{*h, *m, 0, false, i + 1};
    }
    if (all_digits(w) && (w.size() == 3 || w.size() == 4)) {
        const auto v = small_int(w, 2459);
        if (!at || !v || *v % 100 > 59) return std::nullopt;
        return said_time{*v / 100, *v % 100, 0, false, i + 1};
    }
    const auto h = all_digits(w) && w.size() <= 2 ? small_int(w, 24) : std::nullopt;
    if (!h) return std::nullopt;
    const std::string_view next = word_at(t, i + 1);
    if (next.size() == 2 && all_digits(next)) {
        const auto m = small_int(next, 59);
        if (!m) return std::nullopt;
        return said_time{*h, *m, 0, false, i + 2};
    }
    return said_time{*h, 0, 0, false, i + 1};
}

std::optional<clock_time> time_at(const words& t, std::size_t i) {
    const bool at = (i >= 1 && t[i - 1] == "at") ||
                    (i >= 2 && t[i - 2] == "at" && (t[i - 1] == "around" || t[i - 1] == "about" || t[i - 1] == "exactly"));
    if (word_at(t, i) == "noon" || word_at(t, i) == "midday") return clock_time{12, 0};
    if (word_at(t, i) == "midnight") return clock_time{0, 0};

    auto said = relative_time(t, i);
    if (!said) said = digits_time(t, i, at);
    if (!said) return std::nullopt;
    std::size_t after = said->end;
    const meridiem m = marker_at(t, said->end, &after);
    if (!at && m == meridiem::none) return std::nullopt;
    // "at 5 minutes", "at 10 percent": a quantity. ("at 1900 hours" is a time.)
    if (m == meridiem::none && !said->relative && said->end == i + 1 && t[i].size() <= 2 &&
        is_quantity_word(word_at(t, said->end)))
        return std::nullopt;
    const int h24 = apply_marker(said->hour, said->minute, m);
    if (h24 < 0) return std::nullopt;
    const int total = ((h24 * 60 + said->minute + said->offset) % 1440 + 1440) % 1440;
    return clock_time{total / 60, total % 60};
}

// ---------------------------------------------------------------- speaking

// "12", "12.5", "12.125": an integer and thousandths (0..999), trailing zeros cut.
std::string trimmed_decimals(std::uint64_t int_part, std::uint64_t frac) {
    std::string s = std::to_string(int_part);
    if (frac != 0) {
        char buf[4];
        std::snprintf(buf, sizeof buf, "%03u", static_cast<unsigned>(frac));
        std::string f = buf;
        while (f.back() == '0') f.pop_back();
        s += "." + f;
    }
    return s;
}

std::string plural(std::int64_t n, std::string_view unit) {
    return std::to_string(n) + " " + std::string(unit) + (n == 1 ? "" : "s");
}

}  // namespace

std::string words_to_digits(std::string_view text) { return join(digits_of(text)); }

std::optional<std::chrono::seconds> parse_duration(std::string_view text) {
    const words t = digits_of(text);
    for (std::size_t i = 0; i < t.size(); ++i) {
        auto first = duration_part(t, i);
        if (!first) continue;
        double total = first->seconds;
        std::size_t j = first->end;
        while (j < t.size()) {
            const std::size_t k = t[j] == "and" ? j + 1 : j;
            const auto more = duration_part(t, k);
            if (!more) break;
            total += more->seconds;
            j = more->end;
        }
        if (!(total <= max_duration_seconds)) return std::nullopt;
        return std::chrono::seconds(std::llround(total));
    }
    return std::nullopt;
}

std::optional<clock_time> parse_clock_time(std::string_view text) {
    const words t = join_markers(digits_of(text));
    for (std::size_t i = 0; i < t.size(); ++i)
        if (auto c = time_at(t, i)) return c;
    return std::nullopt;
}

std::string spoken_number(double v) {
    if (std::isnan(v)) return "not a number";
    if (std::isinf(v)) return v < 0 ? "minus infinity" : "infinity";
    const double a = std::fabs(v);
    const std::string sign = v < 0 ? "minus " : "";
    if (a < 1e15) {
        // Below 2^53 a double holds every integer exactly; the fraction is rounded on its own, since
        // a * 1000 would not be exact any more near 10^15.
        const double whole = std::floor(a);
        auto int_part = static_cast<std::uint64_t>(whole);
        auto frac = static_cast<std::uint64_t>(std::llround((a - whole) * 1000.0));
        if (frac == 1000) {
            ++int_part;
            frac = 0;
        }
        if (int_part == 0 && frac == 0) return "0";
        return sign + trimmed_decimals(int_part, frac);
    }
    // Mantissa to 3 decimals and a power of ten, the mantissa in [1, 1000) for the named scales.
    int exp10 = static_cast<int>(std::floor(std::log10(a)));
    double mantissa = a / std::pow(10.0, exp10);
    auto thousandths = static_cast<std::uint64_t>(std::llround(mantissa * 1000.0));
    if (thousandths >= 10000) {  // 9.9996 rounds up to 10
        thousandths = 1000;
        ++exp10;
    }
    if (exp10 < 21) {
        const int group = exp10 - exp10 % 3;  // 15 or 18
        const std::uint64_t scaled = thousandths * pow10(exp10 - group);
        return sign + trimmed_decimals(scaled / 1000, scaled % 1000) + (group == 15 ? " quadrillion" : " quintillion");
    }
    return sign + trimmed_decimals(thousandths / 1000, thousandths % 1000) + " times 10 to the power of " + std::to_string(exp10);
}

std::string spoken_duration(std::chrono::seconds s) {
    std::int64_t n = s.count();
    if (n == 0) return "0 seconds";
    std::string sign;
    if (n < 0) {
        sign = "minus ";
        n = n == INT64_MIN ? INT64_MAX : -n;
    }
    std::vector<std::string> parts;
    if (n / 3600 != 0) parts.push_back(plural(n / 3600, "hour"));
    if (n % 3600 / 60 != 0) parts.push_back(plural(n % 3600 / 60, "minute"));
    if (n % 60 != 0) parts.push_back(plural(n % 60, "second"));
    std::string out = sign;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (i > 0) out += i + 1 == parts.size() ? " and " : ", ";
        out += parts[i];
    }
    return out;
}

}  // namespace sipvoice::agent
