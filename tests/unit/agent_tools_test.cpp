// The agent's tool set as the configuration assembles it (builtin_tools.hpp), the timer and callback
// tools against the real scheduler, the offline rule brain reaching them through their triggers, and
// the issue's offline round trips: "what is five plus three" and "set a timer for one minute",
// spoken by flite and heard by pocketsphinx biased to the full set's phrases, understood with no LLM.
#include <chrono>
#include <cstdlib>
#include <memory>
#include <regex>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <asio/io_context.hpp>
#include <catch2/catch.hpp>

#include "builtin_tools.hpp"
#include "config.hpp"
#include "http_client.hpp"
#include "offline_backends.hpp"
#include "scheduler.hpp"
#include "agent_speech.hpp"
#include "tools.hpp"

using namespace sipvoice::agent;
using nlohmann::json;
using std::chrono::system_clock;

namespace {

const std::string alice = "sip:alice@127.0.0.1";

tool_registry full_set(const config& cfg = {}) {
    auto s = make_tool_registry(cfg, std::make_shared<http_client>(), [] { return std::string("Registered as 1001."); });
    INFO((s.errors.empty() ? std::string() : s.errors.front()));
    REQUIRE(s.errors.empty());
    return std::move(s.tools);
}

tool_context ctx_for(agent_services* services, const std::string& caller = alice) {
    tool_context c;
    c.call_id = "call-1";
    c.caller = caller;
    c.now = system_clock::now();
    c.services = services;
    return c;
}

std::string reply(brain& b, const std::string& text, const tool_registry& tools, agent_services* services,
                  brain_result* out = nullptr) {
    const json history = json::array({{{"role", "user"}, {"content", text}}});
    brain_request r;
    r.call_id = "call-1";
    r.caller = alice;
    r.text = text;
    r.history = &history;
    r.tools = &tools;
    r.services = services;
    auto result = b.respond(r, {}, {});
    std::string said = result.messages.empty() ? "" : result.messages.back().value("content", "");
    if (out != nullptr) *out = std::move(result);
    return said;
}

}  // namespace

TEST_CASE("tools: the default configuration offers the built-ins; the optional ones need their settings", "[agent][tools]") {
    const auto tools = full_set();
    for (const char* name : {"get_datetime", "hang_up", "calculate", "set_timer", "list_timers", "cancel_timer",
                             "schedule_callback", "system_status"}) {
        INFO(name);
        CHECK(tools.find(name) != nullptr);
    }
    for (const char* name : {"get_weather", "home_assistant", "transfer_call"}) {
        INFO(name);
        CHECK(tools.find(name) == nullptr);
    }
    config cfg;
    cfg.weather.base_url = "http://127.0.0.1:9";
    cfg.home_assistant.base_url = "http://127.0.0.1:9";
    cfg.home_assistant.token = "t";
    cfg.tools.transfer_target = "100";
    const auto more = full_set(cfg);
    for (const char* name : {"get_weather", "home_assistant", "transfer_call"}) {
        INFO(name);
        CHECK(more.find(name) != nullptr);
    }
    // Each described once, offered to an LLM with its schema.
    const auto openai = more.openai_tools();
    std::set<std::string> names;
    for (const auto& t : openai) {
        CHECK(t["type"] == "function");
        CHECK(t["function"]["parameters"]["type"] == "object");
        CHECK_FALSE(t["function"]["description"].get<std::string>().empty());
        CHECK(names.insert(t["function"]["name"].get<std::string>()).second);
    }
    CHECK(names.size() == more.all().size());
}

TEST_CASE("tools: every phrase of every trigger fires its own tool in the rule brain", "[agent][tools]") {
    config cfg;
    cfg.weather.base_url = "http://127.0.0.1:9";
    cfg.tools.transfer_target = "100";
    const auto tools = full_set(cfg);
    for (const auto& t : tools.all()) {
        for (const auto& trig : t.triggers) {
            for (const auto& p : trig.phrases) {
                INFO(t.name << ": '" << p << "'");
                CHECK(std::regex_match(p, std::regex("^[a-z']+( [a-z']+)*$")));
                const std::string intent = rule_brain_intent(p, &tools);
                CHECK(intent == (trig.intent.empty() ? t.name : trig.intent));
            }
        }
    }
    // The rule brain's bias holds them all.
    const auto phrases = rule_brain_phrases(&tools);
    for (const char* p : {"what is five plus three", "set a timer for one minute", "what time is it", "goodbye"}) {
        INFO(p);
        CHECK(std::find(phrases.begin(), phrases.end(), p) != phrases.end());
    }
}

TEST_CASE("tools: the rule brain picks the right one when several could fire", "[agent][tools]") {
    const auto tools = full_set();
    struct row {
        const char* text;
        const char* intent;
    };
    for (const row r : {row{"how much time is left on my timer", "list_timers"},
                        row{"cancel the timer", "cancel_timer"},
                        row{"set a timer for ten minutes", "set_timer"},
                        row{"what time is it", "time"},
                        row{"what is seventeen times twenty three", "calculate"},
                        row{"thanks, goodbye", "goodbye"},
                        row{"call me back in an hour", "schedule_callback"},
                        row{"please don't call me back", "cancel_timer"},
                        row{"what is the system status", "system_status"},
                        row{"hello", "greeting"}}) {
        INFO(r.text);
        CHECK(rule_brain_intent(r.text, &tools) == r.intent);
    }
}

TEST_CASE("tools: timers through the rule brain and the scheduler; a due timer fires on the io thread",
          "[agent][tools][scheduler]") {
    asio::io_context io;
    scheduler sched(io, 3);
    std::vector<reminder> fired;
    sched.on_due([&](const reminder& r) { fired.push_back(r); });
    const auto tools = full_set();
    rule_brain b;

    brain_result r;
    CHECK(reply(b, "set a timer for one minute", tools, &sched, &r) == "Timer 1 is set for 1 minute.");
    REQUIRE(r.messages.size() == 3);
    CHECK(r.messages[0]["tool_calls"][0]["function"]["name"] == "set_timer");
    CHECK(json::parse(r.messages[0]["tool_calls"][0]["function"]["arguments"].get<std::string>())["seconds"] == 60);
    CHECK(reply(b, "set a timer", tools, &sched) == "For how long should I set the timer?");
    CHECK(sched.size() == 1);
    CHECK(std::regex_match(reply(b, "what timers do i have", tools, &sched),
                           std::regex(R"(You have one: timer 1 for 1 minute, ending in (59 seconds|1 minute)\.)")));
    CHECK(reply(b, "cancel the timer", tools, &sched) == "Timer 1 for 1 minute is cancelled.");
    CHECK(sched.size() == 0);
    CHECK(reply(b, "cancel the timer", tools, &sched) == "You have nothing to cancel.");

    // A short one fires, on the io thread, with what the agent needs to call back.
    const tool* set = tools.find("set_timer");
    REQUIRE(set != nullptr);
    auto res = tools.call("set_timer", R"({"seconds": 1, "label": "the tea"})", ctx_for(&sched));
    CHECK_FALSE(res.error);
    CHECK(res.text == "Timer 2 is set for 1 second, for the tea.");
    io.run_for(std::chrono::milliseconds(1600));
    REQUIRE(fired.size() == 1);
    CHECK(fired[0].kind == reminder_kind::timer);
    CHECK(fired[0].caller == alice);
    CHECK(fired[0].call_id == "call-1");
    CHECK(reminder_announcement(fired[0]) == "Your timer for 1 second, the tea, is up.");
    CHECK(reminder_opening(fired[0]).find("Your timer for 1 second, the tea, is up.") != std::string::npos);
    CHECK(sched.size() == 0);
}

TEST_CASE("tools: timer arguments and limits", "[agent][tools][scheduler]") {
    asio::io_context io;
    scheduler sched(io, 2);
    const auto tools = full_set();
    auto call = [&](const char* name, const char* args, const std::string& who = alice) {
        return tools.call(name, args, ctx_for(&sched, who));
    };
    CHECK(call("set_timer", "{}").error);
    CHECK(call("set_timer", R"({"seconds": 0})").error);
    CHECK(call("set_timer", R"({"seconds": -5})").error);
    CHECK(call("set_timer", R"({"seconds": "soon"})").error);
    CHECK(call("set_timer", R"({"seconds": 1e12})").error);
    CHECK(call("set_timer", "[1]").error);
    CHECK_FALSE(call("set_timer", R"({"duration": "ten minutes"})").error);
    CHECK_FALSE(call("set_timer", R"({"seconds": 90})").error);
    const auto third = call("set_timer", R"({"seconds": 30})");
    CHECK(third.error);
    CHECK(third.text.find("2 timers") != std::string::npos);
    // Another caller has their own.
    CHECK_FALSE(call("set_timer", R"({"seconds": 30})", "sip:bob@127.0.0.1").error);
    const auto list = call("list_timers", "{}");
    CHECK(list.text.find("You have 2:") == 0);
    CHECK(list.text.find("10 minutes") != std::string::npos);
    CHECK(list.text.find("1 minute and 30 seconds") != std::string::npos);
    // Bob cannot cancel Alice's timer 1.
    CHECK(call("cancel_timer", R"({"id": 1})", "sip:bob@127.0.0.1").error);
    CHECK(call("cancel_timer", "{}").error);  // two pending: which?
    CHECK(call("cancel_timer", R"({"id": "one"})").error);
    CHECK_FALSE(call("cancel_timer", R"({"id": 1})").error);
    CHECK(sched.pending(alice).size() == 1);
    // Without the agent's services the tools say so instead of failing hard.
    CHECK(tools.call("set_timer", R"({"seconds": 5})", ctx_for(nullptr)).error);
}

TEST_CASE("tools: callbacks in seconds or at a clock time", "[agent][tools][scheduler]") {
    asio::io_context io;
    scheduler sched(io, 5);
    const auto tools = full_set();
    rule_brain b;
    CHECK(reply(b, "call me back in one hour", tools, &sched) == "I will call you back in 1 hour.");
    CHECK(reply(b, "call me back", tools, &sched) == "When should I call you back?");
    const auto at = tools.call("schedule_callback", R"({"at": "19:00", "reason": "the invoice"})", ctx_for(&sched));
    CHECK_FALSE(at.error);
    CHECK(std::regex_match(at.text, std::regex(R"(I will call you back (at 7:00 PM( tomorrow)?|in .*)\.)")));
    const auto items = sched.pending(alice);
    REQUIRE(items.size() == 2);
    for (const auto& r : items) CHECK(r.kind == reminder_kind::callback);
    const auto with_reason = items[0].label == "the invoice" ? items[0] : items[1];
    CHECK(with_reason.label == "the invoice");
    const std::time_t t = system_clock::to_time_t(with_reason.due);
    std::tm tm{};
    localtime_r(&t, &tm);
    CHECK(tm.tm_hour == 19);
    CHECK(tm.tm_min == 0);
    CHECK(with_reason.due > system_clock::now());
    CHECK(with_reason.due < system_clock::now() + std::chrono::hours(25));
    CHECK(reminder_opening(with_reason) ==
          "Hello, this is your voice assistant, calling you back as you asked, about the invoice. How can I help?");
    CHECK(tools.call("schedule_callback", "{}", ctx_for(&sched)).error);
    CHECK(tools.call("schedule_callback", R"({"at": "banana"})", ctx_for(&sched)).error);
    CHECK(tools.call("schedule_callback", R"({"at": 7})", ctx_for(&sched)).error);
    CHECK(reply(b, "cancel the callback", tools, &sched).find("There are 2 pending") != std::string::npos);
}

TEST_CASE("tools: transfer_call hands the target over; the rule brain passes it on", "[agent][tools]") {
    config cfg;
    cfg.tools.transfer_target = "100";
    const auto tools = full_set(cfg);
    rule_brain b;
    brain_result r;
    const std::string said = reply(b, "transfer me to a human", tools, nullptr, &r);
    CHECK(said.find("transferring you") != std::string::npos);
    CHECK(r.transfer_to == "100");
    CHECK_FALSE(r.end_call);
}

TEST_CASE("tools: system_status speaks the host's state and the registration", "[agent][tools]") {
    asio::io_context io;
    scheduler sched(io, 1);
    sched.on_registration_state([] { return std::string("Registered as 1001 at sip:pbx."); });
    config cfg;
    auto s = make_tool_registry(cfg, std::make_shared<http_client>(), [&sched] { return sched.registration_state(); });
    const auto out = s.tools.call("system_status", "{}", ctx_for(&sched));
    CHECK_FALSE(out.error);
    CHECK(out.text.find("Registered as 1001 at sip:pbx.") != std::string::npos);
    CHECK(out.text.find("up") != std::string::npos);
}

TEST_CASE("tools: DTMF digits reach the rule brain as text and are read back", "[agent][tools]") {
    rule_brain b;
    const auto tools = full_set();
    CHECK(reply(b, "The caller pressed 1 2 3 #", tools, nullptr) == "You pressed 1 2 3 #.");
}

// ---- the issue's offline round trips: flite speaks, pocketsphinx (biased to the full tool set)
// hears, the rule brain answers through the tools; no LLM anywhere.

namespace {

using sipvoice::agent::test::narrowband;
using sipvoice::agent::test::speak;

// pocketsphinx biased to `tools`' phrases, as the agent makes it.
std::unique_ptr<speech_to_text> offline_stt(const tool_registry& tools) {
    std::string error;
    auto stt = make_offline_stt(config{}, &error, &tools);
    INFO(error);
    REQUIRE(stt != nullptr);
    return stt;
}

}  // namespace

TEST_CASE("tools offline: 'what is five plus three' and 'set a timer for one minute', spoken, are understood",
          "[agent][tools][pocketsphinx]") {
    const auto tools = full_set();
    const auto stt = offline_stt(tools);
    asio::io_context io;
    scheduler sched(io, 5);
    rule_brain b;

    const auto five = stt->transcribe(speak("what is five plus three"), 16000, {});
    REQUIRE(five.error.empty());
    WARN("heard '" << five.text << "'");
    CHECK(rule_brain_intent(five.text, &tools) == "calculate");
    CHECK(reply(b, five.text, tools, &sched) == "5 plus 3 is 8.");

    const auto timer = stt->transcribe(speak("set a timer for one minute"), 16000, {});
    REQUIRE(timer.error.empty());
    WARN("heard '" << timer.text << "'");
    CHECK(rule_brain_intent(timer.text, &tools) == "set_timer");
    CHECK(reply(b, timer.text, tools, &sched) == "Timer 1 is set for 1 minute.");
    REQUIRE(sched.pending(alice).size() == 1);
    const auto left = sched.pending(alice)[0].due - system_clock::now();
    CHECK(left > std::chrono::seconds(50));
    CHECK(left <= std::chrono::seconds(60));
}

TEST_CASE("tools offline: every phrase of the default tool set, spoken by flite, fires its tool at 16 and 8 kHz",
          "[agent][tools][pocketsphinx]") {
    const auto tools = full_set();
    const auto stt = offline_stt(tools);
    const auto phrases = rule_brain_phrases(&tools);
    int wide_ok = 0, narrow_ok = 0;
    std::string misses;
    for (const auto& p : phrases) {
        const auto want = rule_brain_intent(p, &tools);
        const auto pcm = speak(p);
        const auto w = stt->transcribe(pcm, 16000, {});
        const auto n = stt->transcribe(narrowband(pcm), 8000, {});
        if (rule_brain_intent(w.text, &tools) == want) ++wide_ok;
        else misses += " [16k '" + p + "' -> '" + w.text + "']";
        if (rule_brain_intent(n.text, &tools) == want) ++narrow_ok;
        else misses += " [8k '" + p + "' -> '" + n.text + "']";
        // A false goodbye hangs up on the caller: never.
        if (want != "goodbye") {
            CHECK(rule_brain_intent(w.text, &tools) != "goodbye");
            CHECK(rule_brain_intent(n.text, &tools) != "goodbye");
        }
    }
    const int total = static_cast<int>(phrases.size());
    WARN("pocketsphinx on flite, the default tool set's " << total << " phrases: 16 kHz " << wide_ok << "/" << total
                                                         << ", 8 kHz " << narrow_ok << "/" << total << "; misses:" << misses);
    // Measured 2026-11-21 (see the README); a floor well under it, to catch a collapse of the bias.
    CHECK(wide_ok * 10 >= total * 8);
    CHECK(narrow_ok * 10 >= total * 7);
}
