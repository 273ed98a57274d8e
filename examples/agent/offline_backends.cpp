#include "offline_backends.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <system_error>
#include <unistd.h>

#include <flite/flite.h>
#include <pocketsphinx.h>
#include <sphinxbase/ckd_alloc.h>
#include <sphinxbase/err.h>
#include <sphinxbase/ngram_model.h>

#include "sentence_splitter.hpp"
#include "sipvoice/codec/resampler.hpp"
#include "tools.hpp"

// The slt voice's registration function; flite declares no header for it (flite_voice_list.c declares
// it the same way).
extern "C" cst_voice* register_cmu_us_slt(const char* voxdir);

namespace sipvoice::agent {

// ================================================================ the rule brain
namespace {

// What the rule brain says without a tool: the pleasantries around the tools.
struct chat_rule {
    std::string_view intent;
    std::vector<std::string_view> keywords;  // whole-word sequences of the normalized text
    std::vector<std::string_view> phrases;   // the recognizer's bias; each must fire this rule
    std::string_view reply;                  // "{abilities}" is replaced by what the tools can do
    int priority;                            // against the tools' triggers (tools.hpp)
    bool farewell = false;                   // the reply is the configured farewell, and the call ends
};

// hang_up's trigger, for the goodbye rule below.
const trigger& goodbye() {
    static const trigger t = *builtin_tools().find("hang_up")->triggers.begin();
    return t;
}

// "no thanks" is a "no" (the caller declines) rather than a thanks; a question beats the
// pleasantries around it ("hello, what time is it").
const std::vector<chat_rule>& chat_rules() {
    static const std::vector<chat_rule> table = {
        // A registry without hang_up: a goodbye still ends the call after the farewell (staying on
        // the line after it would confuse the caller). Right after hang_up's own trigger.
        {"goodbye", {goodbye().keywords.begin(), goodbye().keywords.end()}, {}, "", goodbye().priority + 1, true},
        {"help",
         {"help", "what can you do", "what do you do", "what can i ask", "options"},
         {"help", "what can you do", "can you help me"},
         "I can {abilities}, and I hang up when you say goodbye. What would you like?",
         80},
        {"no", {"no", "nope", "nothing", "no thanks"}, {"no", "no thanks", "nothing"},
         "All right. Say goodbye whenever you want to end the call.", 81},
        {"thanks", {"thank you", "thanks", "thank"}, {"thank you", "thanks"},
         "You're welcome. Is there anything else?", 82},
        {"greeting",
         {"hello", "hi", "hey", "good morning", "good afternoon", "good evening", "howdy"},
         {"hello", "hi", "hey", "good morning", "good afternoon", "good evening"},
         "Hello! I can {abilities}. What would you like?", 83},
        {"yes", {"yes", "yeah", "yep", "sure", "okay", "ok"}, {"yes", "yeah", "okay"},
         "Go ahead: I can {abilities}.", 84},
    };
    return table;
}

constexpr std::string_view not_understood = "Sorry, I did not understand. Say help to hear what I can do.";

// Lower case ASCII words, one space apart, with a space at both ends so that " kw " finds whole
// words. An apostrophe inside a word stays ("what's"; the typographic one an STT may write becomes
// ASCII); anywhere else it is punctuation ("'time'").
std::string normalize(std::string_view text) {
    std::string ascii;
    ascii.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text.substr(i, 3) == "\xE2\x80\x99") {  // U+2019 RIGHT SINGLE QUOTATION MARK
            ascii += '\'';
            i += 2;
        } else {
            ascii += text[i];
        }
    }
    auto alnum = [&ascii](std::size_t i) {
        return i < ascii.size() && std::isalnum(static_cast<unsigned char>(ascii[i])) != 0;
    };
    std::string out = " ";
    for (std::size_t i = 0; i < ascii.size(); ++i) {
        char mapped = ' ';
        if (alnum(i))
            mapped = static_cast<char>(std::tolower(static_cast<unsigned char>(ascii[i])));
        else if (ascii[i] == '\'' && i > 0 && alnum(i - 1) && alnum(i + 1))
            mapped = '\'';
        if (mapped == ' ' && out.back() == ' ') continue;
        out += mapped;
    }
    if (out.back() != ' ') out += ' ';
    return out;
}

// "the clock is broken" -> "The clock is broken."
std::string as_sentence(std::string text) {
    if (text.empty()) return text;
    text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
    if (const char last = text.back(); last != '.' && last != '!' && last != '?') text += '.';
    return text;
}

bool fires(const std::string& padded, std::string_view keyword) {
    return padded.find(" " + std::string(keyword) + " ") != std::string::npos;
}

const tool_registry& fallback_tools() {
    static const tool_registry registry = builtin_tools();
    return registry;
}

// The winner for `text`: a tool's trigger or a chat rule, whichever fires with the lowest priority
// (the registry's order, then the chat table's, breaks ties).
struct match {
    const tool* t = nullptr;
    const trigger* trig = nullptr;
    const chat_rule* chat = nullptr;
    [[nodiscard]] bool found() const { return trig != nullptr || chat != nullptr; }
    [[nodiscard]] std::string_view intent() const {
        if (chat != nullptr) return chat->intent;
        if (trig != nullptr) return trig->intent.empty() ? std::string_view(t->name) : std::string_view(trig->intent);
        return {};
    }
};

match match_text(std::string_view text, const tool_registry& tools) {
    const std::string padded = normalize(text);
    match best;
    int best_priority = 0;
    auto consider = [&](int priority, const match& m) {
        if (!best.found() || priority < best_priority) {
            best = m;
            best_priority = priority;
        }
    };
    for (const auto& t : tools.all())
        for (const auto& trig : t.triggers)
            for (const auto& kw : trig.keywords)
                if (fires(padded, kw)) {
                    consider(trig.priority, {&t, &trig, nullptr});
                    break;
                }
    for (const auto& r : chat_rules())
        for (const auto kw : r.keywords)
            if (fires(padded, kw)) {
                consider(r.priority, {nullptr, nullptr, &r});
                break;
            }
    return best;
}

// "tell you the time and date, do arithmetic and set timers"
std::string abilities(const tool_registry& tools) {
    static const std::vector<std::pair<std::string_view, std::string_view>> said = {
        {"get_datetime", "tell you the time and date"},
        {"calculate", "do arithmetic"},
        {"set_timer", "set timers"},
        {"schedule_callback", "call you back later"},
        {"get_weather", "tell you the weather"},
        {"home_assistant", "switch things at home"},
        {"system_status", "give a system status report"},
        {"transfer_call", "put you through to a person"},
    };
    std::vector<std::string_view> parts;
    for (const auto& [name, words] : said)
        if (tools.find(name) != nullptr) parts.push_back(words);
    if (parts.empty()) return "chat with you";
    std::string out;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (i > 0) out += i + 1 == parts.size() ? " and " : ", ";
        out += parts[i];
    }
    return out;
}

std::string chat_reply(const chat_rule& r, const tool_registry& tools) {
    std::string reply(r.reply);
    if (const auto at = reply.find("{abilities}"); at != std::string::npos) reply.replace(at, 11, abilities(tools));
    return reply;
}

}  // namespace

std::vector<std::string> rule_brain_phrases(const tool_registry* tools) {
    const tool_registry& registry = tools != nullptr ? *tools : fallback_tools();
    std::vector<std::string> out;
    std::set<std::string> seen;
    for (const auto& t : registry.all())
        for (const auto& trig : t.triggers)
            for (const auto& p : trig.phrases)
                if (seen.insert(p).second) out.push_back(p);
    for (const auto& r : chat_rules())
        for (const auto p : r.phrases)
            if (seen.emplace(p).second) out.emplace_back(p);
    return out;
}

std::string rule_brain_intent(std::string_view text, const tool_registry* tools) {
    return std::string(match_text(text, tools != nullptr ? *tools : fallback_tools()).intent());
}

rule_brain::rule_brain(std::string farewell) : farewell_(std::move(farewell)) {}

brain_result rule_brain::respond(const brain_request& request, const std::function<void(std::string_view)>& on_text,
                                 std::stop_token stop) {
    brain_result out;
    if (stop.stop_requested()) return out;

    // The conversation always passes its registry; a caller without one (a test, a tool) still gets
    // the built-in tools rather than a crash.
    const tool_registry& tools = request.tools != nullptr ? *request.tools : fallback_tools();
    const match m = match_text(request.text, tools);
    std::string reply;
    if (request.text.starts_with("The caller pressed ")) {
        // Keypad digits (conversation.cpp): no rule needs them, so they are read back.
        reply = "You pressed " + request.text.substr(19) + ".";
    } else if (!m.found()) {
        reply = not_understood;
    } else if (m.chat != nullptr && m.chat->farewell) {
        reply = farewell_;
        out.end_call = true;
    } else if (m.chat != nullptr) {
        reply = chat_reply(*m.chat, tools);
    } else {
        std::optional<nlohmann::json> args = nlohmann::json::object();
        if (m.trig->arguments) {
            const std::string padded = normalize(request.text);
            args = m.trig->arguments(request.text, std::string_view(padded).substr(1, padded.size() - 2));
        }
        if (!args) {
            reply = m.trig->ask;  // "For how long should I set the timer?"
        } else {
            const std::string id = "call_rule_" + std::to_string(next_call_id_.fetch_add(1) + 1);
            const std::string arguments = args->dump();
            tool_context ctx;
            ctx.call_id = request.call_id;
            ctx.caller = request.caller;
            ctx.now = std::chrono::system_clock::now();
            ctx.services = request.services;
            ctx.stop = stop;
            const tool_result result = tools.call(m.t->name, arguments, ctx);
            out.messages.push_back(
                {{"role", "assistant"},
                 {"content", nullptr},
                 {"tool_calls",
                  nlohmann::json::array({{{"id", id},
                                          {"type", "function"},
                                          {"function", {{"name", m.t->name}, {"arguments", arguments}}}}})}});
            out.messages.push_back({{"role", "tool"}, {"tool_call_id", id}, {"content", result.text}});
            // The goodbye trigger ends the call even when its tool does not say so: its farewell has
            // been said, and staying on the line after it would confuse the caller.
            const bool farewell = m.intent() == "goodbye";
            out.end_call = result.end_call || farewell;
            out.transfer_to = result.transfer_to;
            if (out.end_call)
                reply = farewell_;
            else if (result.error)
                reply = "Sorry, I cannot do that right now. " + as_sentence(result.text);
            else
                reply = result.text;
        }
    }
    out.messages.push_back({{"role", "assistant"}, {"content", reply}});
    if (on_text) on_text(reply);
    return out;
}

// ================================================================ flite
namespace {

// Every synthesis in the process: the slt voice is one object inside flite (see the header).
std::mutex& flite_mutex() {
    static std::mutex m;
    return m;
}

cst_voice* slt_voice() {
    // Registered once: register_cmu_us_slt returns its singleton anyway, and flite_init only needs
    // to run before the first synthesis. A function-local static is initialized once, thread-safely.
    static cst_voice* const voice = [] {
        std::lock_guard lock(flite_mutex());
        flite_init();
        return register_cmu_us_slt(nullptr);
    }();
    return voice;
}

// Flite's front end reads ASCII English: other bytes are not letters it can pronounce (tried: an
// emoji alone gives 0.2 s of silence, "Café" comes out longer than "Cafe"), and control
// characters are not text. So anything but printable ASCII becomes a space, except the typographic
// apostrophes, which an LLM writes often and which must keep "it's" one word.
std::string flite_text(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c == 0xE2 && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x80 &&
            (static_cast<unsigned char>(text[i + 2]) == 0x99 || static_cast<unsigned char>(text[i + 2]) == 0x98)) {
            out += '\'';
            i += 2;
        } else if (c >= 0x20 && c < 0x7F) {
            out += static_cast<char>(c);
        } else {
            out += ' ';
        }
    }
    return out;
}

bool has_word_character(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
}

}  // namespace

std::unique_ptr<flite_tts> flite_tts::create(std::string* error) {
    cst_voice* voice = slt_voice();
    if (voice == nullptr) {
        if (error != nullptr) *error = "tts: flite could not register the cmu_us_slt voice";
        return nullptr;
    }
    const int rate = flite_get_param_int(voice->features, "sample_rate", 16000);
    if (rate <= 0) {
        if (error != nullptr) *error = "tts: flite's cmu_us_slt voice has no sample rate";
        return nullptr;
    }
    return std::unique_ptr<flite_tts>(new flite_tts(static_cast<std::uint32_t>(rate)));
}

std::string flite_tts::synthesize(std::string_view text,
                                  const std::function<void(std::span<const std::int16_t>)>& on_audio,
                                  std::stop_token stop) {
    cst_voice* voice = slt_voice();
    if (voice == nullptr) return "tts: flite's cmu_us_slt voice is not available";
    // The same sentence rule as the conversation's splitter of streamed replies.
    sentence_splitter splitter;
    std::vector<std::string> sentences = splitter.feed(flite_text(text));
    if (std::string rest = splitter.flush(); !rest.empty()) sentences.push_back(std::move(rest));
    for (const auto& sentence : sentences) {
        if (!has_word_character(sentence)) continue;  // "..." alone: nothing to say
        if (stop.stop_requested()) return "";
        std::vector<std::int16_t> samples;
        {
            std::lock_guard lock(flite_mutex());
            cst_wave* wave = flite_text_to_wave(sentence.c_str(), voice);
            if (wave == nullptr) return "tts: flite could not synthesize \"" + sentence + "\"";
            const bool rate_ok = wave->sample_rate == static_cast<int>(rate_) && wave->num_channels == 1;
            const int rate = wave->sample_rate;
            if (rate_ok && wave->num_samples > 0)
                samples.assign(wave->samples, wave->samples + wave->num_samples);
            delete_wave(wave);
            if (!rate_ok)
                return "tts: flite produced " + std::to_string(rate) + " Hz, expected mono " + std::to_string(rate_) +
                       " Hz";
        }
        // Outside the lock: on_audio may block (a full playout queue) and must not hold up other calls.
        if (!samples.empty() && on_audio) on_audio(samples);
    }
    return "";
}

// ================================================================ pocketsphinx
namespace {

// sphinxbase logs through one process-wide callback. Ours drops everything, except that while a
// decoder is being created on this thread the warnings and errors are kept, to explain a failure.
thread_local std::string* sphinx_capture = nullptr;

// A printf-style callback (the attribute lets clang check the vsnprintf below).
extern "C" __attribute__((format(printf, 3, 4))) void sphinx_log(void* /*user_data*/, err_lvl_t level, const char* fmt, ...);
extern "C" void sphinx_log(void* /*user_data*/, err_lvl_t level, const char* fmt, ...) {
    if (sphinx_capture == nullptr || level < ERR_WARN) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    std::string s = line;
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    if (s.empty()) return;
    if (!sphinx_capture->empty()) *sphinx_capture += "; ";
    *sphinx_capture += s;
}

void quiet_sphinx() {
    static std::once_flag once;
    std::call_once(once, [] {
        // Both: the callback gets the messages, but the decoder prints its configuration table
        // straight to the log file handle, which only err_set_logfp(NULL) silences.
        err_set_logfp(nullptr);
        err_set_callback(&sphinx_log, nullptr);
    });
}

// Decoder creation: reading the models is not documented as thread-safe (sphinxbase keeps some
// state in statics), and it is rare, so one at a time.
std::mutex& creation_mutex() {
    static std::mutex m;
    return m;
}

// A trigram model of the phrases in ARPA text, with absolute discounting (D = 0.5) and the backoff
// weights that make each history's probabilities sum to one. Small and exact enough for a few
// dozen phrases; the probabilities matter less than the fact that the phrases' word sequences are
// likely.
std::string phrase_arpa(const std::vector<std::string>& phrases) {
    using ngram = std::vector<std::string>;
    constexpr double discount = 0.5;
    std::map<ngram, double> count[4];
    for (const auto& p : phrases) {
        ngram words{"<s>"};
        std::istringstream in(p);
        for (std::string w; in >> w;) words.push_back(w);
        words.emplace_back("</s>");
        for (std::size_t i = 0; i < words.size(); ++i)
            for (std::size_t n = 1; n <= 3 && i + n <= words.size(); ++n)
                count[n][ngram(words.begin() + static_cast<std::ptrdiff_t>(i),
                               words.begin() + static_cast<std::ptrdiff_t>(i + n))] += 1;
    }
    std::map<ngram, double> prob[4];
    std::map<ngram, double> backoff[3];
    double tokens = 0;
    for (const auto& [g, c] : count[1])
        if (g[0] != "<s>") tokens += c;
    for (const auto& [g, c] : count[1]) prob[1][g] = g[0] == "<s>" ? 0.0 : c / tokens;

    // P(g) of the model built so far, backing off to shorter n-grams.
    auto backed_off = [&](ngram g) {
        double weight = 1;
        while (g.size() > 1) {
            if (auto it = prob[g.size()].find(g); it != prob[g.size()].end()) return weight * it->second;
            const ngram history(g.begin(), g.end() - 1);
            if (auto b = backoff[history.size()].find(history); b != backoff[history.size()].end()) weight *= b->second;
            g.erase(g.begin());
        }
        auto it = prob[1].find(g);
        return it == prob[1].end() ? 0.0 : weight * it->second;
    };
    for (std::size_t n = 2; n <= 3; ++n) {
        std::map<ngram, double> history_count;
        std::map<ngram, int> history_types;
        for (const auto& [g, c] : count[n]) {
            const ngram h(g.begin(), g.end() - 1);
            history_count[h] += c;
            ++history_types[h];
        }
        for (const auto& [g, c] : count[n]) prob[n][g] = (c - discount) / history_count[ngram(g.begin(), g.end() - 1)];
        for (const auto& [h, c] : history_count) {
            const double left = discount * history_types[h] / c;
            double seen_lower = 0;
            for (const auto& [g, gc] : count[n])
                if (std::equal(h.begin(), h.end(), g.begin(), g.end() - 1)) seen_lower += backed_off(ngram(g.begin() + 1, g.end()));
            backoff[n - 1][h] = left / std::max(1e-6, 1 - seen_lower);
        }
    }

    std::string out = "\\data\\\n";
    for (std::size_t n = 1; n <= 3; ++n) out += "ngram " + std::to_string(n) + "=" + std::to_string(prob[n].size()) + "\n";
    char number[32];
    for (std::size_t n = 1; n <= 3; ++n) {
        out += "\n\\" + std::to_string(n) + "-grams:\n";
        for (const auto& [g, p] : prob[n]) {
            std::snprintf(number, sizeof number, "%.5f", p > 0 ? std::log10(p) : -99.0);
            out += number;
            for (std::size_t i = 0; i < g.size(); ++i) out += (i == 0 ? "\t" : " ") + g[i];
            if (n < 3 && g.back() != "</s>") {
                auto b = backoff[n].find(g);
                std::snprintf(number, sizeof number, "\t%.5f", std::log10(b == backoff[n].end() ? 1.0 : b->second));
                out += number;
            }
            out += "\n";
        }
    }
    out += "\n\\end\\\n";
    return out;
}

struct decoder {
    ps_decoder_t* ps = nullptr;
    decoder() = default;
    decoder(const decoder&) = delete;
    decoder& operator=(const decoder&) = delete;
    ~decoder() {
        if (ps != nullptr) ps_free(ps);
    }
};

}  // namespace

struct pocketsphinx_stt::impl {
    std::string hmm;
    std::string lm;
    std::string dict;
    std::string arpa;  // the phrase model, written to a temporary file for each new decoder
    std::vector<std::string> words;  // of the phrases, to check against the dictionary
    double phrase_weight = 0.5;
    std::size_t max_decoders = 2;

    mutable std::mutex mutex;
    std::condition_variable_any idle_changed;
    std::vector<std::unique_ptr<decoder>> idle;  // guarded by mutex
    std::size_t created = 0;                     // guarded by mutex

    std::unique_ptr<decoder> make_decoder(std::string* error) const;
    std::unique_ptr<decoder> acquire(std::stop_token stop, std::string* error);
    void release(std::unique_ptr<decoder> d);
};

std::string default_pocketsphinx_model_dir() { return SIPVOICE_POCKETSPHINX_MODEL_DIR; }

const std::set<std::string>& offline_dictionary_words() {
    static const std::set<std::string> words = [] {
        std::set<std::string> w;
        std::ifstream in(std::filesystem::path(default_pocketsphinx_model_dir()) / "cmudict-en-us.dict");
        for (std::string line; std::getline(in, line);) {
            const auto end = line.find_first_of(" (\t");  // "read(2)": another pronunciation of "read"
            if (end != 0) w.insert(line.substr(0, end));
        }
        return w;
    }();
    return words;
}

std::unique_ptr<decoder> pocketsphinx_stt::impl::make_decoder(std::string* error) const {
    std::lock_guard lock(creation_mutex());
    quiet_sphinx();
    std::string log;
    sphinx_capture = &log;
    struct uncapture {
        ~uncapture() { sphinx_capture = nullptr; }
    } restore;
    auto fail = [&](std::string what) {
        if (!log.empty()) what += " (" + log + ")";
        *error = "stt: " + what;
        return nullptr;
    };

    // The language model is set below as a search of its own, so the configuration names only the
    // acoustic model and the dictionary.
    cmd_ln_t* config = cmd_ln_init(nullptr, ps_args(), TRUE, "-hmm", hmm.c_str(), "-dict", dict.c_str(),
                                   static_cast<const char*>(nullptr));
    if (config == nullptr) return fail("pocketsphinx rejected its configuration");
    auto d = std::make_unique<decoder>();
    d->ps = ps_init(config);
    cmd_ln_free_r(config);  // the decoder holds its own reference
    if (d->ps == nullptr) return fail("pocketsphinx could not load the acoustic model " + hmm);

    for (const auto& w : words) {
        char* pron = ps_lookup_word(d->ps, w.c_str());
        if (pron == nullptr) return fail("the phrase word '" + w + "' is not in the dictionary " + dict);
        ckd_free(pron);
    }

    // The models borrow the decoder's log-math tables: in this sphinxbase a model never frees them
    // (ngram_model_read's comment says it takes ownership, but a retained one leaked, measured with
    // LeakSanitizer), and pocketsphinx itself passes them unretained.
    logmath_t* lmath = ps_get_logmath(d->ps);
    ngram_model_t* general = ngram_model_read(ps_get_config(d->ps), lm.c_str(), NGRAM_AUTO, lmath);
    if (general == nullptr) return fail("pocketsphinx could not read the language model " + lm);

    // sphinxbase reads a model from a file only; the file lives for the moment of reading.
    std::error_code ec;
    auto dir = std::filesystem::temp_directory_path(ec);
    if (ec) dir = "/tmp";
    std::string path = (dir / "sipvoice-phrases-XXXXXX").string();
    const int fd = mkstemp(path.data());
    if (fd < 0) {
        ngram_model_free(general);
        return fail("cannot create a temporary file in " + dir.string());
    }
    bool written = ::write(fd, arpa.data(), arpa.size()) == static_cast<ssize_t>(arpa.size());
    written = ::close(fd) == 0 && written;
    ngram_model_t* phrases = written ? ngram_model_read(ps_get_config(d->ps), path.c_str(), NGRAM_ARPA, lmath)
                                     : nullptr;
    ::unlink(path.c_str());
    if (phrases == nullptr) {
        ngram_model_free(general);
        return fail("pocketsphinx could not read the phrase model");
    }

    // Interpolated: P(w | h) = (1 - weight) P_general(w | h) + weight P_phrases(w | h). The set and
    // the search each take their own reference (sphinxbase counts them), so ours are dropped here
    // and the decoder ends up owning everything.
    ngram_model_t* models[2] = {general, phrases};
    const char* names[2] = {"general", "phrases"};
    const float32 weights[2] = {static_cast<float32>(1 - phrase_weight), static_cast<float32>(phrase_weight)};
    ngram_model_t* set = ngram_model_set_init(ps_get_config(d->ps), models, const_cast<char**>(names), weights, 2);
    ngram_model_free(general);
    ngram_model_free(phrases);
    if (set == nullptr) return fail("pocketsphinx could not combine the language models");
    const int set_lm = ps_set_lm(d->ps, "biased", set);
    ngram_model_free(set);
    if (set_lm < 0 || ps_set_search(d->ps, "biased") < 0) return fail("pocketsphinx could not use the language model");
    return d;
}

std::unique_ptr<decoder> pocketsphinx_stt::impl::acquire(std::stop_token stop, std::string* error) {
    {
        std::unique_lock lock(mutex);
        idle_changed.wait(lock, stop, [this] { return !idle.empty() || created < max_decoders; });
        if (stop.stop_requested()) return nullptr;
        if (!idle.empty()) {
            auto d = std::move(idle.back());
            idle.pop_back();
            return d;
        }
        ++created;  // reserved; creation happens outside the lock
    }
    auto d = make_decoder(error);
    if (d == nullptr) {
        std::lock_guard lock(mutex);
        --created;
        idle_changed.notify_one();
    }
    return d;
}

void pocketsphinx_stt::impl::release(std::unique_ptr<decoder> d) {
    std::lock_guard lock(mutex);
    idle.push_back(std::move(d));
    idle_changed.notify_one();
}

pocketsphinx_stt::pocketsphinx_stt(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
pocketsphinx_stt::~pocketsphinx_stt() = default;

std::size_t pocketsphinx_stt::decoders() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->created;
}

std::unique_ptr<pocketsphinx_stt> pocketsphinx_stt::create(const pocketsphinx_options& options, std::string* error) {
    std::string ignored;
    if (error == nullptr) error = &ignored;
    auto p = std::make_unique<impl>();
    const std::filesystem::path dir = options.model_dir.empty() ? default_pocketsphinx_model_dir() : options.model_dir;
    p->hmm = (dir / "en-us").string();
    p->lm = (dir / "en-us.lm.bin").string();
    p->dict = (dir / "cmudict-en-us.dict").string();
    for (const auto& needed : {dir / "en-us" / "mdef", std::filesystem::path(p->lm), std::filesystem::path(p->dict)}) {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(needed, ec)) {
            *error = "stt: pocketsphinx model not found: " + needed.string() +
                     " is missing (Debian: apt install pocketsphinx-en-us; or set the model directory)";
            return nullptr;
        }
    }
    if (!(options.phrase_weight > 0 && options.phrase_weight < 1)) {
        *error = "stt: the phrase weight must be between 0 and 1, not " + std::to_string(options.phrase_weight);
        return nullptr;
    }
    std::vector<std::string> phrases = options.phrases.empty() ? rule_brain_phrases(nullptr) : options.phrases;
    std::set<std::string> words;
    for (auto& ph : phrases) {
        // The dictionary and both language models are lower case.
        std::transform(ph.begin(), ph.end(), ph.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        std::istringstream in(ph);
        for (std::string w; in >> w;) words.insert(w);
    }
    phrases.erase(std::remove_if(phrases.begin(), phrases.end(),
                                 [](const std::string& ph) { return ph.find_first_not_of(" \t") == std::string::npos; }),
                  phrases.end());
    if (phrases.empty()) {
        *error = "stt: no phrases to bias the recognizer with";
        return nullptr;
    }
    p->words.assign(words.begin(), words.end());
    p->arpa = phrase_arpa(phrases);
    p->phrase_weight = options.phrase_weight;
    p->max_decoders = std::max<std::size_t>(1, options.max_decoders);

    auto first = p->make_decoder(error);
    if (first == nullptr) return nullptr;
    p->created = 1;
    p->idle.push_back(std::move(first));
    return std::unique_ptr<pocketsphinx_stt>(new pocketsphinx_stt(std::move(p)));
}

speech_to_text::result pocketsphinx_stt::transcribe(std::span<const std::int16_t> pcm, std::uint32_t rate,
                                                    std::stop_token stop) {
    constexpr std::uint32_t model_rate = 16000;
    std::vector<std::int16_t> resampled;
    if (rate != model_rate) {
        auto rs = codec::resampler::create(rate, model_rate);
        if (!rs) return {"", "stt: cannot resample " + std::to_string(rate) + " Hz to 16000 Hz: " + std::string(rs.error().what())};
        resampled.resize(rs->output_samples(pcm.size()));
        auto n = rs->process(pcm, resampled);
        if (!n) return {"", "stt: resampling failed: " + std::string(n.error().what())};
        resampled.resize(*n);
        pcm = resampled;
    }
    if (pcm.empty()) return {};

    std::string error;
    auto d = impl_->acquire(stop, &error);
    if (d == nullptr) return {"", error};  // stopped while waiting (error empty), or creation failed
    struct give_back {
        impl* owner;
        std::unique_ptr<decoder>& d;
        ~give_back() { owner->release(std::move(d)); }
    } back{impl_.get(), d};

    // The whole turn in one call (full_utt): the acoustic model's features are normalized over the
    // whole utterance (cepstral mean, "-cmn batch"). Fed in pieces, the decoder falls back to a
    // running estimate and, measured on the rule phrases over an 8 kHz line, understood 75 of 124
    // instead of 105. So a stop request is honoured before and after the decoding, which takes a
    // few hundred milliseconds for a turn.
    if (stop.stop_requested()) return {};
    if (ps_start_utt(d->ps) < 0) return {"", "stt: pocketsphinx could not start an utterance"};
    if (ps_process_raw(d->ps, pcm.data(), pcm.size(), FALSE, TRUE) < 0) {
        ps_end_utt(d->ps);
        return {"", "stt: pocketsphinx could not process the audio"};
    }
    if (ps_end_utt(d->ps) < 0) return {"", "stt: pocketsphinx could not finish the utterance"};
    if (stop.stop_requested()) return {};
    const char* hyp = ps_get_hyp(d->ps, nullptr);
    return {hyp == nullptr ? "" : hyp, ""};
}

// ================================================================ the factories

namespace {

// The recognizer shared by make_offline_stt's objects (see the header).
class shared_stt final : public speech_to_text {
public:
    explicit shared_stt(std::shared_ptr<pocketsphinx_stt> stt) : stt_(std::move(stt)) {}
    result transcribe(std::span<const std::int16_t> pcm, std::uint32_t rate, std::stop_token stop) override {
        return stt_->transcribe(pcm, rate, std::move(stop));
    }

private:
    std::shared_ptr<pocketsphinx_stt> stt_;
};

// The phrases whose every word the default dictionary has: a plugin's trigger phrase with a word
// it lacks would make the recognizer refuse the whole list (and the agent not start); that phrase
// only loses its bias (the rule brain still fires on its keywords).
std::vector<std::string> known_phrases(std::vector<std::string> phrases) {
    const auto& words = offline_dictionary_words();
    if (words.empty()) return phrases;  // no dictionary here: pocketsphinx_stt::create says so
    std::erase_if(phrases, [&words](const std::string& p) {
        std::istringstream in(p);
        std::string w;
        while (in >> w)
            if (!words.contains(w)) return true;
        return false;
    });
    return phrases;
}

}  // namespace

std::unique_ptr<speech_to_text> make_offline_stt(const config& cfg, std::string* error, const tool_registry* tools) {
    std::string ignored;
    if (error == nullptr) error = &ignored;
    const std::string& language = cfg.stt.language.empty() ? cfg.agent.language : cfg.stt.language;
    if (!language.empty() && language.rfind("en", 0) != 0) {
        *error = "stt: the offline recognizer (pocketsphinx en-us) understands English only, not '" + language +
                 "'; set stt.backend = \"openai\" for other languages";
        return nullptr;
    }
    static std::mutex mutex;
    static std::weak_ptr<pocketsphinx_stt> shared;
    static std::vector<std::string> shared_phrases;
    std::lock_guard lock(mutex);
    std::vector<std::string> phrases = known_phrases(rule_brain_phrases(tools));
    std::shared_ptr<pocketsphinx_stt> stt = shared.lock();
    if (stt == nullptr || phrases != shared_phrases) {
        pocketsphinx_options options;
        options.max_decoders = static_cast<std::size_t>(std::max<std::int64_t>(1, cfg.calls.max_concurrent));
        options.phrases = phrases;
        stt = pocketsphinx_stt::create(options, error);
        if (stt == nullptr) return nullptr;
        shared = stt;
        shared_phrases = std::move(phrases);
    }
    return std::make_unique<shared_stt>(std::move(stt));
}

std::unique_ptr<text_to_speech> make_offline_tts(const config& /*cfg*/, std::string* error) {
    std::string ignored;
    return flite_tts::create(error != nullptr ? error : &ignored);
}

std::unique_ptr<brain> make_offline_brain(const config& cfg, std::string* /*error*/) {
    return std::make_unique<rule_brain>(cfg.calls.goodbye);
}

}  // namespace sipvoice::agent
