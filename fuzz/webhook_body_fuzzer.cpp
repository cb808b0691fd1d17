// parseWebhookBody: a webhook request body as sent, by content type.
// Input: the Content-Type header value, a newline, then the body bytes
// ("multipart/form-data; boundary=X\n--X\r\n..."), so the fuzzer explores
// the media type and its boundary parameter as well as the body.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "trigger/webhook/webhook_payload.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::size_t newline = input.find('\n');
  if (newline == std::string_view::npos) return -1;  // not a case: keep it out of the corpus
  std::string contentType(input.substr(0, newline));
  std::string body(input.substr(newline + 1));
  try {
    plexus::core::WebhookBody parsed = plexus::core::parseWebhookBody(std::move(body), contentType);
    // The server serialises trigger results (with replacement for bad UTF-8).
    (void)parsed.data.dump(-1, ' ', false, plexus::Json::error_handler_t::replace);
  } catch (const plexus::core::PayloadError& error) {
    // Documented: malformed JSON or multipart is a 400 (413 for size).
    if (error.status() != 400 && error.status() != 413) __builtin_trap();
  }
  return 0;
}
