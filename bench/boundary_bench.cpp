// The plugin boundary, in process: what one action call costs when the
// action lives in a component library loaded by the Plexus loader.
//
//   bench_boundary [--plugins build/plugins] [--seconds 0.3]
//
// Loads the plugins folder with loadComponents (Boost.DLL, ABI check) and
// times json.value, the cheapest action (it returns its input), four ways:
//   inprocess   the same code as a std::function compiled into this binary:
//               the baseline a call costs without any library
//   perform     ActionSpec::perform of the loaded library, called directly
//   invoke      plexus::core::invokeAction (the runtime's wrapper: try/catch
//               that names the step and library on failure)
//   prepare     ActionSpec::prepareInputs (checks and defaults the inputs,
//               from a JSON object) + invokeAction
//   step        CompiledInputs::render of the step's templates against an
//               execution scope + prepareInputs + invokeAction: everything a
//               step does except recording to the store
// Each is the median ns/call of 5 timed batches. Prints one line of JSON.
#include <algorithm>
#include <chrono>
#include <functional>
#include <iomanip>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include <plexus/sdk.hpp>

#include "engine/step_invoker.hpp"
#include "integration/template.hpp"
#include "loader/component_loader.hpp"

namespace {

using Clock = std::chrono::steady_clock;

/// A Context with nothing behind it: json.value never calls it.
class NullContext : public plexus::Context {
 public:
  const std::string& executionId() const override { return id_; }
  const std::string& instanceId() const override { return id_; }
  const std::string& instanceName() const override { return id_; }
  const plexus::Json& configVars() const override { return configVars_; }
  void log(plexus::LogLevel, const std::string&) override {}
  std::chrono::steady_clock::time_point deadline() const override {
    return std::chrono::steady_clock::time_point::max();
  }
  bool cancelled() const override { return false; }

 private:
  std::string id_ = "bench";
  plexus::Json configVars_ = plexus::Json::object();
};

/// Median ns per call of `body` over 5 batches of about `seconds` each.
/// `body` returns something to fold into a sink, so the call cannot be
/// optimised away.
double nsPerCall(double seconds, const std::function<std::size_t()>& body) {
  std::size_t sink = 0;
  // Calibrate: grow the batch until it takes a tenth of the budget.
  std::size_t batch = 1000;
  for (;;) {
    Clock::time_point start = Clock::now();
    for (std::size_t i = 0; i < batch; ++i) sink += body();
    double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if (elapsed > seconds / 10) {
      batch = static_cast<std::size_t>(batch * seconds / elapsed) + 1;
      break;
    }
    batch *= 4;
  }
  std::vector<double> samples;
  for (int round = 0; round < 5; ++round) {
    Clock::time_point start = Clock::now();
    for (std::size_t i = 0; i < batch; ++i) sink += body();
    samples.push_back(std::chrono::duration<double, std::nano>(Clock::now() - start).count() / batch);
  }
  std::sort(samples.begin(), samples.end());
  if (sink == 42) std::cerr << "";  // Keeps `sink` alive.
  return samples[2];
}

std::size_t sizeOf(const plexus::Result& result) { return result.isStatus() ? 1 : result.data().size(); }

}  // namespace

int main(int argc, char** argv) {
  std::string pluginsDir = "build/plugins";
  double seconds = 0.3;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--plugins") pluginsDir = argv[i + 1];
    else if (flag == "--seconds") seconds = std::stod(argv[i + 1]);
    else {
      std::cerr << "bench_boundary: unknown flag " << flag << " (expected --plugins, --seconds)\n";
      return 2;
    }
  }
  try {
    auto registry = plexus::core::loadComponents(pluginsDir);
    plexus::core::LoadedComponentPtr json = registry->find("json");
    if (!json) throw std::runtime_error("no json component in " + pluginsDir + " (build the plugins first)");
    const plexus::ActionSpec* value = json->spec.action("value");
    if (!value) throw std::runtime_error("the json component has no action 'value'");

    NullContext context;
    const plexus::Json given = {{"value", {{"renderId", 51266}, {"status", "done"}}}};
    const plexus::Inputs inputs = value->prepareInputs(given);
    const plexus::PerformFunction inProcess = [](const plexus::Inputs& in, plexus::Context&) -> plexus::Result {
      return in.has("value") ? in.json("value") : plexus::Json();
    };
    // The step of bench/integrations/bench-intake.yaml, against a scope as
    // the runner builds it after the first two steps.
    const auto compiled = plexus::core::CompiledInputs::compile(
        plexus::Json{{"value", {{"renderId", "{{ steps.lookup.results }}"}, {"bucket", "{{ configVars.bucket }}"}}}});
    const plexus::Json scope = {
        {"trigger", {{"results", {{"body", {{"data", {{"renderId", 51266}, {"status", "done"}}}}}}}}},
        {"steps", {{"lookup", {{"results", 51266}}}, {"note", {{"results", nullptr}}}}},
        {"configVars", {{"bucket", "bench-renders"}}},
        {"instance", {{"id", "i"}, {"name", "default"}}},
        {"integration", {{"key", "bench-intake"}, {"name", "Bench Intake"}}},
        {"execution", {{"id", "e"}, {"startedAt", "2025-01-01T00:00:00.000Z"}}}};

    double inprocessNs = nsPerCall(seconds, [&] { return sizeOf(inProcess(inputs, context)); });
    double performNs = nsPerCall(seconds, [&] { return sizeOf(value->perform(inputs, context)); });
    double invokeNs = nsPerCall(seconds, [&] {
      return sizeOf(plexus::core::invokeAction(*json, *value, inputs, context, "reply"));
    });
    double prepareNs = nsPerCall(seconds, [&] {
      return sizeOf(plexus::core::invokeAction(*json, *value, value->prepareInputs(given), context, "reply"));
    });
    double stepNs = nsPerCall(seconds, [&] {
      return sizeOf(plexus::core::invokeAction(*json, *value, value->prepareInputs(compiled.render(scope)),
                                               context, "reply"));
    });
    std::cout << std::fixed << std::setprecision(1) << "{\"inprocessNs\": " << inprocessNs
              << ", \"performNs\": " << performNs << ", \"invokeNs\": " << invokeNs
              << ", \"prepareInvokeNs\": " << prepareNs << ", \"stepNs\": " << stepNs << "}" << std::endl;
  } catch (const std::exception& error) {
    std::cerr << "bench_boundary: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
