// plexus::Result: what an action's perform function returns.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>

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

/// The outcome of one action call: data for later steps (a JSON value, or a
/// binary Json made with makeBinary), or a StatusResult that stops the run.
class Result {
 public:
  /// Data result (implicit so `return Json(...)` reads naturally).
  Result(Json data) : value_(std::move(data)) {}  // NOLINT(google-explicit-constructor)
  /// Status-code result.
  Result(StatusResult status) : value_(std::move(status)) {}  // NOLINT

  /// A null data result.
  static Result null() { return Result(Json()); }

  bool isStatus() const { return std::holds_alternative<StatusResult>(value_); }
  /// The data; throws std::bad_variant_access for a status result.
  const Json& data() const { return std::get<Json>(value_); }
  /// The status; throws std::bad_variant_access for a data result.
  const StatusResult& status() const { return std::get<StatusResult>(value_); }

 private:
  std::variant<Json, StatusResult> value_;
};

}  // namespace plexus
