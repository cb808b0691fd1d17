#include "server/http_reply.hpp"

namespace plexus::core {

using Poco::Net::HTTPResponse;

void sendBytes(Poco::Net::HTTPServerResponse& response, HTTPResponse::HTTPStatus status,
               const std::string& contentType, std::string_view bytes) {
  response.setStatusAndReason(status);
  response.setContentType(contentType);
  response.setContentLength64(static_cast<Poco::Int64>(bytes.size()));
  response.send().write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void sendJson(Poco::Net::HTTPServerResponse& response, HTTPResponse::HTTPStatus status,
              const plexus::Json& body) {
  // Replace invalid UTF-8 (a plugin's log line in Latin-1) rather than fail.
  sendBytes(response, status, "application/json",
            describeBinaries(body).dump(-1, ' ', false, plexus::Json::error_handler_t::replace));
}

void sendError(Poco::Net::HTTPServerResponse& response, HTTPResponse::HTTPStatus status,
               const std::string& message) {
  sendJson(response, status, plexus::Json{{"error", message}});
}

plexus::Json describeBinaries(const plexus::Json& value) {
  if (value.is_binary()) {
    const plexus::Binary& binary = plexus::asBinary(value);
    return plexus::Json{{"$binary", {{"contentType", binary.contentType()}, {"size", binary.size()}}}};
  }
  if (value.is_object()) {
    plexus::Json out = plexus::Json::object();
    for (const auto& [key, item] : value.items()) out[key] = describeBinaries(item);
    return out;
  }
  if (value.is_array()) {
    plexus::Json out = plexus::Json::array();
    for (const auto& item : value) out.push_back(describeBinaries(item));
    return out;
  }
  return value;
}

std::size_t servedSize(const plexus::Json& data) {
  if (data.is_binary()) return plexus::asBinary(data).size();
  if (data.is_string()) return data.get_ref<const std::string&>().size();
  return describeBinaries(data).dump().size();
}

std::string responseLimitMessage(std::size_t size, std::int64_t maxBytes) {
  return "the final step's output is " + std::to_string(size) +
         " bytes, over the response limit of " + std::to_string(maxBytes) +
         " bytes (raise it with --max-response-bytes)";
}

namespace {
void sendData(Poco::Net::HTTPServerResponse& response, HTTPResponse::HTTPStatus status,
              const plexus::Json& data) {
  if (data.is_binary()) {
    const plexus::Binary& binary = plexus::asBinary(data);
    sendBytes(response, status, binary.contentType(), binary.view());
  } else if (data.is_string()) {
    sendBytes(response, status, "text/plain; charset=utf-8", data.get_ref<const std::string&>());
  } else {
    sendJson(response, status, data);
  }
}
}  // namespace

void sendStoredResult(Poco::Net::HTTPServerResponse& response, const StoredResult& result,
                      std::int64_t maxBytes) {
  if (result.isStatus) {
    const auto& status = result.status;
    std::size_t size = status.body ? servedSize(*status.body) : 0;
    if (static_cast<std::int64_t>(size) > maxBytes)
      return sendError(response, HTTPResponse::HTTP_INTERNAL_SERVER_ERROR, responseLimitMessage(size, maxBytes));
    auto code = static_cast<HTTPResponse::HTTPStatus>(status.statusCode);
    bool hasContentType = false;
    for (const auto& [name, value] : status.headers) {
      response.set(name, value);
      if (Poco::icompare(name, "content-type") == 0) hasContentType = true;
    }
    if (!status.body) {
      response.setStatusAndReason(code);
      response.setContentLength(0);
      response.send();
      return;
    }
    if (hasContentType && status.body->is_string()) {
      response.setStatusAndReason(code);
      const std::string& text = status.body->get_ref<const std::string&>();
      response.setContentLength64(static_cast<Poco::Int64>(text.size()));
      response.send() << text;
      return;
    }
    return sendData(response, code, *status.body);
  }
  std::size_t size = servedSize(result.data);
  if (static_cast<std::int64_t>(size) > maxBytes)
    return sendError(response, HTTPResponse::HTTP_INTERNAL_SERVER_ERROR, responseLimitMessage(size, maxBytes));
  sendData(response, HTTPResponse::HTTP_OK, result.data);
}

}  // namespace plexus::core
