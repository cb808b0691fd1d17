// greeter: an example component built outside the Plexus tree.
//
//   greeter.hello {name, statusCode?}
//     -> {"greeting": "Hello, NAME"}
//     -> with statusCode: a status-code result that ends the run and answers
//        a synchronous webhook caller with that status and the greeting as
//        its text body.
#include <plexus/sdk.hpp>

#include <cmath>
#include <stdexcept>
#include <string>

namespace {

std::string greeting(const plexus::Inputs& inputs) { return "Hello, " + inputs.string("name"); }

/// statusCode as an int; throws (failing the step) when it is not an HTTP status.
int statusCodeInput(const plexus::Inputs& inputs) {
  const double code = inputs.number("statusCode");
  if (code != std::floor(code) || code < 100 || code > 599)
    throw std::invalid_argument("input 'statusCode' must be a whole number from 100 to 599, got " +
                                inputs.json("statusCode").dump());
  return static_cast<int>(code);
}

plexus::Result hello(const plexus::Inputs& inputs, plexus::Context& context) {
  context.log(plexus::LogLevel::Info, "greeting " + inputs.string("name"));
  if (!inputs.has("statusCode")) return plexus::Json{{"greeting", greeting(inputs)}};
  plexus::StatusResult status;
  status.statusCode = statusCodeInput(inputs);
  status.headers["content-type"] = "text/plain";
  status.body = greeting(inputs);
  return status;
}

}  // namespace

PLEXUS_COMPONENT(registrar) {
  plexus::ActionSpec action;
  action.key = "hello";
  action.label = "Say hello";
  action.description = "Greets someone by name";
  action.inputs = {
      {"name", plexus::InputType::String, false, plexus::Json("world"), "Name", "Who to greet"},
      {"statusCode", plexus::InputType::Number, false, std::nullopt, "Status code",
       "When given, end the run with this HTTP status and the greeting as its body"},
  };
  action.perform = &hello;
  registrar.add({"greeter", "1.0.0", "Greets people", {action}});
}
