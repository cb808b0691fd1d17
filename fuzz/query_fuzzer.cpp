// parseQueryParameters: a webhook URL's query string ("a=1&b=x%20y").
#include <cstddef>
#include <cstdint>
#include <string>

#include "trigger/webhook/webhook_payload.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string query(reinterpret_cast<const char*>(data), size);
  try {
    plexus::Json parameters = plexus::core::parseQueryParameters(query);
    (void)parameters.dump(-1, ' ', false, plexus::Json::error_handler_t::replace);
  } catch (const plexus::core::PayloadError&) {
    // Documented: malformed percent-encoding is a 400.
  }
  return 0;
}
