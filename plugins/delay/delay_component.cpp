// The delay component: `sleep` waits for a number of milliseconds.
//
// It occupies a runtime worker thread while it waits, so it never waits past
// the execution's deadline and notices cancellation (shutdown, timeout)
// within one slice: it sleeps in slices of at most kSlice, checking
// Context::cancelled() between them, instead of one long sleep.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <string>
#include <thread>

#include <plexus/sdk.hpp>

namespace {

using plexus::Inputs;
using plexus::InputType;
using plexus::Json;
using Clock = std::chrono::steady_clock;
using Milliseconds = std::chrono::duration<double, std::milli>;

constexpr auto kSlice = std::chrono::milliseconds(50);
/// Longer waits belong in a schedule trigger, not in a held worker thread.
constexpr double kMaxMs = 24.0 * 60 * 60 * 1000;

double requestedMs(const Inputs& inputs) {
  const double ms = inputs.number("ms");
  const std::string given = inputs.json("ms").dump();
  if (ms < 0) throw std::invalid_argument("input 'ms' must be 0 or more, got " + given);
  if (ms > kMaxMs)
    throw std::invalid_argument("input 'ms' must be at most 86400000 (24 hours), got " + given +
                                "; use a schedule trigger for longer waits");
  return ms;
}

long long elapsedMs(Clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count();
}

std::runtime_error stopped(const Inputs& inputs, Clock::time_point start, const char* why) {
  return std::runtime_error("delay stopped after " + std::to_string(elapsedMs(start)) + " of " +
                            inputs.json("ms").dump() + " ms: " + why);
}

plexus::Result sleepFor(const Inputs& inputs, plexus::Context& context) {
  const double ms = requestedMs(inputs);
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(Milliseconds(ms));
  // Cancellation is checked before the first slice too, so a cancelled run
  // does not start waiting at all. A wait that has run its full length
  // succeeds even if the deadline falls at the same moment.
  for (auto now = start;; now = Clock::now()) {
    if (context.cancelled()) throw stopped(inputs, start, "the execution was cancelled");
    if (now >= end) break;
    if (now >= context.deadline()) throw stopped(inputs, start, "the execution's deadline was reached");
    // Wake at the end, at the deadline, or after one slice, whichever is first.
    std::this_thread::sleep_until(std::min({end, context.deadline(), now + kSlice}));
  }
  return Json{{"sleptMs", elapsedMs(start)}};
}

plexus::ActionSpec sleepAction() {
  return {"sleep", "Sleep",
          "Waits for a number of milliseconds; fails early if the execution is cancelled or reaches its deadline.",
          {{"ms", InputType::Number, true, std::nullopt, "Milliseconds",
            "How long to wait, in milliseconds (0 to 86400000)."}},
          sleepFor};
}

}  // namespace

PLEXUS_COMPONENT(registrar) {
  registrar.add({"delay", "1.0.0", "Pauses an execution for a while.", {sleepAction()}});
}
