// The delay component: `sleep` makes the execution wait a number of
// milliseconds.
//
// It holds no thread while the execution waits: it returns a delayed result
// (plexus::Result::afterDelay), and the runtime records the execution as
// waiting with a wake-up time, frees the worker, and resumes it when the
// time comes, also after a restart. So a wait may be long (up to 30 days)
// and ten thousand of them cost ten thousand rows, not threads.
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <string>

#include <plexus/sdk.hpp>

namespace {

using plexus::Inputs;
using plexus::InputType;
using plexus::Json;

/// 30 days: longer waits belong in a schedule trigger.
constexpr double kMaxMs = 30.0 * 24 * 60 * 60 * 1000;

long long requestedMs(const Inputs& inputs) {
  const double ms = inputs.number("ms");
  const std::string given = inputs.json("ms").dump();
  if (!(ms >= 0)) throw std::invalid_argument("input 'ms' must be 0 or more, got " + given);
  if (ms > kMaxMs)
    throw std::invalid_argument("input 'ms' must be at most 2592000000 (30 days), got " + given +
                                "; use a schedule trigger for longer waits");
  return std::llround(ms);
}

plexus::Result sleepFor(const Inputs& inputs, plexus::Context& context) {
  const long long ms = requestedMs(inputs);
  if (context.cancelled()) throw std::runtime_error("delay not started: the execution was cancelled");
  return plexus::Result::afterDelay(std::chrono::milliseconds(ms), Json{{"sleptMs", ms}});
}

plexus::ActionSpec sleepAction() {
  return {"sleep", "Sleep",
          "Makes the execution wait a number of milliseconds without holding a thread; the wait survives a "
          "restart. Returns {sleptMs}.",
          {{"ms", InputType::Number, true, std::nullopt, "Milliseconds",
            "How long to wait, in milliseconds (0 to 2592000000, 30 days)."}},
          sleepFor};
}

}  // namespace

PLEXUS_COMPONENT(registrar) {
  registrar.add({"delay", "1.1.0", "Pauses an execution for a while.", {sleepAction()}});
}
