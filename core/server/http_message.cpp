#include "server/http_message.hpp"

#include <ctime>

#include <boost/beast/http/status.hpp>

namespace plexus::core {

namespace {

char lowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

/// The header fields the front end writes itself; a handler's copy is dropped.
bool isFramingField(std::string_view name) {
  return equalsIgnoringCase(name, "content-length") || equalsIgnoringCase(name, "transfer-encoding") ||
         equalsIgnoringCase(name, "connection") || equalsIgnoringCase(name, "date");
}

void appendClean(std::string& out, std::string_view text) {
  for (char c : text) out += (c == '\r' || c == '\n') ? ' ' : c;
}

/// RFC 9110 IMF-fixdate, formatted once a second per thread.
const std::string& httpDate() {
  thread_local std::time_t last = 0;
  thread_local std::string text;
  std::time_t now = std::time(nullptr);
  if (now != last) {
    std::tm parts{};
    gmtime_r(&now, &parts);
    static const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[parts.tm_wday],
                  parts.tm_mday, kMonths[parts.tm_mon], parts.tm_year + 1900, parts.tm_hour, parts.tm_min,
                  parts.tm_sec);
    text = buffer;
    last = now;
  }
  return text;
}

}  // namespace

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lowerAscii(a[i]) != lowerAscii(b[i])) return false;
  return true;
}

void HttpHeaders::add(std::string name, std::string value) { fields_.emplace_back(std::move(name), std::move(value)); }

void HttpHeaders::set(const std::string& name, std::string value) {
  erase(name);
  add(name, std::move(value));
}

void HttpHeaders::erase(std::string_view name) {
  std::vector<Field> kept;
  kept.reserve(fields_.size());
  for (auto& field : fields_)
    if (!equalsIgnoringCase(field.first, name)) kept.push_back(std::move(field));
  fields_ = std::move(kept);
}

bool HttpHeaders::has(std::string_view name) const {
  for (const auto& field : fields_)
    if (equalsIgnoringCase(field.first, name)) return true;
  return false;
}

std::string HttpHeaders::get(std::string_view name, const std::string& fallback) const {
  for (const auto& field : fields_)
    if (equalsIgnoringCase(field.first, name)) return field.second;
  return fallback;
}

std::vector<std::string> HttpHeaders::all(std::string_view name) const {
  std::vector<std::string> values;
  for (const auto& field : fields_)
    if (equalsIgnoringCase(field.first, name)) values.push_back(field.second);
  return values;
}

std::string_view reasonPhrase(int status) {
  namespace http = boost::beast::http;
  if (status < 100 || status > 999) return "Unknown";
  auto known = http::int_to_status(static_cast<unsigned>(status));
  if (known == http::status::unknown) return "Unknown";
  auto text = http::obsolete_reason(known);
  return std::string_view(text.data(), text.size());
}

std::string serializeResponseHead(const HttpResponse& response, unsigned version, bool close) {
  std::string out;
  out.reserve(256);
  out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(response.status);
  out += ' ';
  out += reasonPhrase(response.status);
  out += "\r\n";
  for (const auto& [name, value] : response.headers) {
    if (isFramingField(name)) continue;
    appendClean(out, name);
    out += ": ";
    appendClean(out, value);
    out += "\r\n";
  }
  // 204 and 304 have no body (RFC 9110 §15.3.5, §15.4.5); the sender
  // clears it (sendStoredResult), and a 204 carries no Content-Length.
  if (response.status != 204) {
    out += "Content-Length: ";
    out += std::to_string(response.bodyView().size());
    out += "\r\n";
  }
  out += "Date: ";
  out += httpDate();
  out += "\r\n";
  if (close) out += "Connection: close\r\n";
  else if (version == 10) out += "Connection: keep-alive\r\n";
  out += "\r\n";
  return out;
}

}  // namespace plexus::core
