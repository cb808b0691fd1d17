// The log component: `write` appends a message to the execution's log,
// which the API and `plexus run` show.
#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <string>

#include <plexus/sdk.hpp>

namespace {

using plexus::Inputs;
using plexus::InputType;
using plexus::Json;
using plexus::LogLevel;

/// The level named by `name`, matched case-insensitively ("WARN" works).
LogLevel levelFrom(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (LogLevel level : {LogLevel::Debug, LogLevel::Info, LogLevel::Warn, LogLevel::Error})
    if (lower == plexus::toString(level)) return level;
  throw std::invalid_argument("input 'level' must be one of debug, info, warn, error; got '" + name + "'");
}

plexus::Result writeMessage(const Inputs& inputs, plexus::Context& context) {
  context.log(levelFrom(inputs.string("level")), inputs.string("message"));
  return plexus::Result::null();
}

plexus::ActionSpec writeAction() {
  return {"write", "Write", "Writes a message into the execution's log and returns null.",
          {{"message", InputType::String, true, std::nullopt, "Message", "The text to log."},
           {"level", InputType::String, false, Json("info"), "Level",
            "How severe the message is: debug, info, warn or error."}},
          writeMessage};
}

}  // namespace

PLEXUS_COMPONENT(registrar) {
  registrar.add({"log", "1.0.0", "Writes messages into the execution's log.", {writeAction()}});
}
