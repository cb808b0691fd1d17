// plexus::Result: what an action's perform function returns.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>

#include "plexus/http.hpp"
#include "plexus/value.hpp"

namespace plexus {

/// An HTTP-style answer that ends the execution at this step. A synchronous
/// webhook caller receives exactly this status, these headers and this body
/// (no redirect); an asynchronous run records it as the final result.
struct StatusResult {
  /// 100–599; the runtime fails the step for anything else.
  int statusCode = 200;
  /// Response headers to send, name → value.
  std::map<std::string, std::string> headers;
  /// Optional body: a string is sent as text/plain, a binary as its own
  /// content type, anything else as application/json.
  std::optional<Json> body;
};

/// A result the step has only once a wait is over (Result::afterDelay).
struct DelayedResult {
  /// How long the execution waits before the step has `value`; 0 or more.
  std::chrono::milliseconds delay{0};
  /// The step's data result once the wait is over.
  Json value;
};

class Context;
class Result;

/// What an action does with the response of its HttpRequest: returns the
/// step's result (data, a status, a delay or another Result::afterHttp), or
/// throws to fail the step. Called once, on a runtime worker thread (not
/// necessarily the one that ran perform), with a Context for the same step.
/// It must own what it uses: the Inputs of perform are gone by then, so
/// capture copies, never references.
using HttpContinuation = std::function<Result(HttpResponse, Context&)>;

/// A result the step has once an HTTP exchange is over (Result::afterHttp).
struct PendingHttp {
  HttpRequest request;
  HttpContinuation then;
};

/// The outcome of one action call: data for later steps (a JSON value, or a
/// binary Json made with makeBinary), a StatusResult that stops the run, or
/// a DelayedResult: data that the step has after a wait, or a PendingHttp:
/// a result that comes from the answer to an HTTP request.
class Result {
 public:
  /// Data result (implicit so `return Json(...)` reads naturally).
  Result(Json data) : value_(std::move(data)) {}  // NOLINT(google-explicit-constructor)
  /// Status-code result.
  Result(StatusResult status) : value_(std::move(status)) {}  // NOLINT

  /// A null data result.
  static Result null() { return Result(Json()); }
  /// "This step's result is `value`, once `delay` has passed." The execution
  /// waits without holding a thread (its state is `waiting`, with a wake-up
  /// time in the store, so the wait survives a restart), then goes on with
  /// `value` as this step's result. How `delay.sleep` waits. Under
  /// plexus::testing the result is returned as it is, without waiting.
  static Result afterDelay(std::chrono::milliseconds delay, Json value) {
    return Result(DelayedResult{delay, std::move(value)});
  }
  /// A delayed result (see afterDelay).
  Result(DelayedResult delayed) : value_(std::move(delayed)) {}  // NOLINT

  /// "Send `request`; this step's result is what `then` returns with the
  /// response." The worker is free while the request is on its way (the
  /// runtime sends it from its event loop), so thousands of executions can
  /// wait on slow APIs at once. The built-in http component works this way.
  /// Under plexus::testing the request is sent (blocking) and `then` is
  /// called with the response, as the runtime would.
  static Result afterHttp(HttpRequest request, HttpContinuation then) {
    return Result(PendingHttp{std::move(request), std::move(then)});
  }
  /// A pending HTTP result (see afterHttp).
  Result(PendingHttp pending) : value_(std::move(pending)) {}  // NOLINT

  bool isStatus() const { return std::holds_alternative<StatusResult>(value_); }
  bool isDelayed() const { return std::holds_alternative<DelayedResult>(value_); }
  bool isPendingHttp() const { return std::holds_alternative<PendingHttp>(value_); }
  /// The data; throws std::bad_variant_access for another kind.
  const Json& data() const { return std::get<Json>(value_); }
  /// The status; throws std::bad_variant_access for another kind.
  const StatusResult& status() const { return std::get<StatusResult>(value_); }
  /// The delayed result; throws std::bad_variant_access for another kind.
  const DelayedResult& delayed() const { return std::get<DelayedResult>(value_); }
  /// The pending HTTP result; throws std::bad_variant_access for another kind.
  const PendingHttp& pendingHttp() const { return std::get<PendingHttp>(value_); }
  PendingHttp& pendingHttp() { return std::get<PendingHttp>(value_); }

 private:
  std::variant<Json, StatusResult, DelayedResult, PendingHttp> value_;
};

}  // namespace plexus
