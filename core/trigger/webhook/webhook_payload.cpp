#include "trigger/webhook/webhook_payload.hpp"

#include <algorithm>
#include <map>

#include <Poco/Net/MediaType.h>
#include <Poco/Net/MessageHeader.h>
#include <Poco/Net/NameValueCollection.h>
#include <Poco/String.h>
#include <Poco/URI.h>

namespace plexus::core {

namespace {

std::string lower(std::string text) { return Poco::toLower(text); }

/// "application/json; charset=utf-8" -> "application/json".
std::string mimeType(const std::string& contentType) {
  return lower(Poco::trim(contentType.substr(0, contentType.find(';'))));
}

bool isJsonType(const std::string& mime) {
  return mime == "application/json" ||
         (mime.size() > 5 && mime.compare(mime.size() - 5, 5, "+json") == 0);
}

bool isTextType(const std::string& mime) { return mime.rfind("text/", 0) == 0; }

plexus::JsonLimits jsonLimits(std::string_view text, const BodyLimits& limits) {
  plexus::JsonLimits json;
  json.maxDepth = limits.maxJsonDepth;
  json.maxMemoryBytes = std::max(limits.jsonMemoryFloor, limits.jsonMemoryFactor * text.size());
  json.depthSetting = "the server's --max-json-depth";
  json.memorySetting = "the server's --json-memory-factor (" + std::to_string(limits.jsonMemoryFactor) +
                       " times the body's " + std::to_string(text.size()) + " bytes)";
  return json;
}

/// Parses (or, with `inspectOnly`, only checks) JSON from outside, turning
/// refusals into PayloadError with `what` ("request body") in the message.
template <typename Parse>
auto refusingAsPayloadError(const std::string& what, Parse&& parse) {
  try {
    return parse();
  } catch (const plexus::JsonLimitError& error) {
    int status = error.limit() == plexus::JsonLimitError::Limit::Memory ? 413 : 400;
    throw PayloadError(status, what + " is refused: " + error.what());
  } catch (const plexus::JsonParseError& error) {
    throw PayloadError(400, what + " is not valid JSON: " + error.what());
  }
}

plexus::Json parseJson(std::string_view text, const std::string& what, const BodyLimits& limits) {
  return refusingAsPayloadError(what, [&] { return plexus::parseJson(text, jsonLimits(text, limits)); });
}

PayloadError tooManyFields(const std::string& what, const BodyLimits& limits) {
  return PayloadError(413, what + " has more than " + std::to_string(limits.maxFormFields) +
                               " fields (the server's --max-form-fields); send fewer, or send them as JSON");
}

std::string urlDecode(std::string text) {
  std::replace(text.begin(), text.end(), '+', ' ');
  std::string decoded;
  try {
    Poco::URI::decode(text, decoded);
  } catch (const Poco::SyntaxException& error) {
    throw PayloadError(400, "malformed percent-encoding in '" + text + "': " + error.displayText());
  }
  return decoded;
}

plexus::Json parseUrlEncoded(std::string_view text, const std::string& what, const BodyLimits& limits) {
  plexus::Json out = plexus::Json::object();
  std::size_t start = 0;
  std::size_t fields = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('&', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view pair = text.substr(start, end - start);
    if (!pair.empty()) {
      if (++fields > limits.maxFormFields) throw tooManyFields(what, limits);
      auto eq = pair.find('=');
      std::string name = urlDecode(std::string(pair.substr(0, eq)));
      out[name] = eq == std::string_view::npos ? "" : urlDecode(std::string(pair.substr(eq + 1)));
    }
    start = end + 1;
  }
  return out;
}

/// One part's headers, names lower-cased.
std::map<std::string, std::string> parsePartHeaders(std::string_view block, int partNumber) {
  std::map<std::string, std::string> headers;
  std::size_t start = 0;
  while (start < block.size()) {
    std::size_t end = block.find("\r\n", start);
    if (end == std::string_view::npos) end = block.size();
    std::string_view line = block.substr(start, end - start);
    auto colon = line.find(':');
    if (colon == std::string_view::npos)
      throw PayloadError(400, "malformed multipart/form-data body: part " + std::to_string(partNumber) +
                                  " has a header line without ':'");
    headers[lower(std::string(line.substr(0, colon)))] = Poco::trim(std::string(line.substr(colon + 1)));
    start = end + 2;
  }
  return headers;
}

/// One part: {data, contentType, filename?}. Binary data is a slice of raw.
plexus::Json parsePart(const plexus::Binary& raw, std::size_t offset, std::size_t length,
                       const std::string& contentType, const std::string& name, const std::string& filename,
                       const BodyLimits& limits) {
  std::string_view bytes = raw.view().substr(offset, length);
  std::string mime = mimeType(contentType);
  plexus::Json part = plexus::Json::object();
  if (isJsonType(mime)) {
    part["data"] = parseJson(bytes, "multipart field '" + name + "'", limits);
  } else if (isTextType(mime) || (mime.empty() && filename.empty())) {
    part["data"] = std::string(bytes);
  } else {
    part["data"] = plexus::Json::binary(
        raw.slice(offset, length, contentType.empty() ? "application/octet-stream" : contentType));
  }
  part["contentType"] = contentType.empty() ? (filename.empty() ? "text/plain" : "application/octet-stream")
                                            : contentType;
  if (!filename.empty()) part["filename"] = filename;
  return part;
}

void addField(plexus::Json& fields, const std::string& name, plexus::Json part) {
  if (!fields.contains(name)) {
    fields[name] = std::move(part);
    return;
  }
  // A repeated field name becomes an array of its parts.
  plexus::Json& existing = fields[name];
  if (!existing.is_array()) existing = plexus::Json::array({existing});
  existing.push_back(std::move(part));
}

/// RFC 7578 over the raw bytes, so binary parts can be zero-copy slices.
plexus::Json parseMultipart(const plexus::Binary& raw, const std::string& contentType, const BodyLimits& limits) {
  Poco::Net::MediaType media(contentType);
  if (!media.hasParameter("boundary") || media.getParameter("boundary").empty())
    throw PayloadError(400, "multipart/form-data body without a boundary parameter in Content-Type");
  auto malformed = [](const std::string& why) {
    return PayloadError(400, "malformed multipart/form-data body: " + why);
  };
  const std::string delimiter = "--" + media.getParameter("boundary");
  std::string_view body = raw.view();
  std::size_t pos = body.compare(0, delimiter.size(), delimiter) == 0 ? 0 : body.find("\r\n" + delimiter);
  if (pos == std::string_view::npos) throw malformed("no boundary line '" + delimiter + "' found");
  if (pos != 0) pos += 2;

  plexus::Json fields = plexus::Json::object();
  for (int partNumber = 1;; ++partNumber) {
    pos += delimiter.size();
    if (body.compare(pos, 2, "--") == 0) break;  // The closing delimiter.
    if (static_cast<std::size_t>(partNumber) > limits.maxFormFields)
      throw tooManyFields("multipart/form-data body", limits);
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;  // Transport padding.
    if (body.compare(pos, 2, "\r\n") != 0) throw malformed("boundary line of part " + std::to_string(partNumber) + " is not followed by CRLF");
    pos += 2;
    std::size_t headersEnd = body.find("\r\n\r\n", pos);
    if (headersEnd == std::string_view::npos) throw malformed("part " + std::to_string(partNumber) + " has no end of headers");
    auto headers = parsePartHeaders(body.substr(pos, headersEnd - pos), partNumber);
    std::size_t contentStart = headersEnd + 4;
    std::size_t next = body.find("\r\n" + delimiter, contentStart);
    if (next == std::string_view::npos)
      throw malformed("part " + std::to_string(partNumber) + " is not closed by the boundary");

    std::string disposition;
    Poco::Net::NameValueCollection params;
    Poco::Net::MessageHeader::splitParameters(headers["content-disposition"], disposition, params);
    std::string name = params.get("name", "");
    if (name.empty()) throw malformed("part " + std::to_string(partNumber) + " has no name in its Content-Disposition");
    addField(fields, name,
             parsePart(raw, contentStart, next - contentStart, headers["content-type"], name, params.get("filename", ""),
                       limits));
    pos = next + 2;
  }
  return fields;
}

}  // namespace

std::string readLimited(std::istream& in, std::int64_t maxBytes) {
  std::string out;
  char buffer[64 * 1024];
  while (in) {
    in.read(buffer, sizeof buffer);
    std::streamsize n = in.gcount();
    if (n <= 0) break;
    if (static_cast<std::int64_t>(out.size()) + n > maxBytes)
      throw PayloadError(413, "request body is larger than the limit of " + std::to_string(maxBytes) +
                                  " bytes (the server's --max-request-bytes)");
    out.append(buffer, static_cast<std::size_t>(n));
  }
  return out;
}

WebhookBody parseWebhookBody(const plexus::Binary& raw, const std::string& contentType,
                             const BodyLimits& limits) {
  WebhookBody body;
  body.contentType = contentType;
  body.raw = raw.withContentType(contentType.empty() ? "application/octet-stream" : contentType);
  std::string mime = mimeType(contentType);
  std::string_view bytes = raw.view();
  if (bytes.empty()) return body;  // data stays null
  if (isJsonType(mime) && limits.deferJson) {
    refusingAsPayloadError("request body", [&] { return plexus::inspectJson(bytes, jsonLimits(bytes, limits)); });
    body.data = plexus::Json::binary(raw.withContentType(kDeferredJsonType));  // Shares the bytes with rawBody.
  } else if (isJsonType(mime)) {
    body.data = parseJson(bytes, "request body", limits);
  } else if (mime == "multipart/form-data") {
    body.data = parseMultipart(body.raw, contentType, limits);
  } else if (mime == "application/x-www-form-urlencoded") {
    body.data = parseUrlEncoded(bytes, "form body", limits);
  } else if (isTextType(mime)) {
    body.data = std::string(bytes);
  } else {
    body.data = plexus::Json::binary(body.raw);  // Shares the bytes with rawBody.
  }
  return body;
}

WebhookBody parseWebhookBody(std::string bytes, const std::string& contentType, const BodyLimits& limits) {
  return parseWebhookBody(plexus::Binary(std::move(bytes)), contentType, limits);
}

namespace {
plexus::Json* deferredData(plexus::Json& triggerResults) {
  if (!triggerResults.is_object()) return nullptr;
  auto body = triggerResults.find("body");
  if (body == triggerResults.end() || !body->is_object()) return nullptr;
  auto data = body->find("data");
  if (data == body->end() || !data->is_binary() || plexus::asBinary(*data).contentType() != kDeferredJsonType)
    return nullptr;
  return &*data;
}
}  // namespace

std::size_t deferredJsonSize(const plexus::Json& triggerResults) {
  const plexus::Json* data = deferredData(const_cast<plexus::Json&>(triggerResults));
  return data ? plexus::asBinary(*data).size() : 0;
}

void resolveDeferredJson(plexus::Json& triggerResults, const BodyLimits& limits) {
  plexus::Json* data = deferredData(triggerResults);
  if (!data) return;
  plexus::Binary bytes = plexus::asBinary(*data);  // keeps the bytes alive while *data is replaced
  *data = parseJson(bytes.view(), "request body", limits);
}

std::size_t deferredBodySize(const plexus::Json& bodyData) {
  if (!bodyData.is_binary()) return 0;
  const plexus::Binary& bytes = plexus::asBinary(bodyData);
  return bytes.contentType() == kDeferredJsonType ? bytes.size() : 0;
}

plexus::Json parsedBodyData(const plexus::Json& bodyData, const BodyLimits& limits) {
  if (deferredBodySize(bodyData) == 0) return bodyData;
  return parseJson(plexus::asBinary(bodyData).view(), "request body", limits);
}

plexus::Json parseQueryParameters(const std::string& query, const BodyLimits& limits) {
  return parseUrlEncoded(query, "query string", limits);
}

}  // namespace plexus::core
