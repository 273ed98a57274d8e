// The stages the configuration chooses (backends.hpp).
#include "backends.hpp"

#include <exception>

#include "openai_backends.hpp"
#if __has_include("offline_backends.hpp")
#include "offline_backends.hpp"
#define SIPVOICE_AGENT_OFFLINE 1
#endif

namespace sipvoice::agent {

std::unique_ptr<speech_to_text> make_stt(const config& cfg, std::string* error) {
    try {
        if (cfg.stt.backend == stt_backend::openai) return std::make_unique<openai_stt>(cfg.stt, cfg.agent.language);
#ifdef SIPVOICE_AGENT_OFFLINE
        return make_offline_stt(cfg, error);
#endif
    } catch (const std::exception& e) {
        *error = std::string("stt: ") + e.what();
        return nullptr;
    }
    *error = "stt: the offline recognizer is not built in";
    return nullptr;
}

std::unique_ptr<text_to_speech> make_tts(const config& cfg, std::string* error) {
    try {
        if (cfg.tts.backend == tts_backend::openai) return std::make_unique<openai_tts>(cfg.tts);
#ifdef SIPVOICE_AGENT_OFFLINE
        return make_offline_tts(cfg, error);
#endif
    } catch (const std::exception& e) {
        *error = std::string("tts: ") + e.what();
        return nullptr;
    }
    *error = "tts: the offline voice is not built in";
    return nullptr;
}

std::unique_ptr<brain> make_brain(const config& cfg, std::string* error) {
    try {
        if (cfg.llm.backend == llm_backend::openai) return std::make_unique<openai_llm>(cfg.llm);
        if (cfg.llm.backend == llm_backend::http_brain) return std::make_unique<http_brain>(cfg.llm);
#ifdef SIPVOICE_AGENT_OFFLINE
        return make_offline_brain(cfg, error);
#endif
    } catch (const std::exception& e) {
        *error = std::string("llm: ") + e.what();
        return nullptr;
    }
    *error = "llm: the offline rules are not built in";
    return nullptr;
}

}  // namespace sipvoice::agent
