// The stages over HTTP: OpenAI's API and the servers that speak it (speaches, faster-whisper-server,
// Kokoro-FastAPI, vLLM, llama.cpp, Ollama, LiteLLM ...), and http_brain, a plain JSON webhook for
// people who keep their agent logic in their own service.
//
//   openai_stt   POST {base}/v1/audio/transcriptions   multipart: file (WAV), model, language
//   openai_llm   POST {base}/v1/chat/completions       streaming (SSE), with tool calls
//   http_brain   POST llm.url                          {call_id, caller, text, history} -> {reply, end_call}
//   openai_tts   POST {base}/v1/audio/speech           response_format pcm: raw s16le, streamed
//
// Each keeps an http_client, so a turn reuses the connection of the one before. All are safe to
// use from several threads at once (the settings are copied and never change).
#pragma once

#include <string>

#include "backends.hpp"
#include "http_client.hpp"

namespace sipvoice::agent {

class openai_stt final : public speech_to_text {
public:
    // `language`: the agent's language, used when stt.language is empty (then, if that is empty
    // too, the server detects it).
    openai_stt(const stt_settings& settings, std::string language);
    result transcribe(std::span<const std::int16_t> pcm, std::uint32_t rate, std::stop_token stop) override;

private:
    stt_settings settings_;
    std::string language_;
    http_client http_;
};

class openai_llm final : public brain {
public:
    explicit openai_llm(const llm_settings& settings);
    brain_result respond(const brain_request& request, const std::function<void(std::string_view)>& on_text,
                         std::stop_token stop) override;

private:
    llm_settings settings_;
    http_client http_;
};

class http_brain final : public brain {
public:
    explicit http_brain(const llm_settings& settings);  // uses url, api_key (if any), timeout
    brain_result respond(const brain_request& request, const std::function<void(std::string_view)>& on_text,
                         std::stop_token stop) override;

private:
    llm_settings settings_;
    http_client http_;
};

class openai_tts final : public text_to_speech {
public:
    explicit openai_tts(const tts_settings& settings);
    std::string synthesize(std::string_view text, const std::function<void(std::span<const std::int16_t>)>& on_audio,
                           std::stop_token stop) override;
    [[nodiscard]] std::uint32_t sample_rate() const override;

private:
    tts_settings settings_;
    http_client http_;
};

}  // namespace sipvoice::agent
