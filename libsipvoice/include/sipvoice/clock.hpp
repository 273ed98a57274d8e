// sipvoice/clock.hpp: the time the state machines run on. They own no clock: every call takes `now`,
// so the tests drive them with a virtual clock and the I/O layer with steady_clock::now().
#pragma once

#include <chrono>

namespace sipvoice {

using clock = std::chrono::steady_clock;
using time_point = clock::time_point;
using duration = std::chrono::milliseconds;

}  // namespace sipvoice
