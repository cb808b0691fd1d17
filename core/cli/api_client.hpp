// A tiny client for the CLI verbs that talk to a running server.
#pragma once

#include <string>

#include <plexus/value.hpp>

#include "cli/args.hpp"

namespace plexus::core::cli {

/// The server URL: --server, else PLEXUS_URL, else http://127.0.0.1:8080.
std::string serverUrl(const Args& args);

/// GETs `path` from the server and parses the JSON answer. Sends the API
/// token (--api-token or PLEXUS_API_TOKEN) when there is one. Throws
/// std::runtime_error saying what failed and what to check.
plexus::Json getJson(const Args& args, const std::string& path);
/// As getJson, with a POST of `body`.
plexus::Json postJson(const Args& args, const std::string& path, const plexus::Json& body);
/// `method` `path` with `body` (none: nullptr), as getJson.
plexus::Json requestJson(const Args& args, const std::string& method, const std::string& path,
                         const plexus::Json* body);

}  // namespace plexus::core::cli
