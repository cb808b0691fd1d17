// Turning a webhook request body into `trigger.results.body`.
#pragma once

#include <cstdint>
#include <istream>
#include <stdexcept>
#include <string>

#include <plexus/json_parse.hpp>
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

/// How much a body may make the server hold once parsed (docs/limits.md).
/// The defaults are the server's; `bodyLimits(settings)` (server/settings.hpp)
/// gives the configured ones.
struct BodyLimits {
  /// Nesting of arrays and objects in a JSON body or JSON part (--max-json-depth).
  std::size_t maxJsonDepth = plexus::kDefaultMaxJsonDepth;
  /// A JSON body's parsed value may take this many times its size in
  /// memory (--json-memory-factor). Realistic JSON takes 7-9 times.
  std::size_t jsonMemoryFactor = 12;
  /// Every body may take this much whatever its size: small bodies are
  /// never refused for their shape.
  std::size_t jsonMemoryFloor = 1024 * 1024;
  /// Fields of a form, parts of a multipart body (--max-form-fields).
  std::size_t maxFormFields = 10000;
  /// A JSON body is checked (syntax, depth, memory budget: the same errors)
  /// but kept as its bytes, and parsed by resolveDeferredJson when its
  /// execution runs: at intake a 50 MB body then costs its spooled bytes,
  /// not ~450 MB of nodes, for as long as it waits (docs/limits.md).
  bool deferJson = false;
};

/// The content type of a deferred JSON body's bytes in `body.data`.
constexpr const char* kDeferredJsonType = "application/x-plexus-deferred-json";

/// The byte size of the deferred JSON body in webhook trigger results
/// (`results.body.data`, a Binary of kDeferredJsonType), 0 when there is
/// none. Its parsed value takes at most jsonMemoryFactor times this.
std::size_t deferredJsonSize(const plexus::Json& triggerResults);

/// Replaces a deferred JSON body in webhook trigger results by its parsed
/// value, with `limits` (the text was checked at intake; a lowered limit
/// still applies). No-op when there is none. Throws PayloadError like
/// parseWebhookBody.
void resolveDeferredJson(plexus::Json& triggerResults, const BodyLimits& limits = {});

/// The byte size of `bodyData` (a body.data value) when it is a deferred
/// JSON body, else 0.
std::size_t deferredBodySize(const plexus::Json& bodyData);

/// `bodyData` with a deferred JSON body parsed (within `limits`; throws
/// PayloadError like parseWebhookBody), any other value as it is. For what
/// must read the body at intake (a component trigger, a template): the
/// execution keeps the deferred form, parsed again when it runs.
plexus::Json parsedBodyData(const plexus::Json& bodyData, const BodyLimits& limits = {});

/// Reads the whole stream into memory, refusing with 413 as soon as it
/// passes `maxBytes` (the rest is not read). For small API bodies; webhook
/// bodies use readRequestBody (request_body.hpp), which spools large ones.
std::string readLimited(std::istream& in, std::int64_t maxBytes);

/// Parses `raw` by `contentType`: JSON (and *+json), multipart/form-data,
/// application/x-www-form-urlencoded, text/*, anything else binary. Binary
/// bodies and binary multipart parts share raw's storage (no copy).
/// Malformed JSON or multipart, and JSON nested deeper than
/// limits.maxJsonDepth, throw PayloadError(400) saying what is wrong; a
/// JSON value that would take more memory than its budget, or a form with
/// more than maxFormFields fields, PayloadError(413). A part's JSON has the
/// budget of the part's bytes.
WebhookBody parseWebhookBody(const plexus::Binary& raw, const std::string& contentType,
                             const BodyLimits& limits = {});

/// Convenience for in-memory bodies (tests, `plexus run`).
WebhookBody parseWebhookBody(std::string bytes, const std::string& contentType,
                             const BodyLimits& limits = {});

/// "a=1&b=x%20y" -> {"a": "1", "b": "x y"} (a repeated name keeps the last).
/// More than limits.maxFormFields parameters: PayloadError(413).
plexus::Json parseQueryParameters(const std::string& query, const BodyLimits& limits = {});

}  // namespace plexus::core
