// The http component: `request` makes one HTTP(S) request and returns
// {status, headers, body}, with the body typed by its Content-Type as the
// webhook trigger does it (CONTRACT §4): JSON parsed, text/* a string,
// anything else binary.
#include <cctype>
#include <chrono>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>

#include <Poco/String.h>
#include <plexus/sdk.hpp>
#include <plexus_builtin/binary_leaf.hpp>
#include <plexus_builtin/http_tokens.hpp>

#include "http_client.hpp"

namespace {

using plexus::Inputs;
using plexus::InputType;
using plexus::Json;
using plexus::builtin::checkHeaderName;
using plexus::builtin::findBinary;
using plexus::builtin::headerValue;
using plexus::builtin::isToken;
using plexus::HttpHeaders;
using plexus::HttpRequest;
using plexus::HttpResponse;

constexpr double kMaxTimeoutMs = 24.0 * 60 * 60 * 1000;

std::string methodFrom(const Inputs& inputs) {
  std::string method = inputs.string("method");
  for (char& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (!isToken(method))
    throw std::invalid_argument("input 'method' must be an HTTP method like GET or POST, got '" +
                                inputs.string("method") + "'");
  return method;
}

HttpHeaders headersFrom(const Inputs& inputs) {
  HttpHeaders headers;
  if (!inputs.has("headers")) return headers;
  const Json& given = inputs.json("headers");
  if (!given.is_object())
    throw std::invalid_argument("input 'headers' must be an object of header name to value, got " +
                                plexus::describeType(given));
  for (const auto& [name, value] : given.items()) {
    checkHeaderName(name);
    headers.emplace_back(name, headerValue(name, value));
  }
  return headers;
}

bool hasHeader(const HttpHeaders& headers, const char* wanted) {
  for (const auto& [name, value] : headers)
    if (Poco::icompare(name, std::string(wanted)) == 0) return true;
  return false;
}

/// Fills the request's body and, unless a header gives one, its
/// Content-Type from the body input: binary as its bytes and type, a string
/// as UTF-8 text, anything else as JSON.
void setBody(const Inputs& inputs, HttpRequest& request) {
  if (!inputs.has("body")) return;
  const Json& body = inputs.json("body");
  std::string contentType;
  if (body.is_binary()) {
    const plexus::Binary& bytes = plexus::asBinary(body);
    request.body = std::string(bytes.view());
    contentType = bytes.contentType();
  } else if (body.is_string()) {
    request.body = body.get<std::string>();
    contentType = "text/plain; charset=utf-8";
  } else {
    if (auto where = findBinary(body))
      throw std::invalid_argument("input 'body' holds binary data at '" + *where +
                                  "', which a JSON body cannot carry: send the binary alone as the body, or "
                                  "convert it with binary.toBase64 first");
    request.body = body.dump();
    contentType = "application/json";
  }
  if (!hasHeader(request.headers, "Content-Type")) request.headers.emplace_back("Content-Type", contentType);
}

std::chrono::milliseconds timeoutFrom(const Inputs& inputs) {
  const double ms = inputs.number("timeoutMs");
  if (ms < 1 || ms > kMaxTimeoutMs)
    throw std::invalid_argument("input 'timeoutMs' must be between 1 and 86400000 (24 hours), got " +
                                inputs.json("timeoutMs").dump());
  return std::chrono::milliseconds(static_cast<long long>(ms));
}

HttpRequest requestFrom(const Inputs& inputs) {
  HttpRequest request;
  request.method = methodFrom(inputs);
  request.url = inputs.string("url");
  plexus::builtin::checkUrl(request.url);
  request.headers = headersFrom(inputs);
  if (!hasHeader(request.headers, "User-Agent")) request.headers.emplace_back("User-Agent", "Plexus-http/1.2.0");
  setBody(inputs, request);
  request.timeout = timeoutFrom(inputs);
  return request;
}

/// nlohmann's what() without its "[json.exception.parse_error.101] " tag.
std::string withoutExceptionTag(const std::string& message) {
  if (message.rfind("[json.exception.", 0) != 0) return message;
  const std::size_t end = message.find("] ");
  return end == std::string::npos ? message : message.substr(end + 2);
}

/// "application/json" from "Application/JSON; charset=utf-8".
std::string mediaType(const std::string& contentType) {
  std::string type = contentType.substr(0, contentType.find(';'));
  type.erase(0, type.find_first_not_of(" \t"));
  type.erase(type.find_last_not_of(" \t") + 1);
  for (char& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return type;
}

bool isJsonType(const std::string& type) {
  const std::string suffix = "+json";
  return type == "application/json" ||
         (type.size() > suffix.size() && type.compare(type.size() - suffix.size(), suffix.size(), suffix) == 0);
}

/// The body typed by its content type. An empty body is null. A body that
/// claims to be JSON but is not is returned as a string, with a warning in
/// the log: failing the step would hide the server's (often useful) text.
Json typedBody(const HttpResponse& response, plexus::Context& context) {
  if (response.body.empty()) return Json();
  const std::string contentType = response.header("content-type");
  const std::string type = mediaType(contentType);
  if (isJsonType(type)) {
    try {
      // Bounded: a hostile upstream cannot send JSON nested deep enough to overflow the stack.
      return plexus::parseJson(response.body);
    } catch (const plexus::JsonParseError& e) {
      context.log(plexus::LogLevel::Warn,
                  "the response says " + type + " but its body is not valid JSON (" + withoutExceptionTag(e.what()) +
                      "); returning it as a string");
      return response.body;
    }
  }
  if (type.rfind("text/", 0) == 0) return response.body;
  return plexus::makeBinary(response.body, contentType.empty() ? "application/octet-stream" : contentType);
}

/// Lower-cased name → value; a repeated header's values are joined with
/// ", " (RFC 9110 §5.3), so every value is a string as in the trigger's
/// headers.
Json headersJson(const HttpHeaders& headers) {
  Json object = Json::object();
  for (const auto& [name, value] : headers) {
    auto it = object.find(name);
    if (it == object.end()) object[name] = value;
    else *it = it->get<std::string>() + ", " + value;
  }
  return object;
}

/// Holds no thread while the server answers: the runtime sends each hop
/// (Result::afterHttp) and calls back with its response.
plexus::Result request(const Inputs& inputs, plexus::Context&) {
  HttpRequest sent = requestFrom(inputs);
  const bool failOnStatus = inputs.boolean("failOnStatus");
  std::string where = sent.method + " " + plexus::builtin::redactedUrl(sent.url);
  return plexus::builtin::sendFollowingRedirects(
      std::move(sent),
      [failOnStatus, where](const HttpResponse& response, plexus::Context& context) -> plexus::Result {
        if (failOnStatus && response.status >= 400)
          throw std::runtime_error(where + " answered " + std::to_string(response.status) +
                                   " (failOnStatus: a status of 400 or above fails the step)");
        return Json{{"status", response.status},
                    {"headers", headersJson(response.headers)},
                    {"body", typedBody(response, context)}};
      });
}

plexus::ActionSpec requestAction() {
  return {"request", "Request",
          "Sends an HTTP request and returns {status, headers, body}; any status, 4xx and 5xx included, is a "
          "result, not a failure, unless failOnStatus is true.",
          {{"method", InputType::String, false, Json("GET"), "Method", "The HTTP method, e.g. GET, POST or PUT."},
           {"url", InputType::String, true, std::nullopt, "URL", "The absolute http:// or https:// URL to call."},
           {"headers", InputType::Json, false, std::nullopt, "Headers",
            "Request headers as an object of header name to string value."},
           {"body", InputType::Json, false, std::nullopt, "Body",
            "The request body: a string is sent as text, binary as its own type, anything else as JSON."},
           {"timeoutMs", InputType::Number, false, Json(30000), "Timeout (ms)",
            "How long the whole request, redirects included, may take, in milliseconds."},
           {"failOnStatus", InputType::Boolean, false, Json(false), "Fail on 4xx/5xx",
            "When true, a status of 400 or above fails the step (so that retry and onError apply to it)."}},
          request};
}

}  // namespace

PLEXUS_COMPONENT(registrar) {
  registrar.add({"http", "1.2.0", "Calls HTTP(S) APIs and returns their status, headers and body.",
                 {requestAction()}});
}
