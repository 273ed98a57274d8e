#include "conversation.hpp"

#include <algorithm>
#include <cctype>
#include <deque>
#include <utility>

#include <asio/post.hpp>

#include "sentence_splitter.hpp"
#include "sipvoice/codec/resampler.hpp"

namespace sipvoice::agent {

namespace {
constexpr std::uint32_t k_rate = 16000;

double ms_between(std::chrono::steady_clock::time_point from, std::chrono::steady_clock::time_point to) {
    return std::chrono::duration<double, std::milli>(to - from).count();
}

turn_detector_config detector_config(const config& c) {
    turn_detector_config t;
    t.speech_threshold_db = c.vad.speech_threshold_db;
    t.silence_threshold_db = c.vad.silence_threshold_db;
    t.end_of_turn_silence = c.vad.end_of_turn_silence;
    t.min_speech = c.vad.min_speech;
    t.early_silence = c.vad.early_silence;
    t.rate = k_rate;
    t.frame_samples = k_rate / 50;
    return t;
}

std::string system_prompt(const config& c) {
    std::string p = c.llm.system_prompt;
    if (!c.agent.language.empty() && c.agent.language != "en")
        p += " Always answer in the language with the code '" + c.agent.language + "'.";
    return p;
}
}  // namespace

std::vector<std::int16_t> synthesize_16k(text_to_speech& tts, std::string_view text, std::string* error) {
    std::vector<std::int16_t> out;
    auto rs = codec::resampler::create(tts.sample_rate(), k_rate);
    if (!rs) {
        *error = "tts: cannot resample " + std::to_string(tts.sample_rate()) + " Hz to 16 kHz";
        return out;
    }
    std::vector<std::int16_t> buf;
    std::stop_source never;
    *error = tts.synthesize(
        text,
        [&](std::span<const std::int16_t> pcm) {
            buf.resize(rs->output_samples(pcm.size()));
            if (auto n = rs->process(pcm, buf)) out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
        },
        never.get_token());
    return out;
}

// ---- worker_group

void worker_group::spawn(std::function<void()> fn) {
    {
        std::lock_guard lock(m_);
        ++running_;
    }
    std::thread([this, fn = std::move(fn)] {
        fn();
        std::lock_guard lock(m_);
        --running_;
        cv_.notify_all();
    }).detach();
}

bool worker_group::wait_idle(std::chrono::milliseconds limit) {
    std::unique_lock lock(m_);
    return cv_.wait_for(lock, limit, [this] { return running_ == 0; });
}

std::size_t worker_group::running() const {
    std::lock_guard lock(m_);
    return running_;
}

// ---- one turn's work

struct conversation::job {
    std::uint64_t turn = 0;
    std::stop_source stop;
    // The caller's turn: read by the stt thread, copied by a continuation, never changed.
    std::shared_ptr<const std::vector<std::int16_t>> audio;
    clock::time_point end_of_speech{};
    std::optional<clock::time_point> stt_done, llm_first_token, tts_first_audio, first_rtp;
    std::string heard;
    std::string said;       // what the brain gave to be spoken (all of it, even if cut by a barge-in)
    std::string error;      // the first stage error, for the log
    bool stt_phase = true;  // nothing given to the brain yet
    bool confirmed = true;  // false: started at a pause, the turn may not be over (speculation)
    bool user_committed = false;  // the caller's words are in the history
    std::optional<speech_to_text::result> stt_result;  // a failure or nothing heard, kept until confirmed
    std::optional<brain_result> brain_outcome;         // kept until the turn is confirmed
    std::vector<std::int16_t> held;  // reply audio that arrived before the turn was confirmed
    bool brain_done = false;
    bool tts_done = false;
    bool played_audio = false;
    bool barged_in = false;
    bool apologized = false;
    bool logged = false;
    bool end_call = false;
    std::string transfer_to;
    // Sentences from the brain thread to the tts thread.
    std::mutex m;
    std::condition_variable cv;
    std::deque<std::string> sentences;
    bool closed = false;

    void push(std::string s) {
        {
            std::lock_guard lock(m);
            sentences.push_back(std::move(s));
        }
        cv.notify_one();
    }
    void close() {
        {
            std::lock_guard lock(m);
            closed = true;
        }
        cv.notify_all();
    }
    // The next sentence, or nothing once closed and empty (or stopped).
    std::optional<std::string> pop() {
        std::unique_lock lock(m);
        std::stop_callback wake(stop.get_token(), [this] { cv.notify_all(); });
        cv.wait(lock, [this] { return !sentences.empty() || closed || stop.stop_requested(); });
        if (stop.stop_requested() || sentences.empty()) return std::nullopt;
        auto s = std::move(sentences.front());
        sentences.pop_front();
        return s;
    }
};

// ---- conversation

std::shared_ptr<conversation> conversation::create(asio::io_context& io, conversation_env env, std::string call_id,
                                                   std::string caller, audio_output& out) {
    return std::shared_ptr<conversation>(new conversation(io, std::move(env), std::move(call_id), std::move(caller), out));
}

conversation::conversation(asio::io_context& io, conversation_env env, std::string call_id, std::string caller,
                           audio_output& out)
    : io_(io),
      env_(std::move(env)),
      call_id_(std::move(call_id)),
      caller_(std::move(caller)),
      out_(out),
      detector_(detector_config(*env_.cfg)),
      barge_in_frames_(static_cast<std::size_t>(std::max(1.0, std::min(env_.cfg->vad.min_speech, 0.12) * 50))) {
    history_.push_back({{"role", "system"}, {"content", system_prompt(*env_.cfg)}});
}

conversation::~conversation() {
    if (job_) job_->stop.request_stop();
}

void conversation::log(log_level level, const std::string& text) const {
    if (env_.log) env_.log(level, "call " + call_id_ + ": " + text);
}

void conversation::say_cached(const std::vector<std::int16_t>& pcm) {
    if (!ended_ && !pcm.empty()) out_.play(pcm);
}

void conversation::start(std::string opening) {
    if (started_ || ended_) return;
    started_ = true;
    started_at_ = last_activity_ = clock::now();
    if (opening.empty()) {
        say_cached(env_.prompts->greeting);
        log(log_level::info, "greeting");
    } else {
        announce(opening);
    }
}

void conversation::announce(const std::string& text) {
    if (ended_ || text.empty()) return;
    log(log_level::info, "announcing: " + text);
    history_.push_back({{"role", "assistant"}, {"content", text}});
    last_activity_ = clock::now();
    auto self = weak_from_this();
    auto tts = env_.tts;
    auto& io = io_;
    env_.workers->spawn([self, tts, text, &io] {
        std::string error;
        auto pcm = synthesize_16k(*tts, text, &error);
        asio::post(io, [self, pcm = std::move(pcm), error = std::move(error)] {
            auto c = self.lock();
            if (!c || c->ended_) return;
            if (!error.empty()) c->log(log_level::warn, error);
            if (pcm.empty()) return;
            c->last_activity_ = clock::now();
            c->out_.play(pcm);
        });
    });
}

void conversation::transfer_failed(const std::string& why) {
    if (ended_) return;
    transferring_ = false;
    log(log_level::warn, "transfer failed: " + why);
    announce(env_.cfg->tools.transfer_fallback);
}

void conversation::request_hangup() {
    if (hangup_requested_ || ended_) return;
    hangup_requested_ = true;
    log(log_level::info, "hanging up");
    if (hangup_) hangup_();
}

void conversation::finish() {
    if (ended_ || ending_) return;
    if (job_) {
        job_->stop.request_stop();
        job_.reset();
    }
    out_.flush();
    ending_ = true;
    say_cached(env_.prompts->goodbye);
    log(log_level::info, "saying goodbye");
}

void conversation::end() {
    if (ended_) return;
    ended_ = true;
    if (job_) {
        job_->stop.request_stop();
        if (!job_->logged && job_->turn > 0) write_turn_log(job_);
        job_.reset();
    }
    if (logging_ && !logging_->logged) write_turn_log(logging_);
    logging_.reset();
}

void conversation::on_dtmf(char digit) {
    if (ended_ || ending_ || !started_) return;
    log(log_level::info, std::string("dtmf digit=") + digit);
    digits_ += digit;
    last_digit_ = clock::now();
    last_activity_ = last_digit_;
    idle_stage_ = 0;
    if (env_.cfg->tools.dtmf_collect && digit == '#') hand_over_digits();
}

void conversation::hand_over_digits() {
    if (digits_.empty()) return;
    std::string text = "The caller pressed";
    for (const char d : digits_) text += std::string(" ") + d;
    digits_.clear();
    begin_text_turn(std::move(text));
}

// A turn whose words are known (keypad digits): straight to the brain, no speech to text.
void conversation::begin_text_turn(std::string text) {
    out_.flush();
    auto j = new_job({}, clock::now(), true);
    on_stt(j, {std::move(text), ""});
}

void conversation::on_playing(clock::time_point sent) {
    for (auto* j : {job_.get(), logging_.get()}) {
        if (j != nullptr && j->played_audio && !j->first_rtp) j->first_rtp = sent;
    }
}

void conversation::on_frame(std::span<const std::int16_t> pcm) {
    if (ended_ || !started_) return;
    const auto now = clock::now();

    // Where on_playing() is not told: the first packet of a reply goes out right after this handler,
    // in the same tick, when audio is queued now (media/audio_stream.hpp: receive, then send).
    if (out_.queued() > 0) on_playing(now);
    // A reply's line is written once it has played out (or was cut by a barge-in).
    if (logging_ && logging_->first_rtp && out_.queued() == 0) {
        write_turn_log(logging_);
        logging_.reset();
    }
    const bool speaking = out_.queued() > 0;
    const auto e = detector_.feed(pcm);

    if (ending_) {
        // The farewell plays out; the caller is not listened to any more.
        if (!speaking && !job_) request_hangup();
        return;
    }
    if (!transfer_pending_.empty() && !speaking && !job_) {
        // "I am transferring you" has played: now the REFER.
        transferring_ = true;
        log(log_level::info, "transferring the call to " + transfer_pending_);
        auto target = std::exchange(transfer_pending_, {});
        if (transfer_) transfer_(target);
        else transfer_failed("no transfer handler");
    }
    if (transferring_) return;  // the PBX is taking the call over
    // Keypad digits: a burst (0.6 s between digits), or with dtmf_collect up to # or the timeout.
    if (!digits_.empty()) {
        const double quiet = std::chrono::duration<double>(now - last_digit_).count();
        if (quiet >= (env_.cfg->tools.dtmf_collect ? env_.cfg->tools.dtmf_timeout : 0.6)) hand_over_digits();
    }
    if (e == turn_detector::event::speech_started) {
        idle_stage_ = 0;
        if (env_.cfg->calls.barge_in && (speaking || job_)) barge_in();
    } else if (speaking && env_.cfg->calls.barge_in && detector_.onset_frames() >= barge_in_frames_) {
        // Talking over the agent: 120 ms of speech stop it (not the full vad.min_speech), so that
        // the caller hears it stop at once. The turn itself still needs min_speech to start.
        barge_in();
    }
    if (detector_.in_speech() || e != turn_detector::event::none) last_activity_ = now;
    const auto end_of_speech = [&] {
        const auto silence = std::chrono::duration<double>(
            static_cast<double>(detector_.frames() - detector_.last_voiced_frame()) * detector_.frame_seconds());
        return now - std::chrono::duration_cast<clock::duration>(silence);
    };
    if (e == turn_detector::event::pause && !job_) {
        // Speculation: transcribe and think during the rest of the end-of-turn silence; the reply
        // plays only if the turn really ended.
        begin_turn(detector_.turn_so_far(), end_of_speech(), false);
    } else if (e == turn_detector::event::resumed && job_ && !job_->confirmed) {
        job_->stop.request_stop();
        job_.reset();
        --turn_count_;
        log(log_level::debug, "caller went on talking: speculative turn dropped");
    } else if (e == turn_detector::event::turn_ended) {
        auto audio = detector_.take_turn();
        if (job_ && !job_->confirmed) confirm(job_);
        else begin_turn(std::move(audio), end_of_speech(), true);
    }
    if (speaking || job_) last_activity_ = now;

    // Idle: a prompt after idle_prompt_after seconds of silence, goodbye after idle_hangup_after more.
    const auto& calls = env_.cfg->calls;
    const double idle = std::chrono::duration<double>(now - last_activity_).count();
    if (!speaking && !job_ && !detector_.in_speech()) {
        if (idle_stage_ == 0 && idle >= calls.idle_prompt_after) {
            idle_stage_ = 1;
            last_activity_ = now;
            log(log_level::info, "idle: prompting");
            say_cached(env_.prompts->idle_prompt);
        } else if (idle_stage_ == 1 && idle >= calls.idle_hangup_after) {
            log(log_level::info, "idle: ending the call");
            finish();
            return;
        }
    }
    if (calls.max_duration > 0 && std::chrono::duration<double>(now - started_at_).count() >= calls.max_duration) {
        log(log_level::info, "maximum call duration reached");
        finish();
    }
}

void conversation::barge_in() {
    const bool was_playing = out_.queued() > 0;
    out_.flush();
    if (logging_ && was_playing) {
        logging_->barged_in = true;
        log(log_level::info, "barge-in: playback of turn " + std::to_string(logging_->turn) + " stopped");
        write_turn_log(logging_);
        logging_.reset();
    }
    if (!job_) return;
    auto j = std::move(job_);
    j->stop.request_stop();
    if (j->played_audio || !j->said.empty()) {
        j->barged_in = true;
        log(log_level::info, "barge-in: playback stopped, reply cancelled");
        // What the model had said so far stays in the history: the caller heard (some of) it.
        history_.push_back({{"role", "assistant"}, {"content", j->said}});
        write_turn_log(j);
    } else {
        // Nothing was said yet: the caller only paused. The new speech continues that turn.
        log(log_level::debug, "caller continued speaking: joining the turns");
        continued_audio_ = *j->audio;
        // Its text goes to the brain again with the rest, so it leaves the history for now.
        if (j->user_committed && !history_.empty() && history_.back().value("role", "") == "user") history_.erase(history_.size() - 1);
    }
}

std::shared_ptr<conversation::job> conversation::new_job(std::vector<std::int16_t> audio,
                                                        clock::time_point end_of_speech, bool confirmed) {
    if (job_) job_->stop.request_stop();  // the last reply still runs (barge-in is off, or digits): it yields
    auto j = std::make_shared<job>();
    j->turn = ++turn_count_;
    j->confirmed = confirmed;
    j->audio = std::make_shared<const std::vector<std::int16_t>>(std::move(audio));
    j->end_of_speech = end_of_speech;
    job_ = j;
    return j;
}

void conversation::begin_turn(std::vector<std::int16_t> audio, clock::time_point end_of_speech, bool confirmed) {
    if (!continued_audio_.empty()) {
        continued_audio_.insert(continued_audio_.end(), audio.begin(), audio.end());
        audio = std::move(continued_audio_);
        continued_audio_.clear();
    }
    auto j = new_job(std::move(audio), end_of_speech, confirmed);
    log(log_level::debug, "turn " + std::to_string(j->turn) + ": " +
                              std::to_string(j->audio->size() * 1000 / k_rate) + " ms of speech");
    auto self = weak_from_this();
    auto stt = env_.stt;
    auto& io = io_;
    env_.workers->spawn([j, stt, self, &io] {
        auto r = stt->transcribe(*j->audio, k_rate, j->stop.get_token());
        if (j->stop.stop_requested()) return;
        asio::post(io, [self, j, r = std::move(r)]() mutable {
            if (auto c = self.lock()) c->on_stt(j, std::move(r));
        });
    });
}

void conversation::confirm(std::shared_ptr<job> j) {
    j->confirmed = true;
    if (j->stt_result) {
        // It failed or heard nothing: decided now, as for a confirmed turn.
        auto r = std::move(*j->stt_result);
        j->stt_result.reset();
        return on_stt(j, std::move(r));
    }
    if (!j->stt_phase) commit_user(j);  // heard before the confirmation
    if (!j->held.empty()) {
        out_.play(j->held);
        j->held.clear();
    }
    if (j->brain_outcome) {
        auto r = std::move(*j->brain_outcome);
        j->brain_outcome.reset();
        on_brain_done(j, std::move(r), j->said);
    } else {
        maybe_complete(j);
    }
}

void conversation::commit_user(std::shared_ptr<job> j) {
    if (j->user_committed) return;
    j->user_committed = true;
    log(log_level::info, "heard: " + j->heard);
    history_.push_back({{"role", "user"}, {"content", j->heard}});
}

void conversation::on_stt(std::shared_ptr<job> j, speech_to_text::result r) {
    if (j != job_ || ended_) return;
    if (!j->stt_done) j->stt_done = clock::now();
    const bool nothing = std::all_of(r.text.begin(), r.text.end(), [](unsigned char c) { return std::isspace(c) != 0; });
    if (!j->confirmed && (!r.error.empty() || nothing)) {
        j->stt_result = std::move(r);  // decided when the turn is confirmed
        return;
    }
    if (!r.error.empty()) {
        log(log_level::warn, r.error);
        j->error = r.error;
        j->apologized = true;
        say_cached(env_.prompts->apology);
        job_.reset();
        write_turn_log(j);
        return;
    }
    j->heard = r.text;
    if (nothing) {
        log(log_level::debug, "turn " + std::to_string(j->turn) + ": nothing understood");
        job_.reset();
        return;
    }
    j->stt_phase = false;
    if (j->confirmed) commit_user(j);  // else at confirmation

    auto history = std::make_shared<nlohmann::json>(history_);
    if (!j->confirmed) history->push_back({{"role", "user"}, {"content", r.text}});
    auto request = std::make_shared<brain_request>();
    request->call_id = call_id_;
    request->caller = caller_;
    request->text = r.text;
    request->tools = env_.tools.get();
    request->services = env_.services;
    auto self = weak_from_this();
    auto& io = io_;
    auto brain = env_.thinker;
    auto tools = env_.tools;
    env_.workers->spawn([j, brain, tools, request, history, self, &io] {
        request->history = history.get();
        sentence_splitter splitter;
        std::string spoken;
        bool first = true;
        auto result = brain->respond(
            *request,
            [&](std::string_view delta) {
                if (j->stop.stop_requested() || delta.empty()) return;
                if (first) {
                    first = false;
                    asio::post(io, [self, j, t = clock::now()] {
                        if (auto c = self.lock()) c->on_first_token(j, t);
                    });
                }
                for (auto& s : splitter.feed(delta)) {
                    spoken += (spoken.empty() ? "" : " ") + s;
                    j->push(std::move(s));
                }
            },
            j->stop.get_token());
        if (auto rest = splitter.flush(); !rest.empty()) {
            spoken += (spoken.empty() ? "" : " ") + rest;
            j->push(std::move(rest));
        }
        j->close();
        if (j->stop.stop_requested()) return;
        asio::post(io, [self, j, result = std::move(result), spoken = std::move(spoken)]() mutable {
            if (auto c = self.lock()) c->on_brain_done(j, std::move(result), std::move(spoken));
        });
    });

    auto tts = env_.tts;
    env_.workers->spawn([j, tts, self, &io] {
        auto resampler = codec::resampler::create(tts->sample_rate(), k_rate);
        std::string error;
        if (!resampler) error = "tts: cannot resample " + std::to_string(tts->sample_rate()) + " Hz to 16 kHz";
        std::vector<std::int16_t> out;
        while (error.empty()) {
            auto sentence = j->pop();
            if (!sentence) break;
            error = tts->synthesize(
                *sentence,
                [&](std::span<const std::int16_t> pcm) {
                    if (j->stop.stop_requested() || pcm.empty()) return;
                    out.resize(resampler->output_samples(pcm.size()));
                    auto n = resampler->process(pcm, out);
                    if (!n || *n == 0) return;
                    asio::post(io, [self, j, chunk = std::vector<std::int16_t>(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(*n))]() mutable {
                        if (auto c = self.lock()) c->on_reply_audio(j, std::move(chunk));
                    });
                },
                j->stop.get_token());
        }
        if (j->stop.stop_requested()) return;
        asio::post(io, [self, j, error = std::move(error)]() mutable {
            if (auto c = self.lock()) c->on_tts_done(j, std::move(error));
        });
    });
}

void conversation::on_first_token(std::shared_ptr<job> j, clock::time_point t) {
    if (j != job_) return;
    if (!j->llm_first_token) j->llm_first_token = t;
}

void conversation::on_reply_audio(std::shared_ptr<job> j, std::vector<std::int16_t> pcm) {
    if (j != job_ || ended_) return;
    if (!j->tts_first_audio) j->tts_first_audio = clock::now();
    j->played_audio = true;
    if (!j->confirmed) {
        j->held.insert(j->held.end(), pcm.begin(), pcm.end());
        return;
    }
    out_.play(pcm);
}

void conversation::on_brain_done(std::shared_ptr<job> j, brain_result r, std::string spoken) {
    if (j != job_ || ended_) return;
    j->said = std::move(spoken);
    if (!j->confirmed) {
        j->brain_outcome = std::move(r);
        return;
    }
    j->brain_done = true;
    j->end_call = r.end_call;
    j->transfer_to = r.transfer_to;
    for (auto& m : r.messages) history_.push_back(std::move(m));
    if (!r.error.empty()) {
        log(log_level::warn, r.error);
        if (j->error.empty()) j->error = r.error;
        // The model's last message may be missing: keep the history a valid alternation.
        if (r.messages.empty() || r.messages.back().value("role", "") != "assistant")
            history_.push_back({{"role", "assistant"}, {"content", j->said}});
    }
    if (!j->said.empty()) log(log_level::info, "said: " + j->said);
    maybe_complete(j);
}

void conversation::on_tts_done(std::shared_ptr<job> j, std::string error) {
    if (j != job_ || ended_) return;
    j->tts_done = true;
    if (!error.empty()) {
        log(log_level::warn, error);
        if (j->error.empty()) j->error = std::move(error);
    }
    maybe_complete(j);
}

void conversation::maybe_complete(std::shared_ptr<job> j) {
    if (!j->confirmed || !j->brain_done || !j->tts_done) return;
    if (!j->error.empty() && !j->apologized) {
        j->apologized = true;
        say_cached(env_.prompts->apology);
    } else if (j->end_call && !j->played_audio) {
        say_cached(env_.prompts->goodbye);
    }
    job_.reset();
    last_activity_ = clock::now();
    if (j->end_call) {
        ending_ = true;
        log(log_level::info, "the brain ended the call");
    } else if (!j->transfer_to.empty()) {
        transfer_pending_ = j->transfer_to;  // once the reply has played (on_frame)
    }
    if (j->played_audio) {
        if (logging_ && !logging_->logged) write_turn_log(logging_);
        logging_ = j;  // logged from on_frame when played out, or at a barge-in
    } else {
        write_turn_log(j);
    }
}

void conversation::write_turn_log(std::shared_ptr<job> j) {
    if (j->logged) return;
    j->logged = true;
    if (!env_.turn_log) return;
    auto since = [&](const std::optional<clock::time_point>& t) -> nlohmann::json {
        if (!t) return nullptr;
        return static_cast<double>(static_cast<long long>(ms_between(j->end_of_speech, *t) * 10)) / 10;
    };
    const auto wall = std::chrono::system_clock::now() -
                      std::chrono::duration_cast<std::chrono::system_clock::duration>(clock::now() - j->end_of_speech);
    nlohmann::json line = {
        {"call_id", call_id_},
        {"turn", j->turn},
        {"end_of_speech", std::chrono::duration_cast<std::chrono::milliseconds>(wall.time_since_epoch()).count()},
        {"heard", j->heard},
        {"said", j->said},
        {"ms",
         {{"stt_done", since(j->stt_done)},
          {"llm_first_token", since(j->llm_first_token)},
          {"tts_first_audio", since(j->tts_first_audio)},
          {"first_rtp", since(j->first_rtp)}}},
        {"end_of_turn_silence_ms", static_cast<long long>(env_.cfg->vad.end_of_turn_silence * 1000)},
        {"barge_in", j->barged_in},
        {"end_call", j->end_call},
    };
    if (!j->error.empty()) line["error"] = j->error;
    env_.turn_log(line.dump());
}

}  // namespace sipvoice::agent
