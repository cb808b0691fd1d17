// `{{ path }}` templates: parsing, typed single references, interpolation,
// error messages, and rendering whole input objects.
#include <string>

#include <catch2/catch.hpp>

#include "integration/template.hpp"

using plexus::Json;
using plexus::core::CompiledInputs;
using plexus::core::ReferenceRoot;
using plexus::core::resolveInputs;
using plexus::core::Template;
using plexus::core::TemplateError;
using plexus::core::TemplateSyntaxError;

namespace {

/// A scope like the engine builds for the third step of a run.
Json scope() {
  return Json{
      {"trigger",
       {{"results",
         {{"body", {{"data", {{"renderId", 51266}, {"status", "complete"}}}, {"contentType", "application/json"}}},
          {"headers", {{"content-type", "application/json"}}},
          {"items", Json::array({"a", "b"})},
          {"odd", {{"key with spaces", 1}, {"it's", 2}, {"a.b", 3}}},
          {"photo", plexus::makeBinary("\x89PNG....", "image/png")}}}}},
      {"steps",
       {{"lookup", {{"results", {{"data", {{"x", 1}}}, {"id", "r-1"}}}}},
        {"flags", {{"results", {{"ok", true}, {"none", nullptr}, {"ratio", 0.5}}}}}}},
      {"configVars", {{"bucket", "acme-renders"}, {"token", "s3cr3t"}}},
      {"instance", {{"id", "i-1"}, {"name", "acme"}}},
      {"integration", {{"key", "render-status"}, {"name", "Render Status"}}},
      {"execution", {{"id", "e-1"}, {"startedAt", "2026-12-01T14:05:00.000Z"}}}};
}

Json render(const std::string& text) { return Template::parse(text).render(scope()); }

std::string renderError(const std::string& text) {
  try {
    render(text);
  } catch (const TemplateError& error) {
    return error.what();
  }
  FAIL("no error for " << text);
  return "";
}

}  // namespace

TEST_CASE("A string that is exactly one reference keeps the referenced value's type", "[template]") {
  CHECK(render("{{ trigger.results.body.data }}") == Json{{"renderId", 51266}, {"status", "complete"}});
  CHECK(render("{{ trigger.results.body.data.renderId }}") == 51266);
  CHECK(render("  {{steps.flags.results.ok}}\n") == true);
  CHECK(render("{{ steps.flags.results.none }}").is_null());
  CHECK(render("{{ configVars.bucket }}") == "acme-renders");
  CHECK(render("{{ instance }}") == Json{{"id", "i-1"}, {"name", "acme"}});
  CHECK(render("{{ integration.key }}") == "render-status");
  CHECK(render("{{ execution.id }}") == "e-1");

  Json photo = render("{{ trigger.results.photo }}");
  REQUIRE(photo.is_binary());
  CHECK(plexus::asBinary(photo).contentType() == "image/png");
  CHECK(Template::parse(" {{ trigger.results.photo }} ").isSingleExpression());
}

TEST_CASE("Paths index arrays and reach keys that are not plain names", "[template]") {
  CHECK(render("{{ trigger.results.items[1] }}") == "b");
  CHECK(render("{{ trigger.results.items.0 }}") == "a");
  CHECK(render("{{ trigger.results.odd[\"key with spaces\"] }}") == 1);
  CHECK(render("{{ trigger.results.odd['it\\'s'] }}") == 2);
  CHECK(render("{{ trigger.results.odd[\"a.b\"] }}") == 3);
  CHECK(render("{{ trigger.results.headers.content-type }}") == "application/json");
}

TEST_CASE("References inside longer text are interpolated", "[template]") {
  CHECK(render("Render {{ trigger.results.body.data.renderId }} is {{ trigger.results.body.data.status }}") ==
        "Render 51266 is complete");
  CHECK(render("ok={{steps.flags.results.ok}} none={{steps.flags.results.none}} r={{steps.flags.results.ratio}}") ==
        "ok=true none=null r=0.5");
  CHECK(render("data: {{ steps.lookup.results.data }}") == "data: {\"x\":1}");
  CHECK(render("s3://{{ configVars.bucket }}/") == "s3://acme-renders/");
  CHECK_FALSE(Template::parse("x {{ instance.name }}").isSingleExpression());
}

TEST_CASE("Text without references is a literal, and \\{{ writes a literal {{", "[template]") {
  Template plain = Template::parse("no references here }}");
  CHECK(plain.isLiteral());
  CHECK(plain.render(Json::object()) == "no references here }}");
  CHECK(render("\\{{ not a reference }}") == "{{ not a reference }}");
  CHECK(render("\\{{ x }} and {{ instance.name }}") == "{{ x }} and acme");
}

TEST_CASE("Binary data cannot be interpolated into text", "[template]") {
  CHECK(renderError("photo: {{ trigger.results.photo }}") ==
        "reference 'trigger.results.photo' is binary data (image/png, 8 bytes), which cannot be put "
        "inside text; use \"{{ trigger.results.photo }}\" alone as the input's value, or convert it "
        "first (binary.toBase64)");
  CHECK(renderError("all: {{ trigger.results }}") ==
        "reference 'trigger.results' holds binary data at 'trigger.results.photo', which cannot be put "
        "inside text; reference a part without binary data, or convert it first (binary.toBase64)");
}

TEST_CASE("A path that does not resolve names the reference and what was there", "[template]") {
  CHECK(renderError("{{ steps.lookup.results.renderId }}") ==
        "reference 'steps.lookup.results.renderId': 'steps.lookup.results' has no key 'renderId' (it "
        "is an object with keys: data, id)");
  CHECK(renderError("{{ trigger.results.items[5] }}") ==
        "reference 'trigger.results.items[5]': 'trigger.results.items' has no index 5 (it is an array "
        "of 2 items)");
  CHECK(renderError("x{{ trigger.results.body.data.status.code }}") ==
        "reference 'trigger.results.body.data.status.code': 'trigger.results.body.data.status' has no "
        "key 'code' (it is a string)");
  CHECK(renderError("{{ steps.later.results }}") ==
        "reference 'steps.later.results': step 'later' has no results (it has not run before this step)");
  CHECK(renderError("{{ configVars.region }}") ==
        "reference 'configVars.region': config variable 'region' is not set for this instance");
  CHECK(renderError("{{ trigger.results.odd[\"no such\"] }}") ==
        "reference 'trigger.results.odd[\"no such\"]': 'trigger.results.odd' has no key 'no such' (it "
        "is an object with keys: a.b, it's, key with spaces)");
}

TEST_CASE("Key lists in messages are kept short", "[template]") {
  Json wide = Json::object();
  for (int i = 0; i < 20; ++i) wide["k" + std::to_string(100 + i)] = i;
  Json wideScope = {{"trigger", {{"results", wide}}}};
  try {
    Template::parse("{{ trigger.results.missing }}").render(wideScope);
    FAIL("no error");
  } catch (const TemplateError& error) {
    CHECK(std::string(error.what()) ==
          "reference 'trigger.results.missing': 'trigger.results' has no key 'missing' (it is an "
          "object with keys: k100, k101, k102, k103, k104, k105, ... (14 more))");
  }
}

TEST_CASE("Error messages never show values", "[template][secrets]") {
  std::string message = renderError("{{ configVars.token.inner }}");
  CHECK(message == "reference 'configVars.token.inner': 'configVars.token' has no key 'inner' (it is a string)");
  CHECK(message.find("s3cr3t") == std::string::npos);
}

TEST_CASE("References are parsed into roots and segments", "[template]") {
  Template parsed = Template::parse("a {{ steps.lookup.results.data[0] }} b {{ configVars.bucket }}");
  REQUIRE(parsed.references().size() == 2);
  const auto& step = parsed.references()[0];
  CHECK(step.root == ReferenceRoot::StepResults);
  CHECK(step.name == "lookup");
  CHECK(step.rootLength == 3);
  CHECK(step.path() == "steps.lookup.results.data[0]");
  CHECK(step.column == 6);
  CHECK(parsed.references()[1].root == ReferenceRoot::ConfigVar);
  CHECK(parsed.references()[1].name == "bucket");
}

TEST_CASE("Malformed templates are refused with the column of the problem", "[template]") {
  auto [text, message, column] = GENERATE(table<std::string, std::string, std::size_t>({
      {"abc {{ unclosed", "'{{' is not closed; add '}}' after the expression", 5},
      {"{{ trigger.results", "'{{' is not closed; add '}}' after the expression", 1},
      {"x {{ }}", "empty reference '{{ }}'; write a path such as {{ trigger.results.body }}", 3},
      {"{{}}", "empty reference '{{ }}'; write a path such as {{ trigger.results.body }}", 1},
      {"{{ trgger.results }}",
       "unknown reference root 'trgger' (did you mean 'trigger'?); paths start with "
       "trigger.results, steps.NAME.results, configVars.KEY, instance, integration, execution or loop (inside a loop)",
       4},
      {"{{ body.data }}",
       "unknown reference root 'body'; paths start with trigger.results, steps.NAME.results, "
       "configVars.KEY, instance, integration, execution or loop (inside a loop)",
       4},
      {"{{ trigger.body }}",
       "reference 'trigger.body': the trigger's data is under trigger.results (did you mean "
       "'trigger.results.body'?)",
       4},
      {"{{ steps.lookup.data }}",
       "reference 'steps.lookup.data': a step's data is under steps.lookup.results (did you mean "
       "'steps.lookup.results.data'?)",
       4},
      {"{{ steps }}", "reference 'steps' must name a step: steps.NAME.results", 4},
      {"{{ configVars }}", "reference 'configVars' must name a config variable: configVars.KEY", 4},
      {"{{ trigger.results. }}", "expected a name after '.' in the path, found ' '", 20},
      {"{{ trigger.results[x] }}",
       "expected an array index or a quoted key after '[', e.g. [0] or [\"a key\"]", 19},
      {"{{ trigger.results[0 }}", "'[' is not closed; add ']'", 19},
      {"{{ trigger.results[\"a }}", "the quoted text is not closed; add \"", 20},
      {"{{ trigger.results body }}",
       "unexpected 'body'; expected an operator (== != < <= > >= in and or) or '}}' to close the expression",
       20},
  }));
  CAPTURE(text);
  try {
    Template::parse(text);
    FAIL("parsed without an error");
  } catch (const TemplateSyntaxError& error) {
    CHECK(std::string(error.what()) == message);
    CHECK(error.column() == column);
  }
}

TEST_CASE("resolveInputs renders every string of an inputs object, recursively", "[template]") {
  Json inputs = {{"value", "{{ trigger.results.body.data }}"},
                 {"path", "renderId"},
                 {"statusCode", 415},
                 {"headers", {{"Authorization", "Bearer {{ configVars.token }}"}, {"x-static", "yes"}}},
                 {"list", Json::array({"{{ instance.name }}", 2, Json::array({"{{ execution.id }}"})})},
                 {"photo", "{{ trigger.results.photo }}"}};
  Json resolved = resolveInputs(inputs, scope());
  CHECK(resolved["value"] == Json{{"renderId", 51266}, {"status", "complete"}});
  CHECK(resolved["path"] == "renderId");
  CHECK(resolved["statusCode"] == 415);
  CHECK(resolved["headers"] == Json{{"Authorization", "Bearer s3cr3t"}, {"x-static", "yes"}});
  CHECK(resolved["list"] == Json::array({"acme", 2, Json::array({"e-1"})}));
  CHECK(resolved["photo"].is_binary());
}

TEST_CASE("Rendering inputs names the input whose reference failed", "[template]") {
  Json inputs = {{"headers", {{"Authorization", "Bearer {{ configVars.missing }}"}}}};
  try {
    resolveInputs(inputs, scope());
    FAIL("no error");
  } catch (const TemplateError& error) {
    CHECK(std::string(error.what()) ==
          "input 'headers.Authorization': reference 'configVars.missing': config variable 'missing' is "
          "not set for this instance");
  }
}

TEST_CASE("Compiled inputs render like resolveInputs and list their templates", "[template]") {
  Json inputs = {{"a", "{{ steps.lookup.results.id }}"},
                 {"b", {{"c", Json::array({1, "\\{{ kept }}"})}}},
                 {"d", "plain"}};
  CompiledInputs compiled = CompiledInputs::compile(inputs);
  CHECK(compiled.render(scope()) == resolveInputs(inputs, scope()));
  CHECK(compiled.render(scope()) ==
        Json{{"a", "r-1"}, {"b", {{"c", Json::array({1, "{{ kept }}"})}}}, {"d", "plain"}});
  auto sites = compiled.sites();
  REQUIRE(sites.size() == 1);
  CHECK(sites[0].input == "a");
  CHECK(sites[0].compiled->isSingleExpression());
}

TEST_CASE("Compiling inputs refuses a malformed template, naming the input", "[template]") {
  try {
    CompiledInputs::compile(Json{{"list", Json::array({"ok", "{{ nope"})}});
    FAIL("no error");
  } catch (const TemplateSyntaxError& error) {
    CHECK(std::string(error.what()) == "input 'list[1]': '{{' is not closed; add '}}' after the expression");
    CHECK(error.column() == 1);
  }
}

TEST_CASE("Text around references renders to a bounded size; a reference alone is not copied", "[template][limits]") {
  Json scope = {{"trigger", {{"results", {{"x", std::string(60, 'x')}}}}}};
  Template twice = Template::parse("a {{ trigger.results.x }} b {{ trigger.results.x }}");
  CHECK(twice.render(scope, 200).get<std::string>().size() == 125);
  try {
    twice.render(scope, 100);
    FAIL("rendered past the bound");
  } catch (const TemplateError& error) {
    CHECK(std::string(error.what()) ==
          "the text would be longer than 100 bytes once its references are put in (at reference "
          "'trigger.results.x'); use the reference alone (\"{{ path }}\"), which passes the value without "
          "copying it into text");
  }
  CHECK(Template::parse("{{ trigger.results.x }}").render(scope, 10) == std::string(60, 'x'));
  CHECK(plexus::core::kMaxRenderedTextBytes == 256u * 1024 * 1024);
}
