#include "scheduler.hpp"

#include <algorithm>
#include <ctime>

#include <asio/post.hpp>

#include "spoken.hpp"

namespace sipvoice::agent {

scheduler::scheduler(asio::io_context& io, std::size_t max_per_caller)
    : io_(io), max_per_caller_(max_per_caller), timer_(io) {}

scheduler::~scheduler() { *alive_ = false; }

void scheduler::on_due(std::function<void(const reminder&)> handler) { due_ = std::move(handler); }

void scheduler::on_registration_state(std::function<std::string()> fn) {
    std::lock_guard lock(m_);
    registration_ = std::move(fn);
}

void scheduler::stop() {
    {
        std::lock_guard lock(m_);
        stopped_ = true;
        items_.clear();
    }
    timer_.cancel();
}

std::optional<reminder> scheduler::schedule(reminder r, std::string* error) {
    const auto now = std::chrono::system_clock::now();
    {
        std::lock_guard lock(m_);
        if (stopped_) {
            *error = "The agent is shutting down.";
            return std::nullopt;
        }
        if (r.due <= now) {
            *error = "That time has already passed.";
            return std::nullopt;
        }
        const auto mine = std::count_if(items_.begin(), items_.end(),
                                        [&](const auto& kv) { return kv.second.caller == r.caller; });
        if (static_cast<std::size_t>(mine) >= max_per_caller_) {
            *error = max_per_caller_ == 0 ? "Timers and callbacks are switched off."
                                          : "You already have " + std::to_string(mine) +
                                                " timers and callbacks pending, which is the most I can keep.";
            return std::nullopt;
        }
        r.id = next_id_++;
        r.set_at = now;
        items_[r.id] = r;
    }
    // The timer belongs to the io thread.
    asio::post(io_, [this, alive = std::weak_ptr<bool>(alive_)] {
        if (alive.lock()) rearm();
    });
    return r;
}

std::vector<reminder> scheduler::pending(std::string_view caller) const {
    std::vector<reminder> out;
    {
        std::lock_guard lock(m_);
        for (const auto& [id, r] : items_)
            if (r.caller == caller) out.push_back(r);
    }
    std::sort(out.begin(), out.end(), [](const reminder& a, const reminder& b) { return a.due < b.due; });
    return out;
}

std::optional<reminder> scheduler::cancel(std::string_view caller, std::uint64_t id) {
    std::lock_guard lock(m_);
    auto it = items_.find(id);
    if (it == items_.end() || it->second.caller != caller) return std::nullopt;
    reminder r = it->second;
    items_.erase(it);
    return r;  // the timer fires for nothing at worst, and re-arms
}

std::string scheduler::registration_state() const {
    std::function<std::string()> fn;
    {
        std::lock_guard lock(m_);
        fn = registration_;
    }
    return fn ? fn() : std::string("The registration state is not known.");
}

std::size_t scheduler::size() const {
    std::lock_guard lock(m_);
    return items_.size();
}

void scheduler::rearm() {
    std::optional<std::chrono::system_clock::time_point> soonest;
    {
        std::lock_guard lock(m_);
        if (stopped_) return;
        for (const auto& [id, r] : items_)
            if (!soonest || r.due < *soonest) soonest = r.due;
    }
    if (!soonest) return;
    timer_.expires_at(*soonest);
    timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](std::error_code ec) {
        if (ec || !alive.lock()) return;
        fire();
    });
}

void scheduler::fire() {
    const auto now = std::chrono::system_clock::now();
    std::vector<reminder> due;
    {
        std::lock_guard lock(m_);
        if (stopped_) return;
        for (auto it = items_.begin(); it != items_.end();) {
            if (it->second.due <= now) {
                due.push_back(it->second);
                it = items_.erase(it);
            } else {
                ++it;
            }
        }
    }
    std::sort(due.begin(), due.end(), [](const reminder& a, const reminder& b) { return a.due < b.due; });
    for (const auto& r : due)
        if (due_) due_(r);
    rearm();
}

std::string spoken_when(std::chrono::system_clock::time_point due, std::chrono::system_clock::time_point now) {
    if (due - now < std::chrono::hours(2)) {
        // Round up to whole seconds, and to whole minutes beyond five: "in 10 minutes", not "in 9
        // minutes and 59 seconds" a moment after it was set.
        auto s = std::max(std::chrono::ceil<std::chrono::seconds>(due - now), std::chrono::seconds(1));
        if (s > std::chrono::minutes(5)) s = std::chrono::minutes((s.count() + 30) / 60);
        return "in " + spoken_duration(s);
    }
    const std::time_t t = std::chrono::system_clock::to_time_t(due);
    const std::time_t n = std::chrono::system_clock::to_time_t(now);
    std::tm tm{};
    std::tm tn{};
    localtime_r(&t, &tm);
    localtime_r(&n, &tn);
    const int hour12 = tm.tm_hour % 12 == 0 ? 12 : tm.tm_hour % 12;
    std::string s = "at " + std::to_string(hour12) + ":" + (tm.tm_min < 10 ? "0" : "") + std::to_string(tm.tm_min) +
                    (tm.tm_hour < 12 ? " AM" : " PM");
    if (tm.tm_yday != tn.tm_yday || tm.tm_year != tn.tm_year) s += " tomorrow";
    return s;
}

}  // namespace sipvoice::agent
