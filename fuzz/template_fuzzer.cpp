// Template::parse + render: a step input's `{{ path }}` text, rendered
// against a small fixed scope with every root, objects, arrays and a binary.
#include <cstddef>
#include <cstdint>
#include <string>

#include "integration/template.hpp"

namespace {

const plexus::Json& scope() {
  static const plexus::Json kScope = [] {
    plexus::Json s = plexus::Json::parse(R"({
      "trigger": {"results": {"body": {"data": {"items": [1, "two", {"odd key": null}],
                                                "name": "x", "n": 1.5, "b": true}},
                              "headers": {"Content-Type": "application/json"}}},
      "steps": {"lookup": {"results": {"id": 7, "list": [[0, 1], []], "o": {}}},
                "a.b": {"results": "dotted"}},
      "configVars": {"KEY": "value", "Nested": {"a": [1]}},
      "instance": {"id": "i", "name": "n"}, "integration": {"key": "k"}, "execution": {"id": "e"}
    })");
    s["trigger"]["results"]["rawBody"] = plexus::Json::binary(plexus::Binary(std::string("\x89PNG"), "image/png"));
    return s;
  }();
  return kScope;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    plexus::core::Template compiled = plexus::core::Template::parse(text);
    for (const auto& reference : compiled.references()) (void)reference.path();
    (void)compiled.render(scope());
  } catch (const plexus::core::TemplateError&) {
    // Documented: a syntax error (TemplateSyntaxError) or a path that does not resolve.
  }
  return 0;
}
