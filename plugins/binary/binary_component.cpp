// The binary component: describe binary data (type, size, SHA-256) and
// convert it to and from base64 text.
#include <cctype>
#include <cstring>
#include <stdexcept>
#include <string>

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>

#include <plexus/sdk.hpp>
#include <plexus_builtin/http_tokens.hpp>

#include "base64.hpp"

namespace {

using plexus::Inputs;
using plexus::InputType;
using plexus::Json;

std::string sha256Hex(std::string_view bytes) {
  Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
  engine.update(bytes.data(), static_cast<unsigned>(bytes.size()));
  return Poco::DigestEngine::digestToHex(engine.digest());
}

plexus::Result info(const Inputs& inputs, plexus::Context&) {
  const plexus::Binary data = inputs.binary("data");
  return Json{{"contentType", data.contentType()}, {"size", data.size()}, {"sha256", sha256Hex(data.view())}};
}

/// "type/subtype": two non-empty tokens around one slash.
bool isMediaType(const std::string& text) {
  const std::size_t slash = text.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == text.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i)
    if (i != slash && !plexus::builtin::isTokenChar(text[i])) return false;
  return true;
}

/// The contentType input, checked: it ends up in HTTP headers, so it must be
/// a MIME type (parameters such as "; charset=utf-8" allowed) on one line.
std::string checkedContentType(const std::string& contentType) {
  if (contentType.find_first_of("\r\n") != std::string::npos)
    throw std::invalid_argument("input 'contentType' must not contain line breaks");
  std::string mediaType = contentType.substr(0, contentType.find(';'));
  mediaType.erase(mediaType.find_last_not_of(" \t") + 1);
  if (!isMediaType(mediaType))
    throw std::invalid_argument("input 'contentType' must be a MIME type like image/png, got '" + contentType + "'");
  return contentType;
}

plexus::Result fromBase64(const Inputs& inputs, plexus::Context&) {
  const std::string contentType = checkedContentType(inputs.string("contentType"));
  return plexus::makeBinary(plexus::builtin::decodeBase64(inputs.string("text")), contentType);
}

plexus::Result toBase64(const Inputs& inputs, plexus::Context&) {
  return Json(plexus::builtin::encodeBase64(std::string(inputs.binary("data").view())));
}

plexus::InputSpec dataInput() {
  return {"data", InputType::Binary, true, std::nullopt, "Data",
          "The binary data; a string is taken as its UTF-8 bytes (text/plain)."};
}

plexus::ActionSpec infoAction() {
  return {"info", "Info", "Describes binary data: its content type, size in bytes and SHA-256 (hex).",
          {dataInput()}, info};
}

plexus::ActionSpec fromBase64Action() {
  return {"fromBase64", "From Base64", "Decodes base64 text (standard or URL-safe) into binary data.",
          {{"text", InputType::String, true, std::nullopt, "Text",
            "The base64 text; padding is optional and whitespace is ignored."},
           {"contentType", InputType::String, false, Json("application/octet-stream"), "Content Type",
            "The MIME type of the decoded data, e.g. image/png."}},
          fromBase64};
}

plexus::ActionSpec toBase64Action() {
  return {"toBase64", "To Base64", "Encodes binary data as standard base64 text without line breaks.",
          {dataInput()}, toBase64};
}

}  // namespace

PLEXUS_COMPONENT(registrar) {
  registrar.add({"binary", "1.0.0", "Describes binary data and converts it to and from base64.",
                 {infoAction(), fromBase64Action(), toBase64Action()}});
}
