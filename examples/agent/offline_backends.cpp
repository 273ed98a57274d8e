#include "offline_backends.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
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

struct rule {
    std::string_view intent;
    // Whole-word sequences of the normalized text; any one fires the rule.
    std::vector<std::string_view> keywords;
    // Whole phrases a caller says to ask for it: the STT's bias. Each must fire this rule (a test
    // checks it), so keep them consistent with the keywords and the table's order.
    std::vector<std::string_view> phrases;
    std::string_view tool;       // "" : no tool
    std::string_view arguments;  // the tool's arguments, JSON
    std::string_view reply;      // "" : the tool's result is the reply ("It is 3:05 PM.")
    bool farewell = false;       // the reply is the configured farewell, and the call ends
};

// First match wins, so the order is the priority: a goodbye ends the call whatever else was said
// ("thank you, goodbye"), a question beats the pleasantries around it ("hello, what time is it"),
// and "no thanks" is a "no" (the caller declines) rather than a thanks.
const std::vector<rule>& rules() {
    static const std::vector<rule> table = {
        {"goodbye",
         {"goodbye", "good bye", "bye", "bye bye", "hang up", "good night", "see you"},
         // Only "goodbye" as a phrase. Biased towards "bye" (or "bye bye"), the recognizer heard
         // "hi" as "bye" (3 of 24 turns: 4 synthetic voices, 3 seeds, 16 and 8 kHz) and "my boss"
         // as "my bye", and a false goodbye hangs up on the caller. Without that bias a lone "bye"
         // comes out as its homophone "by" and the call goes on, which costs less: the caller
         // hangs up or says goodbye. "bye" stays a keyword for text that has it.
         {"goodbye"},
         "hang_up",
         "{}",
         "",
         true},
        {"date_and_time",
         {"date and time", "time and date", "day and time", "time and day"},
         {"what is the date and time"},
         "get_datetime",
         R"({"what":"both"})",
         "",
         false},
        {"time",
         {"time", "clock", "what hour"},
         {"what time is it", "what is the time", "what's the time", "tell me the time", "time"},
         "get_datetime",
         R"({"what":"time"})",
         "",
         false},
        {"date",
         // "day" alone too: the recognizer often hears "date" as "day".
         {"date", "day", "what day", "which day", "the day", "today"},
         {"what is the date", "what's the date", "what day is it", "what is today's date", "date"},
         "get_datetime",
         R"({"what":"date"})",
         "",
         false},
        {"help",
         {"help", "what can you do", "what do you do", "what can i ask", "options"},
         {"help", "what can you do", "can you help me"},
         "",
         "",
         "I can tell you the time or today's date, and I hang up when you say goodbye. What would you like?",
         false},
        {"no",
         {"no", "nope", "nothing", "no thanks"},
         {"no", "no thanks", "nothing"},
         "",
         "",
         "All right. Say goodbye whenever you want to end the call.",
         false},
        {"thanks",
         {"thank you", "thanks", "thank"},
         {"thank you", "thanks"},
         "",
         "",
         "You're welcome. Is there anything else?",
         false},
        {"greeting",
         {"hello", "hi", "hey", "good morning", "good afternoon", "good evening", "howdy"},
         {"hello", "hi", "hey", "good morning", "good afternoon", "good evening"},
         "",
         "",
         "Hello! I can tell you the time or the date. What would you like to know?",
         false},
        {"yes",
         {"yes", "yeah", "yep", "sure", "okay", "ok"},
         {"yes", "yeah", "okay"},
         "",
         "",
         "Go ahead: you can ask me for the time or the date.",
         false},
    };
    return table;
}

constexpr std::string_view not_understood = "Sorry, I did not understand. You can ask me for the time or the date.";

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

const rule* match_rule(std::string_view text) {
    const std::string norm = normalize(text);
    for (const auto& r : rules()) {
        for (const auto kw : r.keywords) {
            const std::string needle = " " + std::string(kw) + " ";
            if (norm.find(needle) != std::string::npos) return &r;
        }
    }
    return nullptr;
}

const tool_registry& fallback_tools() {
    static const tool_registry registry = builtin_tools();
    return registry;
}

}  // namespace

std::vector<std::string> rule_brain_phrases() {
    std::vector<std::string> out;
    std::set<std::string_view> seen;
    for (const auto& r : rules())
        for (const auto p : r.phrases)
            if (seen.insert(p).second) out.emplace_back(p);
    return out;
}

std::string_view rule_brain_intent(std::string_view text) {
    const rule* r = match_rule(text);
    return r == nullptr ? std::string_view{} : r->intent;
}

rule_brain::rule_brain(std::string farewell) : farewell_(std::move(farewell)) {}

brain_result rule_brain::respond(const brain_request& request, const std::function<void(std::string_view)>& on_text,
                                 std::stop_token stop) {
    brain_result out;
    if (stop.stop_requested()) return out;

    const rule* r = match_rule(request.text);
    std::string reply;
    if (r == nullptr) {
        reply = not_understood;
    } else {
        if (!r->tool.empty()) {
            // The conversation always passes its registry; a caller without one (a test, a tool)
            // still gets the built-in tools rather than a crash.
            const tool_registry& tools = request.tools != nullptr ? *request.tools : fallback_tools();
            const std::string id = "call_rule_" + std::to_string(next_call_id_.fetch_add(1) + 1);
            tool_context ctx;
            ctx.call_id = request.call_id;
            ctx.caller = request.caller;
            ctx.now = std::chrono::system_clock::now();
            const tool_result result = tools.call(r->tool, r->arguments, ctx);
            out.messages.push_back(
                {{"role", "assistant"},
                 {"content", nullptr},
                 {"tool_calls",
                  nlohmann::json::array({{{"id", id},
                                          {"type", "function"},
                                          {"function", {{"name", r->tool}, {"arguments", r->arguments}}}}})}});
            out.messages.push_back({{"role", "tool"}, {"tool_call_id", id}, {"content", result.text}});
            // The goodbye rule ends the call even when the registry has no hang_up tool: its farewell
            // has been said, and staying on the line after it would confuse the caller.
            out.end_call = result.end_call || r->farewell;
            if (r->farewell)
                reply = farewell_;
            else if (result.error)
                reply = "Sorry, I cannot tell you that right now.";
            else if (r->reply.empty())
                reply = result.text;
            else
                reply = r->reply;
        } else {
            reply = r->farewell ? farewell_ : std::string(r->reply);
            out.end_call = r->farewell;
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
    std::vector<std::string> phrases = options.phrases.empty() ? rule_brain_phrases() : options.phrases;
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

}  // namespace

std::unique_ptr<speech_to_text> make_offline_stt(const config& cfg, std::string* error) {
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
    std::lock_guard lock(mutex);
    std::shared_ptr<pocketsphinx_stt> stt = shared.lock();
    if (stt == nullptr) {
        pocketsphinx_options options;
        options.max_decoders = static_cast<std::size_t>(std::max<std::int64_t>(1, cfg.calls.max_concurrent));
        stt = pocketsphinx_stt::create(options, error);
        if (stt == nullptr) return nullptr;
        shared = stt;
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
