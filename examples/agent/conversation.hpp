// One call's conversation: turn-taking on the caller's audio, and for each turn speech to text, the
// brain, and text to speech streamed back into the call.
//
// Threads (DESIGN.md): the conversation lives on the SIP thread (the io_context), fed by the call's
// audio stream every 20 ms; it never blocks. The slow stages run on worker threads and post their
// results back; each turn is a job with a std::stop_source, so a barge-in or the end of the call
// cancels it and whatever it still posts is dropped.
//
//   caller audio -> turn_detector -> [stt thread] -> history += user
//        -> [brain thread: reply streams token by token -> sentence_splitter]
//        -> [tts thread: each sentence synthesized as soon as it is complete, audio resampled to
//            16 kHz and posted as it arrives] -> audio_output::play
//
// Speculation: at a short pause (vad.early_silence, see turn_detector.hpp) the turn's work starts
// before the end-of-turn silence has passed; its reply is held back until the turn is confirmed, and
// dropped if the caller goes on talking. The end-of-turn silence then costs no latency.
//
// Barge-in: caller speech that starts while the agent is speaking or thinking flushes the queued
// audio at once and cancels the turn's job; the caller is heard. If nothing had been played yet (the
// caller only paused), the new speech is joined to the cancelled turn's audio and both are
// transcribed together.
//
// Time comes from the audio frames (one per 20 ms, also when the caller sends nothing: the stream
// ticks anyway), so the idle prompt, idle hang-up and the maximum duration need no timers of their
// own.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "backends.hpp"
#include "config.hpp"
#include "tools.hpp"
#include "turn_detector.hpp"

namespace sipvoice::agent {

// Where the agent's voice goes: the call's audio stream (16 kHz PCM).
class audio_output {
public:
    virtual ~audio_output() = default;
    virtual void play(std::span<const std::int16_t> pcm) = 0;
    virtual void flush() = 0;                      // barge-in: drop everything queued
    [[nodiscard]] virtual std::size_t queued() const = 0;  // samples not sent yet
};

// The fixed phrases, synthesized once at start-up (16 kHz), so that the greeting starts at once and
// an apology can be said when the speech backend itself is what failed.
struct prompt_cache {
    std::vector<std::int16_t> greeting, idle_prompt, goodbye, apology;
};

// `text` spoken by `tts` and resampled to 16 kHz (the conversation's rate), all at once: for the
// prompts synthesized at start-up and for --say. *error gets the stage's error, or "".
std::vector<std::int16_t> synthesize_16k(text_to_speech& tts, std::string_view text, std::string* error);

// Worker threads still running; the program waits for them before it tears the io_context down.
class worker_group {
public:
    void spawn(std::function<void()> fn);
    // Waits until no worker runs, at most `limit`; true when none is left.
    bool wait_idle(std::chrono::milliseconds limit);
    [[nodiscard]] std::size_t running() const;

private:
    mutable std::mutex m_;
    std::condition_variable cv_;
    std::size_t running_ = 0;
};

struct conversation_env {
    const config* cfg = nullptr;
    std::shared_ptr<speech_to_text> stt;
    std::shared_ptr<agent::brain> thinker;  // the brain
    std::shared_ptr<text_to_speech> tts;
    std::shared_ptr<const tool_registry> tools;
    std::shared_ptr<const prompt_cache> prompts;
    std::shared_ptr<worker_group> workers;
    agent_services* services = nullptr;  // timers, callbacks, registration state for the tools; may be null
    std::function<void(const std::string& json_line)> turn_log;  // may be empty
    std::function<void(log_level, const std::string&)> log;      // may be empty
};

class conversation : public std::enable_shared_from_this<conversation> {
public:
    static std::shared_ptr<conversation> create(asio::io_context& io, conversation_env env, std::string call_id,
                                                std::string caller, audio_output& out);
    ~conversation();

    // The call is connected: the greeting plays, or `opening` (an outbound call says why it calls).
    void start(std::string opening = {});
    // One 20 ms frame of the caller's audio (16 kHz): as its packet arrives, or on the stream's tick
    // standing in for one that did not come (ua::media_config::low_latency).
    void on_frame(std::span<const std::int16_t> pcm);
    // A keypad digit (RFC 4733 or SIP INFO). Digits reach the brain as a turn of their own, "The
    // caller pressed 1 2 3 #": each burst of digits at once, or with tools.dtmf_collect those up to
    // # or tools.dtmf_timeout seconds after the last one.
    void on_dtmf(char digit);
    // The first packet of what was played after silence went out at `sent` (media::audio_stream::on_playing):
    // the reply's first_rtp in the turn log, exact. Without it, on_frame() notes it to a frame.
    void on_playing(std::chrono::steady_clock::time_point sent);
    // Says `text` (synthesized now), after whatever is queued; it goes into the history as the
    // agent's words. For a timer that comes due during the call, and a refused transfer.
    void announce(const std::string& text);
    // The conversation wants the call to end (its farewell has played): the owner hangs up.
    void on_hangup(std::function<void()> handler) { hangup_ = std::move(handler); }
    // The brain transferred the call (transfer_call) and the reply has played: the owner sends the
    // REFER, and on a refusal calls transfer_failed().
    void on_transfer(std::function<void(const std::string& target)> handler) { transfer_ = std::move(handler); }
    void transfer_failed(const std::string& why);
    // Say goodbye and then hang up (SIGTERM, maximum duration). Nothing else is heard afterwards.
    void finish();
    // The call is gone: cancel everything; no more audio is written.
    void end();

    [[nodiscard]] std::size_t turns() const noexcept { return turn_count_; }
    [[nodiscard]] const nlohmann::json& history() const noexcept { return history_; }
    [[nodiscard]] bool ending() const noexcept { return ending_; }

    struct job;  // one turn's work (conversation.cpp)

private:
    using clock = std::chrono::steady_clock;
    conversation(asio::io_context& io, conversation_env env, std::string call_id, std::string caller, audio_output& out);

    void log(log_level level, const std::string& text) const;
    void say_cached(const std::vector<std::int16_t>& pcm);
    // The next turn's job, in job_ (a job still running is stopped).
    std::shared_ptr<job> new_job(std::vector<std::int16_t> audio, clock::time_point end_of_speech, bool confirmed);
    void begin_turn(std::vector<std::int16_t> audio, clock::time_point end_of_speech, bool confirmed);
    void confirm(std::shared_ptr<job> j);
    void commit_user(std::shared_ptr<job> j);
    void on_stt(std::shared_ptr<job> j, speech_to_text::result r);
    void on_first_token(std::shared_ptr<job> j, clock::time_point t);
    void on_reply_audio(std::shared_ptr<job> j, std::vector<std::int16_t> pcm);
    void on_brain_done(std::shared_ptr<job> j, brain_result r, std::string spoken);
    void on_tts_done(std::shared_ptr<job> j, std::string error);
    void maybe_complete(std::shared_ptr<job> j);
    void barge_in();
    void write_turn_log(std::shared_ptr<job> j);
    void request_hangup();
    void begin_text_turn(std::string text);
    void hand_over_digits();

    asio::io_context& io_;
    conversation_env env_;
    std::string call_id_;
    std::string caller_;
    audio_output& out_;
    turn_detector detector_;
    std::size_t barge_in_frames_;  // loud frames over the agent's speech that stop it
    nlohmann::json history_ = nlohmann::json::array();
    std::shared_ptr<job> job_;   // the turn in progress, if any
    std::shared_ptr<job> logging_;  // a finished turn waiting for its first RTP packet to be logged
    std::size_t turn_count_ = 0;
    bool started_ = false;
    bool ended_ = false;
    bool ending_ = false;        // the farewell is playing; hang up once it has
    bool hangup_requested_ = false;
    int idle_stage_ = 0;         // 0 listening, 1 prompted once
    clock::time_point started_at_{};
    clock::time_point last_activity_{};
    std::function<void()> hangup_;
    std::function<void(const std::string&)> transfer_;
    std::string transfer_pending_;  // the target, once the reply before the transfer has played
    bool transferring_ = false;     // the REFER is out: the caller is not listened to meanwhile
    std::string digits_;            // keypad digits not handed over yet
    clock::time_point last_digit_{};
    std::vector<std::int16_t> continued_audio_;  // a cancelled turn's audio the next turn continues
};

}  // namespace sipvoice::agent
