// Expressions (`{{ a >= 1 and lower(b) in c }}`): parsed with the type
// checks of load time, then evaluated against a fixed scope with every
// kind of value, loop scope and a step that failed (steps.NAME.error).
#include <cstddef>
#include <cstdint>
#include <string>

#include "integration/template.hpp"

namespace {

const plexus::Json& scope() {
  static const plexus::Json kScope = [] {
    plexus::Json s = plexus::Json::parse(R"({
      "trigger": {"results": {"body": {"status": 404, "ratio": -0.5, "name": "Order-42", "paid": true,
                                       "items": [1, "two", {"k": null}, [], {}], "big": 18446744073709551615,
                                       "neg": -9223372036854775808},
                              "headers": {"x-github-event": "push"}}},
      "steps": {"fetch": {"results": {"status": 200, "body": {"items": [{"id": 1}]}}},
                "broken": {"results": null, "error": "boom"}},
      "configVars": {"mode": "live"},
      "instance": {"id": "i", "name": "n"}, "integration": {"key": "k"}, "execution": {"id": "e"},
      "loop": {"item": {"id": 7}, "index": 3}
    })");
    s["trigger"]["results"]["rawBody"] = plexus::Json::binary(plexus::Binary(std::string("\x89PNG"), "image/png"));
    return s;
  }();
  return kScope;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // As a `when:` is written: the input is the inside of one {{ }}.
  std::string text = "{{ " + std::string(reinterpret_cast<const char*>(data), size) + " }}";
  try {
    plexus::core::Template parsed = plexus::core::Template::parse(text);
    for (const auto& reference : parsed.references()) (void)reference.path();
    plexus::Json value = parsed.render(scope());
    if (parsed.isSingleExpression()) (void)plexus::core::isTruthy(value);
  } catch (const plexus::core::TemplateError&) {
    // Documented: a syntax or type error found when parsing, or an evaluation that fails.
  }
  return 0;
}
