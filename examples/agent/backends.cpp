// The stages the configuration chooses (backends.hpp).
#include "backends.hpp"

#include <exception>

#include "offline_backends.hpp"
#include "openai_backends.hpp"

namespace sipvoice::agent {

std::unique_ptr<speech_to_text> make_stt(const config& cfg, std::string* error, const tool_registry* tools) {
    try {
        if (cfg.stt.backend == stt_backend::openai) return std::make_unique<openai_stt>(cfg.stt, cfg.agent.language);
        return make_offline_stt(cfg, error, tools);
    } catch (const std::exception& e) {
        *error = std::string("stt: ") + e.what();
        return nullptr;
    }
}

std::unique_ptr<text_to_speech> make_tts(const config& cfg, std::string* error) {
    try {
        if (cfg.tts.backend == tts_backend::openai) return std::make_unique<openai_tts>(cfg.tts);
        return make_offline_tts(cfg, error);
    } catch (const std::exception& e) {
        *error = std::string("tts: ") + e.what();
        return nullptr;
    }
}

std::unique_ptr<brain> make_brain(const config& cfg, std::string* error) {
    try {
        if (cfg.llm.backend == llm_backend::openai) return std::make_unique<openai_llm>(cfg.llm);
        if (cfg.llm.backend == llm_backend::http_brain) return std::make_unique<http_brain>(cfg.llm);
        return make_offline_brain(cfg, error);
    } catch (const std::exception& e) {
        *error = std::string("llm: ") + e.what();
        return nullptr;
    }
}

}  // namespace sipvoice::agent
