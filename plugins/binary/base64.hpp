// Base64 with strict input checking around Poco's codec.
#pragma once

#include <string>

namespace plexus::builtin {

/// Standard base64 (RFC 4648 §4) without line breaks.
std::string encodeBase64(const std::string& bytes);

/// Decodes standard or URL-safe base64 (RFC 4648 §4 and §5), padded or not;
/// whitespace (line breaks in MIME-style text) is ignored. Poco's decoder
/// silently stops at bad input, so the text is checked first: throws
/// std::invalid_argument naming the problem and its position (from 1).
std::string decodeBase64(const std::string& text);

}  // namespace plexus::builtin
