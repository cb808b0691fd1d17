// Expressions inside `{{ }}`: every operator and function, truthiness,
// precedence, and every parse-time and run-time error, table-driven.
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "integration/template.hpp"

using plexus::Json;
using plexus::core::isTruthy;
using plexus::core::kMaxExpressionDepth;
using plexus::core::Template;
using plexus::core::TemplateError;
using plexus::core::TemplateSyntaxError;

namespace {

Json scope() {
  return Json{{"trigger",
               {{"results",
                 {{"body",
                   {{"status", 404},
                    {"ratio", 0.5},
                    {"name", "Order-42"},
                    {"items", Json::array({1, "two", Json{{"k", true}}})},
                    {"empty", Json::array()},
                    {"obj", {{"a", 1}, {"b", nullptr}}},
                    {"big", 18446744073709551615ULL},
                    {"paid", true}}},
                  {"headers", {{"x-github-event", "push"}}}}}}},
              {"steps", {{"fetch", {{"results", {{"status", 200}}}}}, {"broken", {{"results", nullptr}, {"error", "boom"}}}}},
              {"configVars", {{"mode", "live"}}},
              {"instance", {{"id", "i"}, {"name", "acme"}}},
              {"integration", {{"key", "k"}, {"name", "K"}}},
              {"execution", {{"id", "e"}}},
              {"loop", {{"item", {{"id", 7}}}, {"index", 3}}}};
}

Json eval(const std::string& expression) { return Template::parse("{{ " + expression + " }}").render(scope()); }

struct Case {
  const char* expression;
  Json expected;
};

}  // namespace

TEST_CASE("Every operator and function evaluates as documented", "[expression]") {
  const std::vector<Case> cases = {
      // literals
      {"12", 12}, {"-1.5", -1.5}, {"2e3", 2000.0}, {"\"text\"", "text"}, {"'single'", "single"},
      {"'it\\'s'", "it's"}, {"\"a\\nb\"", "a\nb"}, {"true", true}, {"false", false}, {"null", nullptr},
      // paths, including header names with '-' and loop scope
      {"trigger.results.headers.x-github-event", "push"}, {"loop.item.id", 7}, {"loop.index", 3},
      {"steps.broken.error", "boom"}, {"trigger.results.body.items[1]", "two"},
      // == and != over JSON values
      {"trigger.results.body.status == 404", true}, {"trigger.results.body.status == 404.0", true},
      {"trigger.results.body.status != 404", false}, {"'a' == 'a'", true}, {"'a' == 1", false},
      {"null == null", true}, {"trigger.results.body.obj == trigger.results.body.obj", true},
      {"trigger.results.body.empty == trigger.results.body.items", false},
      // ordering: numbers, strings
      {"trigger.results.body.status >= 400", true}, {"trigger.results.body.status > 404", false},
      {"trigger.results.body.status < 404.5", true}, {"trigger.results.body.status <= 404", true},
      {"trigger.results.body.ratio < 1", true}, {"'abc' < 'abd'", true}, {"'b' > 'abc'", true},
      {"trigger.results.body.big > 1", true}, {"-1 < trigger.results.body.big", true},
      // in
      {"1 in trigger.results.body.items", true}, {"'two' in trigger.results.body.items", true},
      {"3 in trigger.results.body.items", false}, {"'a' in trigger.results.body.obj", true},
      {"'z' in trigger.results.body.obj", false}, {"'der' in trigger.results.body.name", true},
      {"'xyz' in trigger.results.body.name", false},
      // logic and truthiness
      {"true and false", false}, {"true or false", true}, {"not true", false}, {"not null", true},
      {"not 0", true}, {"not 0.0", true}, {"not ''", true}, {"not trigger.results.body.empty", true},
      {"not trigger.results.body.obj", false}, {"trigger.results.body.paid and trigger.results.body.status", true},
      // precedence: not is looser than ==, and binds tighter than or
      {"not 1 == 2", true}, {"true or false and false", true}, {"(true or false) and false", false},
      {"not (1 == 1) or 1 == 1", true},
      // functions
      {"exists(trigger.results.body.status)", true}, {"exists(trigger.results.body.nope)", false},
      {"exists(steps.never.results)", false}, {"length(trigger.results.body.items)", 3},
      {"length(trigger.results.body.obj)", 2}, {"length('héllo')", 5}, {"length(trigger.results.body.empty)", 0},
      {"lower(trigger.results.body.name)", "order-42"}, {"upper('abc-é')", "ABC-é"},
      {"startsWith(trigger.results.body.name, 'Order')", true}, {"startsWith('a', 'abc')", false},
      {"endsWith(trigger.results.body.name, '-42')", true}, {"endsWith('abc', 'b')", false},
      {"length(lower('ABC')) == 3", true},
  };
  for (const Case& c : cases) {
    INFO(c.expression);
    CHECK(eval(c.expression) == c.expected);
  }
}

TEST_CASE("A value is true unless it is false, null, 0, \"\", [] or {}", "[expression]") {
  for (const Json& falsy : {Json(false), Json(nullptr), Json(0), Json(0.0), Json(""), Json::array(), Json::object()})
    CHECK_FALSE(isTruthy(falsy));
  for (const Json& truthy : {Json(true), Json(1), Json(-0.5), Json(" "), Json::array({0}), Json{{"a", nullptr}}})
    CHECK(isTruthy(truthy));
  CHECK(isTruthy(plexus::makeBinary("", "application/octet-stream")));
}

TEST_CASE("and and or stop early: the other side is not evaluated", "[expression]") {
  // The right side would fail (no such key) if it were evaluated.
  CHECK(eval("false and trigger.results.body.nope") == false);
  CHECK(eval("true or trigger.results.body.nope") == true);
  CHECK_THROWS_AS(eval("true and trigger.results.body.nope"), TemplateError);
}

TEST_CASE("Expressions inside text interpolate their value", "[expression]") {
  CHECK(Template::parse("paid: {{ trigger.results.body.paid and true }}, n={{ length(trigger.results.body.items) }}")
            .render(scope()) == "paid: true, n=3");
  CHECK(Template::parse("{{ '}}' }}").render(scope()) == "}}");  // a '}}' inside a string does not close
}

namespace {

struct SyntaxCase {
  const char* text;
  const char* message;  // a part of the message
  std::size_t column;   // where in the text, from 1
};

}  // namespace

TEST_CASE("Malformed expressions and known type mismatches fail when parsed, with the column", "[expression]") {
  const std::vector<SyntaxCase> cases = {
      {"{{ }}", "empty reference", 1},
      {"{{ a.b }}", "unknown reference root 'a'", 4},
      {"{{ trigr.results }}", "did you mean 'trigger'", 4},
      {"{{ steps.x.output }}", "steps.x.results", 4},
      {"{{ loop.value }}", "loop.item and loop.index", 4},
      {"{{ 1 == }}", "expected a value (a path, a literal or a call) before '}}'", 9},
      {"{{ 1 = 1 }}", "compare with '=='", 6},
      {"{{ !true }}", "unexpected '!'", 4},
      {"{{ 1 ! 2 }}", "write 'not' or '!='", 6},
      {"{{ 1 < 2 < 3 }}", "comparisons do not chain", 10},
      {"{{ (1 == 1 }}", "'(' is not closed", 4},
      {"{{ 'abc }}", "quoted text is not closed", 4},
      {"{{ 1 == 1", "'{{' is not closed", 1},
      {"{{ lenght(trigger.results) }}", "did you mean 'length'", 4},
      {"{{ length() }}", "length() takes 1 argument", 4},
      {"{{ startsWith('a') }}", "startsWith() takes 2 arguments", 4},
      {"{{ length(1) }}", "length() takes a string, an array or an object, not a number", 4},
      {"{{ lower(true) }}", "lower() takes a string, not a boolean", 4},
      {"{{ exists('a') }}", "exists() takes a path", 4},
      {"{{ 'a' < 1 }}", "'<' compares two numbers or two strings, not a string and a number", 8},
      {"{{ true >= 1 }}", "its left side is always a boolean", 9},
      {"{{ 1 in 2 }}", "its right side is always a number", 6},
      {"{{ 12abc }}", "a number cannot be followed by 'abc'", 6},
      {"{{ and }}", "expected a value before 'and'", 4},
      {"{{ trigger.results[x] }}", "expected an array index or a quoted key", 19},
      {"{{ 1e999 }}", "too large", 4},
  };
  for (const SyntaxCase& c : cases) {
    INFO(c.text);
    try {
      Template::parse(c.text);
      FAIL("no error");
    } catch (const TemplateSyntaxError& error) {
      CHECK_THAT(error.what(), Catch::Contains(c.message));
      CHECK(error.column() == c.column);
    }
  }
}

TEST_CASE("A parse error shows the expression with a caret under the problem", "[expression]") {
  try {
    Template::parse("{{ steps.fetch.results.status >= }}");
    FAIL("no error");
  } catch (const TemplateSyntaxError& error) {
    // The '}}' is at byte 33 of the text: the caret sits under it.
    CHECK(error.excerpt() == "    {{ steps.fetch.results.status >= }}\n" + std::string(4 + 33, ' ') + "^");
  }
}

TEST_CASE("Types only a run knows fail the evaluation, naming the expression", "[expression]") {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {"trigger.results.body.name >= 400",
       "expression 'trigger.results.body.name >= 400': '>=' compares two numbers or two strings, not a string and a "
       "number"},
      {"1 in trigger.results.body.status", "'in' looks inside an array, an object or a string, not a number"},
      {"1 in trigger.results.body.obj", "'in' finds a key of an object, and keys are strings, not a number"},
      {"1 in trigger.results.body.name", "'in' finds a string inside a string, not a number"},
      {"length(trigger.results.body.status)", "length() takes a string, an array or an object, not a number"},
      {"upper(trigger.results.body.paid)", "upper() takes a string, not a boolean"},
      {"trigger.results.body.nope == 1",
       "expression 'trigger.results.body.nope == 1': reference 'trigger.results.body.nope': 'trigger.results.body' "
       "has no key 'nope'"},
  };
  for (const auto& [expression, message] : cases) {
    INFO(expression);
    try {
      eval(expression);
      FAIL("no error");
    } catch (const TemplateError& error) {
      CHECK_THAT(error.what(), Catch::Contains(message));
    }
  }
}

TEST_CASE("Expressions are bounded in depth, at the bound and one past it", "[expression][limits]") {
  auto nested = [](std::size_t levels) {
    std::string text = "{{ ";
    for (std::size_t i = 0; i + 1 < levels; ++i) text += "not ";
    return text + "true }}";
  };
  CHECK_NOTHROW(Template::parse(nested(kMaxExpressionDepth - 1)));
  CHECK_THROWS_WITH(Template::parse(nested(kMaxExpressionDepth + 1)), Catch::Contains("nested deeper than"));
  std::string parens = "{{ " + std::string(kMaxExpressionDepth + 1, '(') + "1" +
                       std::string(kMaxExpressionDepth + 1, ')') + " }}";
  CHECK_THROWS_WITH(Template::parse(parens), Catch::Contains("nested deeper than"));
  // A long flat chain is deep too, as a tree: the evaluator recurses over it.
  std::string chain = "{{ true";
  for (std::size_t i = 0; i < kMaxExpressionDepth + 1; ++i) chain += " and true";
  CHECK_THROWS_WITH(Template::parse(chain + " }}"), Catch::Contains("nested deeper than"));
  std::string fine = "{{ true";
  for (std::size_t i = 0; i + 2 < kMaxExpressionDepth; ++i) fine += " or false";
  CHECK(Template::parse(fine + " }}").render(scope()) == true);
}
