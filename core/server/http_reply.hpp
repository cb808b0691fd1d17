// Small helpers every handler uses to answer.
#pragma once

#include <string>

#include <Poco/Net/HTTPServerResponse.h>

#include <plexus/value.hpp>

#include "store/store.hpp"

namespace plexus::core {

/// Sends `body` as application/json with `status`.
void sendJson(Poco::Net::HTTPServerResponse& response, Poco::Net::HTTPResponse::HTTPStatus status,
              const plexus::Json& body);
/// Sends {"error": message} with `status`.
void sendError(Poco::Net::HTTPServerResponse& response, Poco::Net::HTTPResponse::HTTPStatus status,
               const std::string& message);
/// Sends bytes with a content type.
void sendBytes(Poco::Net::HTTPServerResponse& response, Poco::Net::HTTPResponse::HTTPStatus status,
               const std::string& contentType, std::string_view bytes);

/// JSON for API output: binary leaves become {"$binary": {contentType, size}}.
plexus::Json describeBinaries(const plexus::Json& value);

/// How many bytes `data` takes when served (binary: its size; string: its
/// length; JSON: its serialised length).
std::size_t servedSize(const plexus::Json& data);

/// Serves a step's output: binary as its bytes and type, a string as
/// text/plain, other JSON as application/json; a status result as its
/// status, headers and body. Over `maxBytes`: 500 with an error naming the limit.
void sendStoredResult(Poco::Net::HTTPServerResponse& response, const StoredResult& result,
                      std::int64_t maxBytes);

/// The message for an output over the response limit.
std::string responseLimitMessage(std::size_t size, std::int64_t maxBytes);

}  // namespace plexus::core
