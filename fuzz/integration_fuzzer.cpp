// parseIntegration: an integration YAML file, checked against a fixed
// catalog (the built-in components' actions, tests/integration/test_catalog.hpp).
// It never throws for bad input: every problem is an IntegrationError.
#include <cstddef>
#include <cstdint>
#include <string>

#include "integration/integration_loader.hpp"
#include "test_catalog.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string yaml(reinterpret_cast<const char*>(data), size);
  plexus::core::IntegrationLoadResult result =
      plexus::core::parseIntegration(yaml, "fuzz.yaml", plexus::core::test::catalog());
  for (const auto& error : result.errors) (void)error.format();
  // All or nothing: an integration exactly when there is no error.
  if (result.integration.has_value() == !result.errors.empty()) __builtin_trap();
  return 0;
}
