// The offline defaults: the three stages with no key and no network.
//
//   pocketsphinx_stt  speech to text with CMU PocketSphinx (the en-us model), biased towards the
//                     phrases the rule brain understands
//   rule_brain        keyword rules that map what was heard to the tools (the time, the date, hang up)
//   flite_tts         CMU Flite with the slt voice, 16 kHz, sentence by sentence
//
// The rule table is the one source of the phrases: rule_brain_phrases() lists what callers are
// expected to say, and pocketsphinx_stt builds its bias from that list, so a rule added to the brain
// is also easier to hear.
//
// The library types (ps_decoder_t, cst_voice) stay out of this header: the agent's include paths for
// pocketsphinx and flite are private to sipvoice_agent_core.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "backends.hpp"

namespace sipvoice::agent {

// ---- the rule brain

// What the rule brain understands, as a caller says it: lower case words from the pocketsphinx
// dictionary, one space apart ("what time is it", "goodbye"). In the table's order, without
// duplicates.
std::vector<std::string> rule_brain_phrases(const tool_registry* tools = nullptr);

// The rule that fires for `text` ("time", "date", "goodbye", ...), or "" when none does. Case,
// punctuation and extra spaces do not matter; keywords match whole words only ("hi" is not in
// "this").
std::string rule_brain_intent(std::string_view text, const tool_registry* tools = nullptr);

// Answers by keyword rules: the time and the date through get_datetime, a farewell through hang_up,
// a greeting, the list of abilities, "you're welcome", and an apology with a hint for anything else.
// The tool call and its result go into brain_result::messages as an LLM's would (an assistant message
// with tool_calls, a "tool" message), then the reply as the final assistant message, so the history
// looks the same whichever brain produced it.
//
// Stateless apart from a counter for the tool call ids: safe to share between calls and threads.
class rule_brain final : public brain {
public:
    // farewell: what is said before hanging up (the configuration's calls.goodbye).
    explicit rule_brain(std::string farewell = "Goodbye, and have a nice day.");

    brain_result respond(const brain_request& request, const std::function<void(std::string_view)>& on_text,
                         std::stop_token stop) override;

private:
    std::string farewell_;
    std::atomic<std::uint64_t> next_call_id_{0};
};

// ---- text to speech: flite

// Flite's slt voice (16 kHz mono). synthesize() splits the text into sentences (sentence_splitter's
// rule: . ! ? ; or a line break, then a space) and hands each sentence's audio to on_audio as soon as
// it is synthesized, so a long answer starts playing after its first sentence; the stop token is
// checked between sentences.
//
// Thread safety: the voice is a process-wide singleton inside flite (register_cmu_us_slt returns the
// same object every time) and flite does not promise that two syntheses may run on it at once, so
// every synthesis in the process holds one mutex. Synthesis takes about 1% of the audio's duration
// (a short sentence, about 10 ms), and on_audio is called outside the lock. Instances are cheap; any number may exist and be used from any
// thread.
class flite_tts final : public text_to_speech {
public:
    // nullptr and *error ("tts: ...") when the voice cannot be registered.
    static std::unique_ptr<flite_tts> create(std::string* error);

    std::string synthesize(std::string_view text, const std::function<void(std::span<const std::int16_t>)>& on_audio,
                           std::stop_token stop) override;
    [[nodiscard]] std::uint32_t sample_rate() const override { return rate_; }

private:
    explicit flite_tts(std::uint32_t rate) : rate_(rate) {}
    std::uint32_t rate_;
};

// ---- speech to text: pocketsphinx

// SIPVOICE_POCKETSPHINX_MODEL_DIR, the build's default (Debian: /usr/share/pocketsphinx/model/en-us).
std::string default_pocketsphinx_model_dir();
// The words of that model's dictionary (cmudict-en-us.dict; "read(2)", another pronunciation, is
// "read"): what the recognizer can hear. Read once; empty when the model is not installed.
const std::set<std::string>& offline_dictionary_words();

struct pocketsphinx_options {
    // Holds en-us/ (the acoustic model), en-us.lm.bin and cmudict-en-us.dict. Empty: the default.
    std::string model_dir;
    // Phrases to favour (lower case, words of the dictionary). Empty: rule_brain_phrases().
    std::vector<std::string> phrases;
    // Share of the phrase model in the interpolated language model (0 < weight < 1).
    double phrase_weight = 0.5;
    // Decoders kept for concurrent calls (see pocketsphinx_stt); at least 1.
    std::size_t max_decoders = 2;
};

// Decodes one caller turn with the en-us acoustic model and a language model made of two parts,
// interpolated: pocketsphinx's general English model, and a small trigram model of the phrases
// (built at construction from `phrases`). Measured on synthetic speech, the general model alone
// mishears short commands ("help" as "belt", "date" as "day", "what is the date" as "but it did" over
// a telephone band); the phrase model fixes most of that while anything else is still transcribed as
// ordinary English, which a grammar alone cannot do (it forces every utterance onto a phrase, so
// "I would like to book a table" came out as "hi goodbye").
//
// Audio: mono PCM16; 16 kHz is decoded as is, other rates (8 kHz from G.711) are resampled with
// sipvoice's resampler first. A turn is decoded in one piece (see transcribe() in the .cpp for why),
// so a stop request is noticed before and after the decoding, which takes about a fifth of the
// turn's duration on one core.
//
// Thread safety: a pocketsphinx decoder is not thread-safe and costs about a third of a second and
// 100 MB to create (measured; most of it the general language model), so the object keeps a small
// pool: a turn takes an idle decoder, or creates one while fewer than max_decoders exist, or waits
// (a stop request ends the wait). One instance is meant to be shared by all calls; transcribe() may
// be called from any number of threads.
//
// pocketsphinx logs nothing: its log output is switched off for the process (pocketsphinx's logging
// is process-wide); its error messages are kept to explain a failed construction.
class pocketsphinx_stt final : public speech_to_text {
public:
    // nullptr and *error ("stt: ...") when the model is missing or a phrase has a word the dictionary
    // lacks. Creates the first decoder, so a working object is ready for its first turn.
    static std::unique_ptr<pocketsphinx_stt> create(const pocketsphinx_options& options, std::string* error);
    ~pocketsphinx_stt() override;
    pocketsphinx_stt(const pocketsphinx_stt&) = delete;
    pocketsphinx_stt& operator=(const pocketsphinx_stt&) = delete;

    result transcribe(std::span<const std::int16_t> pcm, std::uint32_t rate, std::stop_token stop) override;

    // Decoders created so far (for the tests).
    [[nodiscard]] std::size_t decoders() const;

private:
    struct impl;
    explicit pocketsphinx_stt(std::unique_ptr<impl> p);
    std::unique_ptr<impl> impl_;
};

// ---- for make_stt / make_tts / make_brain (backends.cpp)

// pocketsphinx_stt with the default model and the rule brain's phrases, up to calls.max_concurrent
// decoders (created as calls overlap, about 100 MB each). One recognizer is shared by every object this returns while any of them lives, so
// calling it per call costs a model load only for the first. English only: another agent.language
// is an error.
// The phrases come from `tools` (null: the built-in tools) and the rule brain's pleasantries.
std::unique_ptr<speech_to_text> make_offline_stt(const config& cfg, std::string* error,
                                                 const tool_registry* tools = nullptr);
// flite_tts.
std::unique_ptr<text_to_speech> make_offline_tts(const config& cfg, std::string* error);
// rule_brain saying calls.goodbye before it hangs up.
std::unique_ptr<brain> make_offline_brain(const config& cfg, std::string* error);

}  // namespace sipvoice::agent
