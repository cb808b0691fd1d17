// Component triggers: code that sees a webhook request before any execution
// exists, and decides whether it runs one (CONTRACT §8).
//
//   plexus::TriggerSpec shared{"shared-secret", "Shared secret", "Runs requests that carry the secret",
//       {{"secret", plexus::InputType::Secret, true}},
//       [](const plexus::WebhookRequest& request, const plexus::Inputs& in,
//          plexus::TriggerContext&) -> plexus::TriggerResult {
//         if (request.header("x-secret") != in.string("secret"))
//           throw plexus::TriggerRefusal(401, "x-secret is missing or wrong");
//         return plexus::TriggerResult::run();
//       }};
//   registrar.add({"my-auth", "1.0.0", "Checks a shared secret", {}, {shared}});
//
// An integration uses it as
//
//   trigger:
//     webhook:
//       component: my-auth
//       trigger: shared-secret
//       inputs: { secret: "{{ configVars.secret }}" }
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "plexus/inputs.hpp"
#include "plexus/result.hpp"
#include "plexus/value.hpp"

namespace plexus {

/// The webhook request, as a trigger sees it: exactly what arrived.
struct WebhookRequest {
  std::string method;                     ///< "POST", "GET", ...
  Json headers = Json::object();          ///< Lower-cased name -> value (a string).
  Json queryParameters = Json::object();  ///< Name -> value (a string; a repeated name keeps the last).
  /// The body's bytes as received, with the request's content type.
  /// Signatures are computed over these, never over `body`.
  Binary rawBody;
  /// `{data, contentType}`: the body parsed by content type as in
  /// trigger.results.body (JSON parsed, a form an object, text a string,
  /// anything else binary; null without a body).
  Json body = Json{{"data", nullptr}, {"contentType", ""}};
  /// This instance's URL (`{public-url}/trigger/{token}`).
  std::string webhookUrl;

  /// The value of header `name` (give it lower-cased), "" when absent.
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it != headers.end() && it->is_string() ? it->get<std::string>() : std::string();
  }
  /// True when the request has header `name` (lower-cased).
  bool hasHeader(const std::string& name) const { return headers.contains(name); }
  /// The value of query parameter `name`, "" when absent.
  std::string query(const std::string& name) const {
    auto it = queryParameters.find(name);
    return it != queryParameters.end() && it->is_string() ? it->get<std::string>() : std::string();
  }
};

/// What the runtime tells a trigger about the instance it runs for.
/// Implemented by the runtime (and plexus::testing::FakeTriggerContext).
///
/// Ownership and threads: valid only during the perform call that receives
/// it, on the thread that called it.
class TriggerContext {
 public:
  virtual ~TriggerContext() = default;
  /// The instance whose webhook URL was called: its id and name.
  virtual const std::string& instanceId() const = 0;
  virtual const std::string& instanceName() const = 0;
  /// The instance's config variables, key -> value (secrets included: use
  /// them, never log them).
  virtual const Json& configVars() const = 0;
  /// The time now, on the runtime's clock. Check timestamps against this,
  /// not the system clock, so that tests can set it.
  virtual std::chrono::system_clock::time_point now() const = 0;
};

/// Thrown by a trigger's perform to refuse the request: the caller gets
/// `status` with `{"error": message}` (and `headers`), and no execution is
/// created. Say what is wrong, never a secret.
class TriggerRefusal : public std::runtime_error {
 public:
  /// `status`: 400–599 (the runtime answers 500 for anything else).
  TriggerRefusal(int status, const std::string& message, std::map<std::string, std::string> headers = {})
      : std::runtime_error(message), status_(status), headers_(std::move(headers)) {}
  int status() const { return status_; }
  /// Extra reply headers (e.g. WWW-Authenticate).
  const std::map<std::string, std::string>& headers() const { return headers_; }

 private:
  int status_;
  std::map<std::string, std::string> headers_;
};

/// What a trigger decided: run an execution (with the default trigger
/// results or its own, answering as usual or with its own reply), or reply
/// without running one.
class TriggerResult {
 public:
  /// Run an execution whose trigger.results are the default ones (CONTRACT §4).
  static TriggerResult run() { return TriggerResult(true, std::nullopt, std::nullopt); }
  /// Run an execution whose trigger.results are `results` (an object). The
  /// runtime still sets executionId, startedAt, webhookUrl, instance and
  /// integration in it.
  static TriggerResult run(Json results) { return TriggerResult(true, std::move(results), std::nullopt); }
  /// Answer with `reply` and run nothing (a handshake, a filtered event).
  static TriggerResult reply(StatusResult reply) { return TriggerResult(false, std::nullopt, std::move(reply)); }

  /// For a run: answer the caller at once with `reply` instead of the usual
  /// reply (also when the integration is synchronous: the run goes on
  /// asynchronously). For providers that insist on a given answer.
  TriggerResult& withReply(StatusResult reply) & {
    reply_ = std::move(reply);
    return *this;
  }
  TriggerResult&& withReply(StatusResult reply) && { return std::move(withReply(std::move(reply))); }

  /// True when an execution is to run.
  bool runs() const { return runs_; }
  /// The trigger's own trigger.results, if it gave them.
  const std::optional<Json>& results() const { return results_; }
  /// The reply it asked for, if any (always set when !runs()).
  const std::optional<StatusResult>& immediateReply() const { return reply_; }

 private:
  TriggerResult(bool runs, std::optional<Json> results, std::optional<StatusResult> reply)
      : runs_(runs), results_(std::move(results)), reply_(std::move(reply)) {}
  bool runs_;
  std::optional<Json> results_;
  std::optional<StatusResult> reply_;
};

/// The function that does a trigger's work. It returns a TriggerResult, or
/// throws TriggerRefusal to refuse; anything else it throws answers 500 with
/// the message and runs nothing. Called on the thread serving the request,
/// for many requests at once: no unsynchronised shared state. It must be
/// quick (no network calls): the caller is waiting.
using TriggerPerformFunction = std::function<TriggerResult(const WebhookRequest&, const Inputs&, TriggerContext&)>;

/// One trigger of a component.
struct TriggerSpec {
  std::string key;          ///< Used as `trigger:` in YAML (e.g. "hmac").
  std::string label;
  std::string description;
  /// Its inputs, rendered from the YAML's `inputs:` (templates over
  /// configVars, instance and integration) for every request.
  std::vector<InputSpec> inputs;
  TriggerPerformFunction perform;

  /// The InputSpec named `key`, or nullptr.
  const InputSpec* input(const std::string& key) const { return findInput(inputs, key); }
  /// Checks `given` against the input specs and fills defaults, as
  /// ActionSpec::prepareInputs does ("trigger 'KEY' has no input 'NAME'").
  Inputs prepareInputs(Json given) const {
    return plexus::prepareInputs("trigger '" + key + "'", inputs, std::move(given));
  }
};

}  // namespace plexus
