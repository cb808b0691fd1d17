// HTTP syntax checks shared by the built-in components that build headers.
#pragma once

#include <cctype>
#include <cstring>
#include <stdexcept>
#include <string>

#include <plexus/value.hpp>

namespace plexus::builtin {

/// RFC 7230 "token" characters: method and header names, MIME type halves.
inline bool isTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || (c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c));
}

/// A non-empty run of token characters.
inline bool isToken(const std::string& text) {
  if (text.empty()) return false;
  for (char c : text)
    if (!isTokenChar(c)) return false;
  return true;
}

/// Throws std::invalid_argument unless `name` is a valid header name.
inline void checkHeaderName(const std::string& name) {
  if (name.empty()) throw std::invalid_argument("input 'headers' has an empty header name");
  if (!isToken(name))
    throw std::invalid_argument("input 'headers': '" + name +
                                "' is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)");
}

/// A header value as text. Numbers and booleans are accepted because YAML
/// authors write `Retry-After: 120`; objects, arrays and binary are not
/// header values. CR/LF are refused: they would inject further headers.
inline std::string headerValue(const std::string& name, const Json& value) {
  std::string text;
  if (value.is_string()) text = value.get<std::string>();
  else if (value.is_number() || value.is_boolean()) text = value.dump();
  else
    throw std::invalid_argument("input 'headers': header '" + name + "' must be a string, got " +
                                plexus::describeType(value));
  if (text.find_first_of("\r\n") != std::string::npos)
    throw std::invalid_argument("input 'headers': header '" + name + "' must not contain line breaks");
  return text;
}

}  // namespace plexus::builtin
