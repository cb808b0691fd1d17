// Small helpers every handler uses to answer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <plexus/value.hpp>

#include "server/http_message.hpp"
#include "store/store.hpp"

namespace plexus::core {

/// Sends `body` as application/json with `status` (binary leaves described,
/// invalid UTF-8 replaced).
void sendJson(HttpResponse& response, int status, const plexus::Json& body);
/// Sends {"error": message} with `status`.
void sendError(HttpResponse& response, int status, const std::string& message);
/// Sends a copy of `bytes` with a content type.
void sendBytes(HttpResponse& response, int status, const std::string& contentType, std::string_view bytes);
/// Sends a binary value's bytes from its own storage (no copy), with its content type.
void sendBinary(HttpResponse& response, int status, const plexus::Binary& binary);

/// JSON for API output: binary leaves become {"$binary": {contentType, size}}.
/// Iterative: safe for values nested to any depth.
plexus::Json describeBinaries(const plexus::Json& value);

/// `describeBinaries(value).dump()` with invalid UTF-8 replaced, written in
/// one iterative pass (no copy of the value, no recursion over its depth).
std::string responseJson(const plexus::Json& value);

/// How many bytes `data` takes when served (binary: its size; string: its
/// length; JSON: its serialised length).
std::size_t servedSize(const plexus::Json& data);

/// Serves a step's output: binary as its bytes and type, a string as
/// text/plain, other JSON as application/json; a status result as its
/// status, headers and body. Over `maxBytes`: 500 with an error naming the limit.
void sendStoredResult(HttpResponse& response, const StoredResult& result, std::int64_t maxBytes);

/// The message for an output over the response limit.
std::string responseLimitMessage(std::size_t size, std::int64_t maxBytes);

}  // namespace plexus::core
