#include "cli/api_client.hpp"

#include <cstdlib>
#include <sstream>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

namespace plexus::core::cli {

std::string serverUrl(const Args& args) {
  if (auto server = args.value("server")) return *server;
  if (const char* env = std::getenv("PLEXUS_URL")) return env;
  return "http://127.0.0.1:8080";
}

plexus::Json getJson(const Args& args, const std::string& path) { return requestJson(args, "GET", path, nullptr); }

plexus::Json postJson(const Args& args, const std::string& path, const plexus::Json& body) {
  return requestJson(args, "POST", path, &body);
}

plexus::Json requestJson(const Args& args, const std::string& method, const std::string& path,
                         const plexus::Json* sent) {
  std::string base = serverUrl(args);
  Poco::URI uri(base);
  if (uri.getScheme() != "http") throw std::runtime_error("--server must be an http:// URL, got '" + base + "'");
  Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
  session.setTimeout(Poco::Timespan(30, 0));
  Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
  std::string payload = sent ? sent->dump() : std::string();
  if (sent) {
    request.setContentType("application/json");
    request.setContentLength(static_cast<std::streamsize>(payload.size()));
  }
  std::string token = args.value("api-token", std::getenv("PLEXUS_API_TOKEN") ? std::getenv("PLEXUS_API_TOKEN") : "");
  if (!token.empty()) request.set("Authorization", "Bearer " + token);
  Poco::Net::HTTPResponse response;
  std::string body;
  try {
    session.sendRequest(request) << payload;
    std::istream& in = session.receiveResponse(response);
    Poco::StreamCopier::copyToString(in, body);
  } catch (const Poco::Exception& error) {
    throw std::runtime_error("cannot reach the Plexus server at " + base + ": " + error.displayText() +
                             " (is `plexus serve` running? set --server or PLEXUS_URL)");
  }
  plexus::Json json;
  try {
    json = plexus::Json::parse(body);
  } catch (const plexus::Json::parse_error&) {
    throw std::runtime_error("the server at " + base + " answered " + std::to_string(response.getStatus()) +
                             " with something that is not JSON");
  }
  if (response.getStatus() >= 400)
    throw std::runtime_error(base + path + ": " + std::to_string(response.getStatus()) + " " +
                             json.value("error", std::string("error")));
  return json;
}

}  // namespace plexus::core::cli
