// The stop-execution component: `stop` ends the execution at this step with
// an HTTP-style status code, headers and body. A synchronous webhook caller
// receives exactly that answer (CONTRACT §4).
#include <cctype>
#include <cmath>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>

#include <plexus/sdk.hpp>
#include <plexus_builtin/http_tokens.hpp>

namespace {

using plexus::Inputs;
using plexus::InputType;
using plexus::Json;
using plexus::builtin::checkHeaderName;
using plexus::builtin::headerValue;

/// The statusCode input as an int, checked to be a whole number in 100–599
/// (the range HTTP allows; the runtime would refuse anything else later,
/// with less context).
int statusCodeFrom(const Inputs& inputs) {
  const double code = inputs.number("statusCode");
  const std::string given = inputs.json("statusCode").dump();  // as written: 404, not 404.0
  if (std::floor(code) != code)
    throw std::invalid_argument("input 'statusCode' must be a whole number, got " + given);
  if (code < 100 || code > 599)
    throw std::invalid_argument("input 'statusCode' must be an HTTP status between 100 and 599, got " +
                                given);
  return static_cast<int>(code);
}

std::map<std::string, std::string> headersFrom(const Inputs& inputs) {
  std::map<std::string, std::string> headers;
  if (!inputs.has("headers")) return headers;
  const Json& given = inputs.json("headers");
  if (!given.is_object())
    throw std::invalid_argument("input 'headers' must be an object of header name to value, got " +
                                plexus::describeType(given));
  for (const auto& [name, value] : given.items()) {
    checkHeaderName(name);
    headers[name] = headerValue(name, value);
  }
  return headers;
}

plexus::Result stop(const Inputs& inputs, plexus::Context&) {
  plexus::StatusResult result;
  result.statusCode = statusCodeFrom(inputs);
  result.headers = headersFrom(inputs);
  if (inputs.has("body")) result.body = inputs.json("body");
  return result;
}

plexus::ActionSpec stopAction() {
  return {"stop",
          "Stop Execution",
          "Ends the execution here and answers with this status code, headers and body.",
          {{"statusCode", InputType::Number, true, std::nullopt, "Status Code",
            "The HTTP status to answer with, from 100 to 599."},
           {"headers", InputType::Json, false, std::nullopt, "Headers",
            "Response headers as an object of header name to string value."},
           {"body", InputType::Json, false, std::nullopt, "Body",
            "The response body: a string is sent as text, binary as its own type, anything else as JSON."}},
          stop};
}

}  // namespace

PLEXUS_COMPONENT(registrar) {
  registrar.add({"stop-execution", "1.0.0",
                 "Ends an execution early with an HTTP-style status, headers and body.",
                 {stopAction()}});
}
