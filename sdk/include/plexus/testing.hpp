// plexus::testing: call a component's actions from its own unit tests,
// without a server or the runtime.
//
//   #include <plexus/testing.hpp>
//
//   TEST_CASE("hello greets by name") {
//     plexus::testing::Harness harness;              // this binary's PLEXUS_COMPONENT
//     plexus::testing::FakeContext context;
//     auto result = harness.invoke("greeter", "hello", {{"name", "Ada"}}, context);
//     CHECK(result.data()["greeting"] == "Hello, Ada");
//     CHECK(context.logs.empty());
//   }
//
// Triggers are invoked the same way, with a request made by webhookRequest:
//
//   plexus::testing::FakeTriggerContext context;
//   auto request = plexus::testing::webhookRequest("POST", {{"x-secret", "s3cret"}}, R"({"a":1})",
//                                                  "application/json");
//   auto result = harness.invokeTrigger("my-auth", "shared-secret", request, {{"secret", "s3cret"}}, context);
//   CHECK(result.runs());
//
// Inputs are checked and defaulted by ActionSpec::prepareInputs, exactly as
// the runtime does, so a missing or mistyped input fails here as it would in
// production. A Result::afterHttp is sent for real (through libcurl, as the
// runtime sends it: link the test with Plexus::testing) and its continuation
// called, so invoke returns the step's final result.
#pragma once

#include <cctype>
#include <chrono>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <curl/curl.h>

#include "plexus/abi.hpp"
#include "plexus/detail/curl_exchange.hpp"
#include "plexus/sdk.hpp"

extern "C" void plexus_register_components(plexus::ComponentRegistrar*);

namespace plexus::testing {

/// One line an action logged through Context::log.
struct LogLine {
  LogLevel level;
  std::string message;
};

/// A Context whose fields a test sets directly and whose log it can read.
class FakeContext : public Context {
 public:
  std::string execution = "test-execution";
  std::string instance = "test-instance";
  std::string name = "default";
  Json config = Json::object();
  std::chrono::steady_clock::time_point until = std::chrono::steady_clock::time_point::max();
  bool stop = false;
  /// Every line logged, in order.
  std::vector<LogLine> logs;

  const std::string& executionId() const override { return execution; }
  const std::string& instanceId() const override { return instance; }
  const std::string& instanceName() const override { return name; }
  const Json& configVars() const override { return config; }
  void log(LogLevel level, const std::string& message) override { logs.push_back({level, message}); }
  std::chrono::steady_clock::time_point deadline() const override { return until; }
  bool cancelled() const override { return stop; }
};

/// A TriggerContext whose fields a test sets directly; `time` is the clock
/// the trigger sees (the system clock's now, unless the test sets it).
class FakeTriggerContext : public TriggerContext {
 public:
  std::string instance = "test-instance";
  std::string name = "default";
  Json config = Json::object();
  std::chrono::system_clock::time_point time = std::chrono::system_clock::now();

  const std::string& instanceId() const override { return instance; }
  const std::string& instanceName() const override { return name; }
  const Json& configVars() const override { return config; }
  std::chrono::system_clock::time_point now() const override { return time; }
};

/// A WebhookRequest as the runtime builds it from an HTTP request: header
/// names lower-cased, the body's bytes kept raw and parsed by content type
/// (JSON and *+json parsed, text/* and forms as text, anything else binary;
/// the runtime also parses forms and multipart into objects).
inline WebhookRequest webhookRequest(std::string method, std::map<std::string, std::string> headers,
                                     std::string body = "", std::string contentType = "",
                                     std::map<std::string, std::string> query = {}) {
  WebhookRequest request;
  request.method = std::move(method);
  for (auto& [headerName, value] : headers) {
    std::string lower = headerName;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    request.headers[lower] = value;
  }
  if (!contentType.empty()) request.headers["content-type"] = contentType;
  for (auto& [key, value] : query) request.queryParameters[key] = value;
  const std::string type = contentType.substr(0, contentType.find(';'));
  Json data;
  if (body.empty()) data = nullptr;
  else if (type == "application/json" || (type.size() > 5 && type.compare(type.size() - 5, 5, "+json") == 0))
    data = Json::parse(body);
  else if (type.rfind("text/", 0) == 0 || type == "application/x-www-form-urlencoded") data = body;
  else data = makeBinary(body, contentType);
  request.body = Json{{"data", std::move(data)}, {"contentType", contentType}};
  request.rawBody = Binary(std::move(body), contentType.empty() ? "application/octet-stream" : contentType);
  request.webhookUrl = "http://127.0.0.1:8080/trigger/test-token";
  return request;
}

/// Sends `request` as the runtime would, blocking: never past
/// context.deadline(), and stopping (HttpFailure::Cancelled) within 50 ms
/// of context.cancelled() turning true.
inline HttpResponse sendHttp(const HttpRequest& request, const Context& context) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(context.deadline() -
                                                                          std::chrono::steady_clock::now());
  const auto [allowed, deadlineFirst] = detail::allowedTime(request, left);
  detail::CurlExchange exchange(request, allowed, deadlineFirst);
  if (!exchange.handle()) return exchange.setupFailure();
  std::unique_ptr<CURLM, CURLMcode (*)(CURLM*)> multi(curl_multi_init(), &curl_multi_cleanup);
  curl_multi_add_handle(multi.get(), exchange.handle());
  int running = 1;
  for (;;) {
    curl_multi_perform(multi.get(), &running);
    if (running == 0) break;
    if (context.cancelled()) {
      curl_multi_remove_handle(multi.get(), exchange.handle());
      return exchange.fail(HttpFailure::Cancelled, "the execution was cancelled");
    }
    curl_multi_poll(multi.get(), nullptr, 0, 50, nullptr);
  }
  CURLcode code = CURLE_OK;
  int queued = 0;
  while (CURLMsg* message = curl_multi_info_read(multi.get(), &queued))
    if (message->msg == CURLMSG_DONE) code = message->data.result;
  curl_multi_remove_handle(multi.get(), exchange.handle());
  return exchange.finish(code);
}

/// Collects the components a registration function adds.
class Harness : private ComponentRegistrar {
 public:
  /// Registers the components of this test binary's PLEXUS_COMPONENT.
  Harness() : Harness(&plexus_register_components) {}
  /// Registers the components of another entry point.
  explicit Harness(plexus_register_components_fn registerComponents) { registerComponents(this); }

  /// The registered components.
  const std::vector<ComponentSpec>& components() const { return components_; }

  /// The action `component.action`; throws std::invalid_argument if absent.
  const ActionSpec& action(const std::string& component, const std::string& action) const {
    for (const auto& spec : components_)
      if (spec.key == component)
        if (const ActionSpec* found = spec.action(action)) return *found;
    throw std::invalid_argument("no action '" + component + "." + action + "' registered");
  }

  /// The trigger `component.trigger`; throws std::invalid_argument if absent.
  const TriggerSpec& trigger(const std::string& component, const std::string& trigger) const {
    for (const auto& spec : components_)
      if (spec.key == component)
        if (const TriggerSpec* found = spec.trigger(trigger)) return *found;
    throw std::invalid_argument("no trigger '" + component + "." + trigger + "' registered");
  }

  /// Checks `inputs` against the trigger's specs, then performs it on
  /// `request`, as the runtime does before any execution exists.
  /// TriggerRefusal and other exceptions propagate to the test.
  TriggerResult invokeTrigger(const std::string& component, const std::string& triggerKey,
                              const WebhookRequest& request, Json inputs, TriggerContext& context) const {
    const TriggerSpec& spec = trigger(component, triggerKey);
    return spec.perform(request, spec.prepareInputs(std::move(inputs)), context);
  }

  /// Checks `inputs` against the action's specs, then performs it; a
  /// Result::afterHttp is sent (sendHttp) and its continuation called, until
  /// the step has its result. Exceptions from the action propagate to the test.
  Result invoke(const std::string& component, const std::string& actionKey, Json inputs,
                Context& context) const {
    const ActionSpec& spec = action(component, actionKey);
    Result result = spec.perform(spec.prepareInputs(std::move(inputs)), context);
    while (result.isPendingHttp()) {
      PendingHttp pending = std::move(result.pendingHttp());
      HttpResponse response = sendHttp(pending.request, context);
      result = pending.then(std::move(response), context);
    }
    return result;
  }

 private:
  void add(ComponentSpec component) override { components_.push_back(std::move(component)); }
  std::vector<ComponentSpec> components_;
};

}  // namespace plexus::testing
