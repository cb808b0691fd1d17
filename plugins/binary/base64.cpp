#include "base64.hpp"

#include <cctype>
#include <sstream>
#include <stdexcept>

#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h>
#include <Poco/StreamCopier.h>

namespace plexus::builtin {
namespace {

bool isStandardOnly(char c) { return c == '+' || c == '/'; }
bool isUrlSafeOnly(char c) { return c == '-' || c == '_'; }
bool isCommon(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

std::invalid_argument base64Error(const std::string& what) {
  return std::invalid_argument("input 'text' is not valid base64: " + what);
}

/// The text without whitespace; checks the alphabet (one of the two, not a
/// mix), the padding and the length. Sets `urlSafe` to the alphabet used.
std::string checkedBase64(const std::string& text, bool& urlSafe) {
  std::string compact;
  compact.reserve(text.size());
  bool sawStandard = false;
  std::size_t firstPad = std::string::npos;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    const std::string where = " at character " + std::to_string(i + 1);
    if (c == '=') {
      if (firstPad == std::string::npos) firstPad = compact.size();
    } else if (firstPad != std::string::npos) {
      throw base64Error("'" + std::string(1, c) + "' after the '=' padding" + where);
    } else if (isStandardOnly(c) || isUrlSafeOnly(c)) {
      (isStandardOnly(c) ? sawStandard : urlSafe) = true;
      if (sawStandard && urlSafe)
        throw base64Error("mixes the standard (+/) and URL-safe (-_) alphabets" + where);
    } else if (!isCommon(c)) {
      throw base64Error("unexpected character '" + std::string(1, c) + "'" + where);
    }
    compact.push_back(c);
  }
  const std::size_t dataLength = firstPad == std::string::npos ? compact.size() : firstPad;
  const std::size_t padding = compact.size() - dataLength;
  if (padding > 2 || (padding > 0 && compact.size() % 4 != 0) || dataLength % 4 == 1)
    throw base64Error("its length (" + std::to_string(dataLength) + " characters and " +
                      std::to_string(padding) + " '=') is not that of encoded data; is it cut short?");
  compact.resize(dataLength);  // decoded without padding below, which Poco accepts
  return compact;
}

}  // namespace

std::string encodeBase64(const std::string& bytes) {
  std::ostringstream out;
  Poco::Base64Encoder encoder(out);
  encoder.rdbuf()->setLineLength(0);  // Poco wraps at 72 characters by default
  encoder << bytes;
  encoder.close();
  return out.str();
}

std::string decodeBase64(const std::string& text) {
  bool urlSafe = false;
  std::istringstream in(checkedBase64(text, urlSafe));
  int options = Poco::BASE64_NO_PADDING;
  if (urlSafe) options |= Poco::BASE64_URL_ENCODING;
  Poco::Base64Decoder decoder(in, options);
  std::string bytes;
  Poco::StreamCopier::copyToString(decoder, bytes);
  if (decoder.bad()) throw base64Error("the decoder rejected it");  // not expected after the checks
  return bytes;
}

}  // namespace plexus::builtin
