// `{{ path }}` references in step inputs: parsed once when an integration
// loads, rendered against an execution's scope for every run.
//
// What goes between `{{` and `}}` is an expression (integration/expression.hpp);
// most are just a path. A path starts at one of the roots
//   trigger.results   steps.NAME.results   configVars.KEY
//   instance          integration          execution      loop (in a loop)
// and goes on with `.name` segments, `[i]` array indexes and `["odd key"]` /
// `['odd key']` for keys that are not plain names (spaces, dots, brackets).
// A dotted segment of digits also indexes an array (`items.0`).
//
// A string that is exactly one `{{ }}` (whitespace around it allowed)
// renders to its value with its type (object, number, binary...); `{{ }}`
// inside a longer string interpolate text. `\{{` is a literal
// `{{` (the backslash is dropped; in YAML write it '\{{' or "\\{{").
//
// Error messages name paths, keys and types, never values: a config
// variable may be a secret.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <plexus/value.hpp>

#include "integration/expression.hpp"

namespace plexus::core {

/// The longest string a template with text around its references renders
/// to (256 MiB: above the largest request body a server takes by default).
constexpr std::size_t kMaxRenderedTextBytes = 256u * 1024 * 1024;

/// A parsed template string. Immutable; render() may be called from many
/// threads at once.
class Template {
 public:
  /// Parses `text`. Throws TemplateSyntaxError with the column of the
  /// problem. A text without `{{` is a literal, parsed in one scan.
  static Template parse(const std::string& text);

  /// True when the text has no references (it renders to a plain string).
  bool isLiteral() const { return references_.empty(); }
  /// True when the text is exactly one `{{ }}`, give or take whitespace:
  /// render() then returns its value with its own type.
  bool isSingleExpression() const { return single_; }
  /// The expression of a single-expression template (isSingleExpression()).
  const Expression& single() const { return expressions_.front(); }
  /// Every path of every expression, in source order.
  const std::vector<Reference>& references() const { return references_; }

  /// Renders against `scope`, an object
  ///   {trigger: {results}, steps: {NAME: {results}}, configVars: {...},
  ///    instance: {...}, integration: {...}, execution: {...}}.
  /// A single reference gives the referenced value; otherwise a string in
  /// which strings appear raw and other values as compact JSON. Throws
  /// TemplateError for a path that does not resolve, for binary data
  /// that would have to become text, or for a text that would be longer
  /// than `maxTextBytes`.
  plexus::Json render(const plexus::Json& scope, std::size_t maxTextBytes = kMaxRenderedTextBytes) const;

 private:
  /// Literal text, or (when expression is set) the expression at that index.
  struct Part {
    std::string text;
    std::optional<std::size_t> expression;
  };
  void appendRendered(std::string& out, const Expression& expression, const plexus::Json& value) const;

  std::vector<Part> parts_;
  std::vector<Expression> expressions_;
  std::vector<Reference> references_;
  bool single_ = false;
};

/// A step's inputs with every template string parsed once, when the
/// integration loads, so that each run only renders. Subtrees without
/// templates are kept as ready-made values and copied as they are.
/// Immutable; render() may be called from many threads at once.
class CompiledInputs {
 public:
  /// A template string and where it sits in the inputs ("headers.Authorization").
  struct Site {
    std::string input;
    const Template* compiled;
  };

  /// Parses every string in `inputs` (an object, or any JSON value).
  /// Throws TemplateSyntaxError whose message starts "input 'NAME': ".
  static CompiledInputs compile(const plexus::Json& inputs);

  /// The inputs with every template rendered against `scope` (see
  /// Template::render). Throws TemplateError whose message starts
  /// "input 'NAME': reference '...': ...".
  plexus::Json render(const plexus::Json& scope) const;

  /// Every template string, in document order.
  std::vector<Site> sites() const;

 private:
  struct Node {
    enum class Kind { Literal, Text, Object, Array } kind = Kind::Literal;
    plexus::Json literal;             ///< Literal: the value, copied as is.
    std::size_t templateIndex = 0;    ///< Text: index into templates_.
    std::vector<std::string> keys;    ///< Object: member keys, parallel to children.
    std::vector<Node> children;       ///< Object members or Array items.
  };
  Node compileNode(const plexus::Json& value, std::vector<PathSegment>& path);
  plexus::Json renderNode(const Node& node, const plexus::Json& scope) const;

  Node root_;
  std::vector<Template> templates_;
  std::vector<std::string> templatePaths_;  ///< Parallel to templates_.
};

/// Renders every string of `inputs` (recursively through objects and
/// arrays) against `scope`. Parses as it goes: prefer CompiledInputs (see
/// StepSpec::compiledInputs) on hot paths. Throws TemplateError as
/// CompiledInputs::render does.
plexus::Json resolveInputs(const plexus::Json& inputs, const plexus::Json& scope);

}  // namespace plexus::core
