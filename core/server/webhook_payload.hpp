// Turning a webhook request body into `trigger.results.body`.
#pragma once

#include <cstdint>
#include <istream>
#include <stdexcept>
#include <string>

#include <plexus/value.hpp>

namespace plexus::core {

/// A request the webhook refuses; `status` is 400 or 413.
class PayloadError : public std::runtime_error {
 public:
  PayloadError(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

/// A parsed body: `data` by content type (CONTRACT §4), and the raw bytes.
struct WebhookBody {
  plexus::Json data;        ///< null when there was no body.
  std::string contentType;  ///< As sent, parameters included ("" if none).
  plexus::Binary raw;       ///< The bytes as received, typed with the content type.
};

/// Reads the whole stream into memory, refusing with 413 as soon as it
/// passes `maxBytes` (the rest is not read). For small API bodies; webhook
/// bodies use readRequestBody (request_body.hpp), which spools large ones.
std::string readLimited(std::istream& in, std::int64_t maxBytes);

/// Parses `raw` by `contentType`: JSON (and *+json), multipart/form-data,
/// application/x-www-form-urlencoded, text/*, anything else binary. Binary
/// bodies and binary multipart parts share raw's storage (no copy).
/// Malformed JSON or multipart throws PayloadError(400) saying what is wrong.
WebhookBody parseWebhookBody(const plexus::Binary& raw, const std::string& contentType);

/// Convenience for in-memory bodies (tests, `plexus run`).
WebhookBody parseWebhookBody(std::string bytes, const std::string& contentType);

/// "a=1&b=x%20y" -> {"a": "1", "b": "x y"} (a repeated name keeps the last).
plexus::Json parseQueryParameters(const std::string& query);

}  // namespace plexus::core
