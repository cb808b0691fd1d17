// yamlToJson: any YAML document (integration files, config values) to JSON.
#include <cstddef>
#include <cstdint>
#include <string>

#include <yaml-cpp/yaml.h>

#include "integration/yaml_json.hpp"
#include "integration/yaml_limits.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  YAML::Node node;
  try {
    // As the integration loader does: yamlToJson is only ever given a
    // document that passed the limits (an alias inside its own anchor makes
    // yaml-cpp build a cycle that every walk would follow for ever).
    plexus::core::checkYamlLimits(text);
    node = YAML::Load(text);
  } catch (const plexus::core::YamlLimitError&) {
    return 0;  // Refused with a message, as `plexus validate` shows it.
  } catch (const YAML::Exception&) {
    return 0;  // Not YAML: yaml-cpp's ParserException (and DeepRecursion) are documented.
  }
  try {
    plexus::Json value = plexus::core::yamlToJson(node);
    (void)value.dump(-1, ' ', false, plexus::Json::error_handler_t::replace);
  } catch (const plexus::core::YamlConversionError&) {
    // Documented: a map key that is a collection, or a key given twice.
  }
  return 0;
}
