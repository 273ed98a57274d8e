#include "sentence_splitter.hpp"

#include <array>
#include <cctype>

namespace sipvoice::agent {
namespace {

bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// The word that ends at `end` (exclusive), lower case.
std::string word_before(std::string_view s, std::size_t end) {
    std::size_t b = end;
    while (b > 0 && !space(s[b - 1])) --b;
    std::string w(s.substr(b, end - b));
    for (char& c : w) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return w;
}

bool abbreviation(const std::string& w) {
    static constexpr std::array<std::string_view, 16> list = {"mr", "mrs", "ms", "dr", "st", "vs", "etc", "e.g",
                                                              "i.e", "approx", "no", "jr", "sr", "prof", "inc", "ltd"};
    if (w.size() == 1 && std::isalpha(static_cast<unsigned char>(w[0])) != 0) return true;  // an initial
    for (auto a : list)
        if (w == a) return true;
    return false;
}

std::string trim(std::string_view s) {
    std::size_t b = 0, e = s.size();
    while (b < e && space(s[b])) ++b;
    while (e > b && space(s[e - 1])) --e;
    return std::string(s.substr(b, e - b));
}

}  // namespace

std::string speakable(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    bool line_start = true;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '*' || c == '#' || c == '`' || (c == '_' && i + 1 < text.size() && text[i + 1] == '_')) {
            if (c == '_') ++i;
            continue;
        }
        if (line_start && (c == '-' || c == '+') && i + 1 < text.size() && text[i + 1] == ' ') continue;  // bullet
        if (space(c)) {
            if (c == '\n') line_start = true;
            if (!out.empty() && out.back() != ' ') out.push_back(' ');
            continue;
        }
        line_start = false;
        out.push_back(c);
    }
    return trim(out);
}

std::vector<std::string> sentence_splitter::feed(std::string_view text) {
    pending_.append(text);
    std::vector<std::string> out;
    std::size_t start = 0;
    // A boundary needs the character after the punctuation, so the last one waits for more text.
    for (std::size_t i = scanned_; i + 1 < pending_.size(); ++i) {
        const char c = pending_[i];
        bool end = false;
        if (c == '\n') {
            end = true;
        } else if ((c == '.' || c == '!' || c == '?' || c == ';') && space(pending_[i + 1])) {
            end = true;
            if (c == '.') {
                if (i > 0 && pending_[i - 1] == '.') end = false;             // "..." runs on
                else if (abbreviation(word_before(pending_, i))) end = false;  // "Dr." "e.g."
            }
        }
        if (!end) continue;
        std::string s = speakable(std::string_view(pending_).substr(start, i + 1 - start));
        if (!s.empty()) out.push_back(std::move(s));
        start = i + 1;
    }
    pending_.erase(0, start);
    scanned_ = pending_.empty() ? 0 : pending_.size() - 1;
    return out;
}

std::string sentence_splitter::flush() {
    std::string s = speakable(pending_);
    pending_.clear();
    scanned_ = 0;
    return s;
}

}  // namespace sipvoice::agent
