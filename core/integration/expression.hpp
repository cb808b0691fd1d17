// Expressions: what goes between `{{` and `}}` (CONTRACT §9). A template's
// `{{ path }}` is the simplest expression, a path; `when:` conditions and
// any `{{ }}` may also compare, combine and call a few functions:
//
//   paths        trigger.results.body.items[0]   steps.NAME.results   loop.item
//   literals     12  -1.5  "text"  'text'  true  false  null
//   comparison   ==  !=  <  <=  >  >=  in        (they do not chain)
//   logic        and  or  not                    (not binds looser than ==)
//   grouping     ( ... )
//   functions    exists(path) length(x) lower(s) upper(s) startsWith(s, p) endsWith(s, p)
//
// `==` compares JSON values (1 == 1.0); `<` and friends compare two numbers
// or two strings (bytewise); `in` tests an element of an array, a key of an
// object or a substring of a string. A value is true unless it is false,
// null, 0, "", [] or {}; `and`, `or` and `not` give booleans and stop early.
//
// Parsing checks the syntax, the roots and the functions, and the types
// that are known before a run (literals and what functions return): `"a" <
// 1` is refused when the file loads. What only a run knows (a path's type)
// is checked when it is evaluated, and a mismatch fails the step naming the
// expression. Error messages name paths, operators and types, never values.
#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <plexus/value.hpp>

namespace plexus::core {

/// An expression that cannot be parsed, or that fails against a scope. The
/// message says what was found and what would fix it.
class TemplateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A malformed template or expression, found when it is parsed. column() is
/// where in the text the problem starts.
class TemplateSyntaxError : public TemplateError {
 public:
  TemplateSyntaxError(const std::string& message, std::size_t column, std::string excerpt = "")
      : TemplateError(message), column_(column), excerpt_(std::move(excerpt)) {}
  /// Byte column inside the template text, counting from 1.
  std::size_t column() const { return column_; }
  /// The expression with a caret under the problem, two indented lines for
  /// a terminal ("    {{ a >= }}\n            ^"); empty when the text is
  /// too long or spans lines.
  const std::string& excerpt() const { return excerpt_; }

 private:
  std::size_t column_;
  std::string excerpt_;
};

/// One segment of a path: an object key or an array index.
struct PathSegment {
  std::string key;                   ///< The key, for a `.key` or `["key"]` segment.
  std::optional<std::size_t> index;  ///< The index, for an `[i]` segment.
};

/// "a.b[0]['odd key']": the first `count` segments, keys that are not
/// plain names written in brackets.
std::string formatPath(const std::vector<PathSegment>& segments, std::size_t count);

/// What a value is, for messages: its type, size and keys ("an object with
/// keys: a, b"), never the value itself (it may be a secret).
std::string describeShape(const plexus::Json& value);

/// Which value a path starts from.
enum class ReferenceRoot {
  TriggerResults,  ///< trigger.results
  StepResults,     ///< steps.NAME.results
  StepError,       ///< steps.NAME.error (a step that failed with onError: continue)
  ConfigVar,       ///< configVars.KEY
  Instance,
  Integration,
  Execution,
  Loop,            ///< loop.item, loop.index (inside a loop only)
};

/// One path inside an expression.
struct Reference {
  ReferenceRoot root = ReferenceRoot::TriggerResults;
  std::string name;                   ///< The step (StepResults/StepError) or config variable (ConfigVar); else "".
  std::vector<PathSegment> segments;  ///< The whole path, root segments included.
  std::size_t rootLength = 0;         ///< Leading segments that name the root (steps.NAME.results: 3).
  std::size_t column = 0;             ///< Where the path starts in the template text (from 1).

  /// The path as text, normalised ("steps.lookup.results.items[0]").
  std::string path() const { return formatPath(segments, segments.size()); }

  /// The value this path names inside `scope`. Throws TemplateError:
  /// "reference 'steps.lookup.results.renderId': 'steps.lookup.results'
  /// has no key 'renderId' (it is an object with keys: data, id)".
  const plexus::Json& lookup(const plexus::Json& scope) const;
  /// The value, or nullptr when the path does not resolve.
  const plexus::Json* find(const plexus::Json& scope) const noexcept;
};

/// The most nested an expression may be (parentheses, `not`, calls): a
/// bound on the parser's and the evaluator's recursion.
constexpr std::size_t kMaxExpressionDepth = 64;

/// True unless `value` is false, null, 0, "", [] or {} (a binary is true).
bool isTruthy(const plexus::Json& value);

/// A parsed expression. Immutable; evaluate() may be called from many
/// threads at once.
class Expression {
 public:
  /// Parses the expression that starts at `text[pos]`, just after a `{{`,
  /// through its closing `}}`; `pos` is left just after the `}}`. Columns
  /// in errors count from the start of `text`. Throws TemplateSyntaxError
  /// for a malformed expression and for types known to mismatch.
  static Expression parseInTemplate(const std::string& text, std::size_t& pos);

  /// The path, when the whole expression is one path (the common case,
  /// rendered without evaluating anything).
  const Reference* asPath() const;
  /// Every path in the expression, in source order.
  const std::vector<Reference>& references() const { return references_; }
  /// The expression as written, trimmed: for messages.
  const std::string& source() const { return source_; }

  /// The value against `scope` (see Template::render for its shape).
  /// Throws TemplateError naming the expression for a path that does not
  /// resolve (outside exists()) or a type that does not fit an operator.
  plexus::Json evaluate(const plexus::Json& scope) const;

 private:
  friend class ExpressionParser;
  friend class ExpressionEvaluator;
  enum class Op {
    Literal, Path, Not, And, Or, Equal, NotEqual, Less, LessEqual, Greater, GreaterEqual, In,
    Exists, Length, Lower, Upper, StartsWith, EndsWith,
  };
  struct Node {
    Op op = Op::Literal;
    plexus::Json literal;        ///< Literal
    std::size_t reference = 0;   ///< Path, Exists: index into references_
    std::size_t left = 0, right = 0;  ///< Operands (node indexes); unary ones use left.
    std::size_t column = 0;      ///< Where the operator or operand is (from 1).
  };
  std::vector<Node> nodes_;
  std::vector<Reference> references_;
  std::size_t root_ = 0;
  std::string source_;
};

}  // namespace plexus::core
