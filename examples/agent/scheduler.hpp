// Timers and callbacks: what the agent has promised to do later ("set a timer for ten minutes",
// "call me back at 7 pm"), and what the tools may ask of the agent itself.
//
// Reminders are kept in memory (a restart forgets them; the control plane will persist them). Tools
// add and cancel them from the conversation's worker threads; the scheduler fires each on the
// io_context thread when it is due, and the agent then tells the caller: on the line if the caller
// still is, else by calling them back (agent.cpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/system_timer.hpp>

namespace sipvoice::agent {

enum class reminder_kind { timer, callback };

struct reminder {
    std::uint64_t id = 0;  // given by the scheduler, 1, 2, ... (speakable: "timer 2")
    reminder_kind kind = reminder_kind::timer;
    std::string caller;   // whom it is for: the caller's SIP URI, called back if they hung up
    std::string call_id;  // the call it was set in
    std::string label;    // timer: what for ("the tea"); callback: why ("to talk about the invoice")
    std::chrono::system_clock::time_point set_at{};
    std::chrono::system_clock::time_point due{};
    std::chrono::seconds length{};  // timer: how long it was set for
};

// What tools may ask of the agent (tool_context::services). Thread-safe.
class agent_services {
public:
    virtual ~agent_services() = default;
    // Adds `r` (its id is assigned); nullopt and *error (a sentence) when the caller has too many
    // pending or `due` is not in the future.
    virtual std::optional<reminder> schedule(reminder r, std::string* error) = 0;
    // The caller's pending reminders, soonest first.
    [[nodiscard]] virtual std::vector<reminder> pending(std::string_view caller) const = 0;
    // Removes the caller's reminder `id`; nullopt when there is none (or it is someone else's).
    virtual std::optional<reminder> cancel(std::string_view caller, std::uint64_t id) = 0;
    // One sentence about the SIP registration, for system_status.
    [[nodiscard]] virtual std::string registration_state() const = 0;
};

class scheduler final : public agent_services {
public:
    // At most `max_per_caller` pending reminders per caller.
    scheduler(asio::io_context& io, std::size_t max_per_caller);
    ~scheduler() override;
    scheduler(const scheduler&) = delete;
    scheduler& operator=(const scheduler&) = delete;

    // Called on the io_context thread with each reminder that has come due (it is removed first).
    void on_due(std::function<void(const reminder&)> handler);
    // Supplies registration_state() (called on any thread; guard what it reads).
    void on_registration_state(std::function<std::string()> fn);
    // No more firing; pending reminders are dropped. On the io_context thread.
    void stop();

    std::optional<reminder> schedule(reminder r, std::string* error) override;
    [[nodiscard]] std::vector<reminder> pending(std::string_view caller) const override;
    std::optional<reminder> cancel(std::string_view caller, std::uint64_t id) override;
    [[nodiscard]] std::string registration_state() const override;
    [[nodiscard]] std::size_t size() const;

private:
    void rearm();  // io thread: the timer for the soonest reminder
    void fire();

    asio::io_context& io_;
    std::size_t max_per_caller_;
    mutable std::mutex m_;
    std::map<std::uint64_t, reminder> items_;
    std::uint64_t next_id_ = 1;
    bool stopped_ = false;
    std::function<std::string()> registration_;
    // io thread only
    asio::system_timer timer_;
    std::function<void(const reminder&)> due_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// "in 10 minutes", "at 7:00 PM" (today or tomorrow), relative to `now`, for what tools say back.
std::string spoken_when(std::chrono::system_clock::time_point due, std::chrono::system_clock::time_point now);

}  // namespace sipvoice::agent
