#include "server/webhook_payload.hpp"

#include <sstream>

#include <Poco/Net/MediaType.h>
#include <Poco/Net/MessageHeader.h>
#include <Poco/Net/MultipartReader.h>
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

plexus::Json parseJson(const std::string& text, const std::string& what) {
  try {
    return plexus::Json::parse(text);
  } catch (const plexus::Json::parse_error& error) {
    // nlohmann's message reads "[json.exception.parse_error.101] parse error at line 1, ...".
    std::string message = error.what();
    auto pos = message.find("] ");
    throw PayloadError(400, what + " is not valid JSON: " +
                                (pos == std::string::npos ? message : message.substr(pos + 2)));
  }
}

std::string urlDecode(std::string text) {
  std::replace(text.begin(), text.end(), '+', ' ');
  std::string decoded;
  Poco::URI::decode(text, decoded);
  return decoded;
}

plexus::Json parseUrlEncoded(const std::string& text) {
  plexus::Json out = plexus::Json::object();
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('&', start);
    if (end == std::string::npos) end = text.size();
    std::string pair = text.substr(start, end - start);
    if (!pair.empty()) {
      auto eq = pair.find('=');
      std::string name = urlDecode(pair.substr(0, eq));
      out[name] = eq == std::string::npos ? "" : urlDecode(pair.substr(eq + 1));
    }
    start = end + 1;
  }
  return out;
}

/// One part: {data, contentType, filename?}.
plexus::Json parsePart(const Poco::Net::MessageHeader& header, std::string bytes,
                       const std::string& name, const std::string& filename) {
  std::string contentType = header.get("Content-Type", "");
  std::string mime = mimeType(contentType);
  plexus::Json part = plexus::Json::object();
  if (isJsonType(mime)) {
    part["data"] = parseJson(bytes, "multipart field '" + name + "'");
  } else if (isTextType(mime) || (mime.empty() && filename.empty())) {
    part["data"] = std::move(bytes);
  } else {
    std::string type = contentType.empty() ? "application/octet-stream" : contentType;
    part["data"] = plexus::makeBinary(std::move(bytes), type);
  }
  part["contentType"] = contentType.empty() ? (filename.empty() ? "text/plain" : "application/octet-stream")
                                            : contentType;
  if (!filename.empty()) part["filename"] = filename;
  return part;
}

plexus::Json parseMultipart(const std::string& bytes, const std::string& contentType) {
  Poco::Net::MediaType media(contentType);
  if (!media.hasParameter("boundary"))
    throw PayloadError(400, "multipart/form-data body without a boundary parameter in Content-Type");
  plexus::Json fields = plexus::Json::object();
  std::istringstream in(bytes);
  try {
    Poco::Net::MultipartReader reader(in, media.getParameter("boundary"));
    while (reader.hasNextPart()) {
      Poco::Net::MessageHeader header;
      reader.nextPart(header);
      std::string disposition;
      Poco::Net::NameValueCollection params;
      Poco::Net::MessageHeader::splitParameters(header.get("Content-Disposition", ""), disposition, params);
      std::string name = params.get("name", "");
      if (name.empty()) throw PayloadError(400, "multipart part without a name in its Content-Disposition");
      std::string content((std::istreambuf_iterator<char>(reader.stream())), std::istreambuf_iterator<char>());
      plexus::Json part = parsePart(header, std::move(content), name, params.get("filename", ""));
      if (!fields.contains(name)) {
        fields[name] = std::move(part);
      } else {
        // A repeated field name becomes an array of its parts.
        plexus::Json& existing = fields[name];
        if (!existing.is_array()) existing = plexus::Json::array({existing});
        existing.push_back(std::move(part));
      }
    }
  } catch (const Poco::Exception& error) {
    throw PayloadError(400, "malformed multipart/form-data body: " + error.displayText());
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

WebhookBody parseWebhookBody(std::string bytes, const std::string& contentType) {
  WebhookBody body;
  body.contentType = contentType;
  std::string mime = mimeType(contentType);
  if (bytes.empty()) {
    body.raw = plexus::Binary(std::string(), contentType.empty() ? "application/octet-stream" : contentType);
    return body;  // data stays null
  }
  if (isJsonType(mime)) {
    body.data = parseJson(bytes, "request body");
  } else if (mime == "multipart/form-data") {
    body.data = parseMultipart(bytes, contentType);
  } else if (mime == "application/x-www-form-urlencoded") {
    body.data = parseUrlEncoded(bytes);
  } else if (isTextType(mime)) {
    body.data = bytes;
  } else {
    body.raw = plexus::Binary(std::move(bytes), contentType.empty() ? "application/octet-stream" : contentType);
    body.data = plexus::Json::binary(body.raw);  // Shares the bytes with rawBody.
    return body;
  }
  body.raw = plexus::Binary(std::move(bytes), contentType);
  return body;
}

plexus::Json parseQueryParameters(const std::string& query) { return parseUrlEncoded(query); }

}  // namespace plexus::core
