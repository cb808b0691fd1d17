#include "integration/expression.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <deque>

#include <plexus/component.hpp>

#include "integration/suggest.hpp"

namespace plexus::core {

namespace {

const char* const kRootHelp =
    "paths start with trigger.results, steps.NAME.results, configVars.KEY, instance, integration, execution or "
    "loop (inside a loop)";

const std::vector<std::string>& rootNames() {
  static const std::vector<std::string> kRoots = {"trigger",     "steps",     "configVars", "instance",
                                                  "integration", "execution", "loop"};
  return kRoots;
}

const std::vector<std::string>& functionNames() {
  static const std::vector<std::string> kFunctions = {"exists", "length", "lower", "upper", "startsWith", "endsWith"};
  return kFunctions;
}

/// Characters of a dotted path segment: anything printable except the
/// path's own punctuation, quotes and the characters operators are made of
/// (`-` stays: header names such as x-github-delivery are paths).
bool isNameChar(char c) {
  auto byte = static_cast<unsigned char>(c);
  if (byte <= 0x20 || byte == 0x7f) return false;
  switch (c) {
    case '.': case '[': case ']': case '{': case '}': case '"': case '\'':
    case '(': case ')': case ',': case '=': case '!': case '<': case '>':
      return false;
    default: return true;
  }
}

bool isPlainName(const std::string& key) {
  if (key.empty()) return false;
  for (char c : key)
    if (!isNameChar(c)) return false;
  return true;
}

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }

bool allDigits(const std::string& text) {
  if (text.empty() || text.size() > 18) return false;  // 18 digits always fit a size_t.
  for (char c : text)
    if (!isDigit(c)) return false;
  return true;
}

std::string quoteKey(const std::string& key) {
  std::string out = "[\"";
  for (char c : key) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"]";
}

}  // namespace

std::string describeShape(const plexus::Json& value) {
  if (value.is_object()) {
    if (value.empty()) return "an empty object";
    std::vector<std::string> keys;
    for (const auto& item : value.items()) keys.push_back(item.key());
    return "an object with keys: " + joinShort(keys, 6);
  }
  if (value.is_array()) {
    if (value.empty()) return "an empty array";
    return "an array of " + std::to_string(value.size()) + (value.size() == 1 ? " item" : " items");
  }
  if (value.is_binary()) {
    const plexus::Binary& binary = plexus::asBinary(value);
    return "binary data (" + binary.contentType() + ", " + std::to_string(binary.size()) + " bytes)";
  }
  return plexus::describeType(value);
}

namespace {

/// The child of `value` that `segment` names, or nullptr.
const plexus::Json* child(const plexus::Json& value, const PathSegment& segment) {
  std::optional<std::size_t> index = segment.index;
  if (!index && value.is_array() && allDigits(segment.key)) index = std::stoull(segment.key);
  if (index) return value.is_array() && *index < value.size() ? &value[*index] : nullptr;
  if (!value.is_object()) return nullptr;
  auto it = value.find(segment.key);
  return it == value.end() ? nullptr : &*it;
}

/// Why segment `i` of `reference` is missing from `parent`.
std::string missingMessage(const Reference& reference, std::size_t i, const plexus::Json& parent) {
  std::string prefix = "reference '" + reference.path() + "': ";
  if (i > 0 && i < reference.rootLength) {
    switch (reference.root) {
      case ReferenceRoot::StepResults:
        return prefix + "step '" + reference.name + "' has no results (it has not run before this step)";
      case ReferenceRoot::StepError:
        return prefix + "step '" + reference.name + "' has no error (it has not failed)";
      case ReferenceRoot::ConfigVar:
        return prefix + "config variable '" + reference.name + "' is not set for this instance";
      case ReferenceRoot::TriggerResults: return prefix + "the trigger has no results";
      default: break;
    }
  }
  if (i == 0) {
    if (reference.root == ReferenceRoot::Loop) return prefix + "loop.item and loop.index exist only inside a loop";
    return prefix + "'" + reference.segments[0].key + "' is not available here";
  }
  const PathSegment& segment = reference.segments[i];
  std::string what = segment.index ? "index " + std::to_string(*segment.index) : "key '" + segment.key + "'";
  return prefix + "'" + formatPath(reference.segments, i) + "' has no " + what + " (it is " +
         describeShape(parent) + ")";
}

/// What static checks know of a value's type: a set of JSON kinds.
enum Kind : unsigned {
  kNull = 1, kBool = 2, kNumber = 4, kString = 8, kArray = 16, kObject = 32, kBinary = 64,
  kAny = 127,
};

unsigned kindOf(const plexus::Json& value) {
  if (value.is_null()) return kNull;
  if (value.is_boolean()) return kBool;
  if (value.is_number()) return kNumber;
  if (value.is_string()) return kString;
  if (value.is_array()) return kArray;
  if (value.is_binary()) return kBinary;
  return kObject;
}

/// "a string", "a boolean", ... for a kind known exactly; "" otherwise.
std::string kindName(unsigned kind) {
  switch (kind) {
    case kNull: return "null";
    case kBool: return "a boolean";
    case kNumber: return "a number";
    case kString: return "a string";
    case kArray: return "an array";
    case kObject: return "an object";
    case kBinary: return "binary data";
    default: return "";
  }
}

}  // namespace

std::string formatPath(const std::vector<PathSegment>& segments, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count && i < segments.size(); ++i) {
    const PathSegment& segment = segments[i];
    if (segment.index) {
      out += "[" + std::to_string(*segment.index) + "]";
    } else if (isPlainName(segment.key)) {
      if (i) out += '.';
      out += segment.key;
    } else {
      out += quoteKey(segment.key);
    }
  }
  return out;
}

const plexus::Json& Reference::lookup(const plexus::Json& scope) const {
  const plexus::Json* at = &scope;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const plexus::Json* next = child(*at, segments[i]);
    if (!next) throw TemplateError(missingMessage(*this, i, *at));
    at = next;
  }
  return *at;
}

const plexus::Json* Reference::find(const plexus::Json& scope) const noexcept {
  const plexus::Json* at = &scope;
  for (const PathSegment& segment : segments) {
    at = child(*at, segment);
    if (!at) return nullptr;
  }
  return at;
}

bool isTruthy(const plexus::Json& value) {
  switch (value.type()) {
    case plexus::Json::value_t::null: return false;
    case plexus::Json::value_t::boolean: return value.get<bool>();
    case plexus::Json::value_t::number_integer: return value.get<std::int64_t>() != 0;
    case plexus::Json::value_t::number_unsigned: return value.get<std::uint64_t>() != 0;
    case plexus::Json::value_t::number_float: return value.get<double>() != 0.0;
    case plexus::Json::value_t::string: return !value.get_ref<const std::string&>().empty();
    case plexus::Json::value_t::array:
    case plexus::Json::value_t::object: return !value.empty();
    default: return true;  // binary
  }
}

/// A Pratt parser over the text between `{{` and `}}`. Binding powers, from
/// loosest: or (1), and (2), not (3, prefix), comparisons (4, which do not
/// chain); operands are literals, paths, calls and parentheses.
class ExpressionParser {
 public:
  ExpressionParser(const std::string& text, std::size_t pos, Expression& out)
      : text_(text), open_(pos >= 2 ? pos - 2 : 0), pos_(pos), out_(out) {}

  /// Parses through the closing `}}`; returns the offset just after it.
  std::size_t parse() {
    skipSpaces();
    if (atClose()) fail("empty reference '{{ }}'; write a path such as {{ trigger.results.body }}", open_);
    if (pos_ >= text_.size()) failUnclosed();
    std::size_t begin = pos_;
    std::size_t depth = 0;
    out_.root_ = expression(0, depth).node;
    skipSpaces();
    std::size_t end = pos_;
    if (pos_ >= text_.size()) failUnclosed();
    if (!atClose()) {
      if (text_[pos_] == '=') fail("'=' assigns nothing here; compare with '=='", pos_);
      if (text_[pos_] == '!') fail("'!' is not an operator; write 'not' or '!='", pos_);
      fail("unexpected " + describeAt(pos_) +
               "; expected an operator (== != < <= > >= in and or) or '}}' to close the expression",
           pos_);
    }
    pos_ += 2;
    while (end > begin && isSpace(text_[end - 1])) --end;
    out_.source_ = text_.substr(begin, end - begin);
    return pos_;
  }

 private:
  using Op = Expression::Op;
  struct Parsed {
    std::size_t node;
    unsigned kind;   // what the value may be (Kind bits)
    std::size_t depth;  // of the subtree, for the evaluator's recursion
  };

  [[noreturn]] void fail(const std::string& message, std::size_t at) const {
    throw TemplateSyntaxError(message, at + 1, caretHint(at));
  }
  [[noreturn]] void failUnclosed() const { fail("'{{' is not closed; add '}}' after the expression", open_); }

  /// The expression's text with a caret under `at`, for a message read on a
  /// terminal: "    {{ a >= }}\n            ^". Only for one-line texts of
  /// reasonable length (a caret under a 10 KiB line helps nobody).
  std::string caretHint(std::size_t at) const {
    std::size_t end = text_.find("}}", open_ + 2);
    end = end == std::string::npos ? text_.size() : end + 2;
    if (end - open_ > 200 || at < open_ || at > end) return "";
    std::string excerpt = text_.substr(open_, end - open_);
    for (char c : excerpt)
      if (c == '\n' || c == '\r' || c == '\t') return "";
    return "    " + excerpt + "\n    " + std::string(at - open_, ' ') + "^";
  }

  std::string describeAt(std::size_t at) const {
    if (text_.compare(at, 2, "}}") == 0) return "'}}'";
    std::size_t end = at;
    while (end < text_.size() && end - at < 16 && isNameChar(text_[end])) ++end;
    if (end == at) end = at + 1;
    return "'" + text_.substr(at, end - at) + "'";
  }

  bool atClose() const { return text_.compare(pos_, 2, "}}") == 0; }
  void skipSpaces() {
    while (pos_ < text_.size() && isSpace(text_[pos_])) ++pos_;
  }

  std::size_t add(Expression::Node node) {
    out_.nodes_.push_back(std::move(node));
    return out_.nodes_.size() - 1;
  }

  Parsed checkedDepth(Parsed parsed, std::size_t at) const {
    if (parsed.depth > kMaxExpressionDepth)
      fail("the expression is nested deeper than " + std::to_string(kMaxExpressionDepth) +
               " levels (operators, parentheses and calls each count); split it over steps",
           at);
    return parsed;
  }

  /// The name-like word at pos_ (not consumed), or "".
  std::string peekWord() const {
    std::size_t end = pos_;
    while (end < text_.size() && isNameChar(text_[end])) ++end;
    return text_.substr(pos_, end - pos_);
  }

  struct Infix {
    Op op;
    int power;
    std::size_t length;
    const char* spelling;
  };
  std::optional<Infix> peekInfix() const {
    auto at = [&](const char* s) { return text_.compare(pos_, std::char_traits<char>::length(s), s) == 0; };
    if (at("==")) return Infix{Op::Equal, 4, 2, "=="};
    if (at("!=")) return Infix{Op::NotEqual, 4, 2, "!="};
    if (at("<=")) return Infix{Op::LessEqual, 4, 2, "<="};
    if (at(">=")) return Infix{Op::GreaterEqual, 4, 2, ">="};
    if (at("<")) return Infix{Op::Less, 4, 1, "<"};
    if (at(">")) return Infix{Op::Greater, 4, 1, ">"};
    std::string word = peekWord();
    if (word == "in") return Infix{Op::In, 4, 2, "in"};
    if (word == "and") return Infix{Op::And, 2, 3, "and"};
    if (word == "or") return Infix{Op::Or, 1, 2, "or"};
    return std::nullopt;
  }

  Parsed expression(int minPower, std::size_t& depth) {
    if (++depth > kMaxExpressionDepth)
      fail("the expression is nested deeper than " + std::to_string(kMaxExpressionDepth) +
               " levels (operators, parentheses and calls each count); split it over steps",
           pos_);
    Parsed left = prefix(depth);
    bool compared = false;
    for (;;) {
      skipSpaces();
      std::optional<Infix> infix = peekInfix();
      if (!infix || infix->power < minPower) break;
      std::size_t at = pos_;
      if (infix->power == 4 && compared)
        fail("comparisons do not chain; join them with 'and' (a < b and b < c)", at);
      pos_ += infix->length;
      skipSpaces();
      Parsed right = expression(infix->power + 1, depth);
      left = binary(*infix, left, right, at);
      compared = infix->power == 4;
    }
    --depth;
    return left;
  }

  Parsed binary(const Infix& infix, const Parsed& left, const Parsed& right, std::size_t at) {
    unsigned kind = kBool;
    switch (infix.op) {
      case Op::Less: case Op::LessEqual: case Op::Greater: case Op::GreaterEqual: {
        const unsigned orderable = kNumber | kString;
        bool leftKnown = (left.kind & orderable) == 0, rightKnown = (right.kind & orderable) == 0;
        if (leftKnown || rightKnown)
          fail(std::string("'") + infix.spelling + "' compares two numbers or two strings; its " +
                   (leftKnown ? "left" : "right") + " side is always " +
                   kindName(leftKnown ? left.kind : right.kind),
               at);
        if ((left.kind & right.kind & orderable) == 0)
          fail(std::string("'") + infix.spelling + "' compares two numbers or two strings, not " +
                   kindName(left.kind) + " and " + kindName(right.kind),
               at);
        break;
      }
      case Op::In:
        if ((right.kind & (kArray | kObject | kString)) == 0)
          fail("'in' looks inside an array, an object or a string; its right side is always " +
                   kindName(right.kind),
               at);
        break;
      default: break;
    }
    Expression::Node node;
    node.op = infix.op;
    node.left = left.node;
    node.right = right.node;
    node.column = at + 1;
    return checkedDepth({add(std::move(node)), kind, std::max(left.depth, right.depth) + 1}, at);
  }

  Parsed prefix(std::size_t& depth) {
    skipSpaces();
    std::size_t at = pos_;
    if (pos_ >= text_.size()) failUnclosed();
    char c = text_[pos_];
    if (atClose()) fail("expected a value (a path, a literal or a call) before '}}'", at);
    if (c == '(') {
      ++pos_;
      Parsed inner = expression(0, depth);
      skipSpaces();
      if (pos_ >= text_.size() || text_[pos_] != ')') fail("'(' is not closed; add ')'", at);
      ++pos_;
      return inner;
    }
    if (c == '"' || c == '\'') return literal(plexus::Json(quoted(c)), at);
    if (isDigit(c) || (c == '-' && pos_ + 1 < text_.size() && isDigit(text_[pos_ + 1]))) return number(at);
    std::string word = peekWord();
    if (word.empty())
      fail("unexpected " + describeAt(at) + "; expected a value (a path, a literal or a call)", at);
    if (word == "not") {
      pos_ += 3;
      Parsed operand = expression(3, depth);
      Expression::Node node;
      node.op = Op::Not;
      node.left = operand.node;
      node.column = at + 1;
      return checkedDepth({add(std::move(node)), kBool, operand.depth + 1}, at);
    }
    if (word == "and" || word == "or" || word == "in")
      fail("expected a value before '" + word + "'", at);
    if (word == "true" || word == "false" || word == "null") {
      pos_ += word.size();
      return literal(word == "null" ? plexus::Json(nullptr) : plexus::Json(word == "true"), at);
    }
    std::size_t after = pos_ + word.size();
    while (after < text_.size() && isSpace(text_[after])) ++after;
    if (after < text_.size() && text_[after] == '(') {
      pos_ = after + 1;
      return call(word, at, depth);
    }
    return path(at);
  }

  Parsed literal(plexus::Json value, std::size_t at) {
    Expression::Node node;
    node.op = Op::Literal;
    unsigned kind = kindOf(value);
    node.literal = std::move(value);
    node.column = at + 1;
    return {add(std::move(node)), kind, 1};
  }

  Parsed number(std::size_t at) {
    std::size_t start = pos_;
    if (text_[pos_] == '-') ++pos_;
    bool integral = true;
    while (pos_ < text_.size() && isDigit(text_[pos_])) ++pos_;
    if (pos_ + 1 < text_.size() && text_[pos_] == '.' && isDigit(text_[pos_ + 1])) {
      integral = false;
      ++pos_;
      while (pos_ < text_.size() && isDigit(text_[pos_])) ++pos_;
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      std::size_t exponent = pos_ + 1;
      if (exponent < text_.size() && (text_[exponent] == '+' || text_[exponent] == '-')) ++exponent;
      if (exponent < text_.size() && isDigit(text_[exponent])) {
        integral = false;
        pos_ = exponent;
        while (pos_ < text_.size() && isDigit(text_[pos_])) ++pos_;
      }
    }
    if (pos_ < text_.size() && isNameChar(text_[pos_]))
      fail("a number cannot be followed by " + describeAt(pos_) + "; put a space or an operator between them", pos_);
    std::string digits = text_.substr(start, pos_ - start);
    if (integral) {
      std::int64_t value = 0;
      auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
      if (error == std::errc() && end == digits.data() + digits.size()) return literal(plexus::Json(value), at);
    }
    double value = std::strtod(digits.c_str(), nullptr);
    if (!std::isfinite(value)) fail("the number " + digits + " is too large", at);
    return literal(plexus::Json(value), at);
  }

  /// A quoted string or key; `\` escapes the next character (\n and \t
  /// stand for a newline and a tab).
  std::string quoted(char quote) {
    std::size_t open = pos_++;
    std::string value;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) {
        ++pos_;
        char escaped = text_[pos_++];
        value += escaped == 'n' ? '\n' : escaped == 't' ? '\t' : escaped;
        continue;
      }
      value += text_[pos_++];
    }
    if (pos_ >= text_.size()) fail(std::string("the quoted text is not closed; add ") + quote, open);
    ++pos_;
    return value;
  }

  Parsed call(const std::string& name, std::size_t at, std::size_t& depth) {
    struct Signature {
      Op op;
      std::size_t arity;
      unsigned accepts;  // of each argument
      unsigned returns;
      const char* wants;
    };
    static const std::vector<std::pair<std::string, Signature>> kFunctions = {
        {"exists", {Op::Exists, 1, kAny, kBool, "a path"}},
        {"length", {Op::Length, 1, kString | kArray | kObject, kNumber, "a string, an array or an object"}},
        {"lower", {Op::Lower, 1, kString, kString, "a string"}},
        {"upper", {Op::Upper, 1, kString, kString, "a string"}},
        {"startsWith", {Op::StartsWith, 2, kString, kBool, "two strings"}},
        {"endsWith", {Op::EndsWith, 2, kString, kBool, "two strings"}},
    };
    const Signature* signature = nullptr;
    for (const auto& [known, candidate] : kFunctions)
      if (known == name) signature = &candidate;
    if (!signature)
      fail("unknown function '" + name + "'" + didYouMean(name, functionNames()) +
               "; the functions are exists, length, lower, upper, startsWith and endsWith",
           at);
    std::vector<Parsed> arguments;
    skipSpaces();
    if (pos_ < text_.size() && text_[pos_] == ')') {
      ++pos_;
    } else {
      for (;;) {
        arguments.push_back(expression(0, depth));
        skipSpaces();
        if (pos_ < text_.size() && text_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (pos_ < text_.size() && text_[pos_] == ')') {
          ++pos_;
          break;
        }
        fail(name + "(...) is not closed; add ')' (arguments are separated by ',')", at);
      }
    }
    std::string plural = signature->arity == 1 ? " argument" : " arguments";
    if (arguments.size() != signature->arity)
      fail(name + "() takes " + std::to_string(signature->arity) + plural + " (" + signature->wants + "), not " +
               std::to_string(arguments.size()),
           at);
    Expression::Node node;
    node.op = signature->op;
    node.column = at + 1;
    if (signature->op == Op::Exists) {
      const Expression::Node& argument = out_.nodes_[arguments[0].node];
      if (argument.op != Op::Path) fail("exists() takes a path, e.g. exists(trigger.results.body.id)", at);
      node.reference = argument.reference;
    }
    std::size_t deepest = 0;
    for (const Parsed& argument : arguments) {
      if ((argument.kind & signature->accepts) == 0)
        fail(name + "() takes " + signature->wants + ", not " + kindName(argument.kind), at);
      deepest = std::max(deepest, argument.depth);
    }
    node.left = arguments[0].node;
    if (arguments.size() > 1) node.right = arguments[1].node;
    return checkedDepth({add(std::move(node)), signature->returns, deepest + 1}, at);
  }

  // --- paths ---------------------------------------------------------------

  Parsed path(std::size_t at) {
    Reference reference;
    reference.column = at + 1;
    reference.segments.push_back({name("a root name"), std::nullopt});
    while (pos_ < text_.size()) {
      if (text_[pos_] == '.') {
        ++pos_;
        reference.segments.push_back({name("a name after '.'"), std::nullopt});
      } else if (text_[pos_] == '[') {
        reference.segments.push_back(bracket());
      } else {
        break;
      }
    }
    std::size_t look = pos_;
    while (look < text_.size() && isSpace(text_[look])) ++look;
    if (look >= text_.size()) failUnclosed();  // before judging the root: the text just ends here
    classifyRoot(reference, at);
    Expression::Node node;
    node.op = Op::Path;
    node.reference = out_.references_.size();
    node.column = at + 1;
    out_.references_.push_back(std::move(reference));
    return {add(std::move(node)), kAny, 1};
  }

  std::string name(const char* expected) {
    std::size_t start = pos_;
    while (pos_ < text_.size() && isNameChar(text_[pos_])) ++pos_;
    if (pos_ == start) {
      if (pos_ >= text_.size()) failUnclosed();
      fail(std::string("expected ") + expected + " in the path, found " + describeAt(pos_), pos_);
    }
    return text_.substr(start, pos_ - start);
  }

  /// `[123]`, `["key"]` or `['key']`.
  PathSegment bracket() {
    std::size_t open = pos_++;
    PathSegment segment;
    if (pos_ < text_.size() && (text_[pos_] == '"' || text_[pos_] == '\'')) {
      segment.key = quoted(text_[pos_]);
    } else {
      std::size_t start = pos_;
      while (pos_ < text_.size() && isDigit(text_[pos_])) ++pos_;
      std::string digits = text_.substr(start, pos_ - start);
      if (!allDigits(digits))
        fail("expected an array index or a quoted key after '[', e.g. [0] or [\"a key\"]", open);
      segment.index = std::stoull(digits);
    }
    if (pos_ >= text_.size() || text_[pos_] != ']') fail("'[' is not closed; add ']'", open);
    ++pos_;
    return segment;
  }

  static const std::string* keyAt(const Reference& reference, std::size_t i) {
    if (i >= reference.segments.size() || reference.segments[i].index) return nullptr;
    return &reference.segments[i].key;
  }

  /// `prefix` followed by the reference's segments from `from` on: the path
  /// the author probably meant.
  static std::string suggestion(std::vector<PathSegment> prefix, const Reference& reference, std::size_t from) {
    for (std::size_t i = from; i < reference.segments.size(); ++i) prefix.push_back(reference.segments[i]);
    return formatPath(prefix, prefix.size());
  }

  void classifyRoot(Reference& reference, std::size_t start) const {
    const std::string& first = reference.segments[0].key;
    std::string path = reference.path();
    if (first == "trigger") {
      const std::string* second = keyAt(reference, 1);
      if (!second || *second != "results")
        fail("reference '" + path + "': the trigger's data is under trigger.results (did you mean '" +
                 suggestion({{"trigger", {}}, {"results", {}}}, reference, 1) + "'?)",
             start);
      reference.root = ReferenceRoot::TriggerResults;
      reference.rootLength = 2;
    } else if (first == "steps") {
      const std::string* step = keyAt(reference, 1);
      if (!step) fail("reference '" + path + "' must name a step: steps.NAME.results", start);
      const std::string* third = keyAt(reference, 2);
      if (third && *third == "error") {
        reference.root = ReferenceRoot::StepError;
      } else if (!third || *third != "results") {
        fail("reference '" + path + "': a step's data is under steps." + *step + ".results (did you mean '" +
                 suggestion({{"steps", {}}, {*step, {}}, {"results", {}}}, reference, 2) + "'?)",
             start);
      } else {
        reference.root = ReferenceRoot::StepResults;
      }
      reference.name = *step;
      reference.rootLength = 3;
    } else if (first == "configVars") {
      const std::string* key = keyAt(reference, 1);
      if (!key) fail("reference '" + path + "' must name a config variable: configVars.KEY", start);
      reference.root = ReferenceRoot::ConfigVar;
      reference.name = *key;
      reference.rootLength = 2;
    } else if (first == "loop") {
      const std::string* second = keyAt(reference, 1);
      if (!second || (*second != "item" && *second != "index"))
        fail("reference '" + path + "': a loop offers loop.item and loop.index", start);
      reference.root = ReferenceRoot::Loop;
      reference.rootLength = 2;
    } else if (first == "instance" || first == "integration" || first == "execution") {
      reference.root = first == "instance"      ? ReferenceRoot::Instance
                       : first == "integration" ? ReferenceRoot::Integration
                                                : ReferenceRoot::Execution;
      reference.rootLength = 1;
    } else {
      std::vector<std::string> candidates = rootNames();
      candidates.push_back("not");
      fail("unknown reference root '" + first + "'" + didYouMean(first, candidates) + "; " + kRootHelp, start);
    }
  }

  const std::string& text_;
  std::size_t open_;
  std::size_t pos_;
  Expression& out_;
};

Expression Expression::parseInTemplate(const std::string& text, std::size_t& pos) {
  Expression parsed;
  ExpressionParser parser(text, pos, parsed);
  pos = parser.parse();
  return parsed;
}

const Reference* Expression::asPath() const {
  const Node& root = nodes_[root_];
  return root.op == Op::Path ? &references_[root.reference] : nullptr;
}

/// Evaluates the nodes of one expression; paths are read in place.
class ExpressionEvaluator {
 public:
  ExpressionEvaluator(const Expression& expression, const plexus::Json& scope)
      : expression_(expression), scope_(scope) {}

  /// A value read in place (a path, a literal) or computed.
  struct Value {
    const plexus::Json* in = nullptr;
    plexus::Json own;
    const plexus::Json& get() const { return in ? *in : own; }
  };

  Value evaluate(std::size_t index) {
    using Op = Expression::Op;
    const Expression::Node& node = expression_.nodes_[index];
    switch (node.op) {
      case Op::Literal: return {&node.literal, {}};
      case Op::Path: return {&path(node.reference), {}};
      case Op::Not: return computed(!isTruthy(evaluate(node.left).get()));
      case Op::And: return computed(isTruthy(evaluate(node.left).get()) && isTruthy(evaluate(node.right).get()));
      case Op::Or: return computed(isTruthy(evaluate(node.left).get()) || isTruthy(evaluate(node.right).get()));
      case Op::Equal: return computed(evaluate(node.left).get() == evaluate(node.right).get());
      case Op::NotEqual: return computed(evaluate(node.left).get() != evaluate(node.right).get());
      case Op::Less: case Op::LessEqual: case Op::Greater: case Op::GreaterEqual: return compare(node);
      case Op::In: return contains(node);
      case Op::Exists: return computed(expression_.references_[node.reference].find(scope_) != nullptr);
      case Op::Length: return length(node);
      case Op::Lower: case Op::Upper: return changeCase(node);
      case Op::StartsWith: case Op::EndsWith: return affix(node);
    }
    return computed(nullptr);
  }

 private:
  using Node = Expression::Node;

  static Value computed(plexus::Json value) { return {nullptr, std::move(value)}; }

  [[noreturn]] void fail(const std::string& message) const {
    throw TemplateError("expression '" + expression_.source_ + "': " + message);
  }

  const plexus::Json& path(std::size_t reference) const {
    try {
      return expression_.references_[reference].lookup(scope_);
    } catch (const TemplateError& error) {
      fail(error.what());
    }
  }

  static const char* spelling(Expression::Op op) {
    switch (op) {
      case Expression::Op::Less: return "<";
      case Expression::Op::LessEqual: return "<=";
      case Expression::Op::Greater: return ">";
      case Expression::Op::GreaterEqual: return ">=";
      default: return "?";
    }
  }

  Value compare(const Node& node) {
    Value left = evaluate(node.left), right = evaluate(node.right);
    const plexus::Json& a = left.get();
    const plexus::Json& b = right.get();
    bool numbers = a.is_number() && b.is_number(), strings = a.is_string() && b.is_string();
    if (!numbers && !strings)
      fail(std::string("'") + spelling(node.op) + "' compares two numbers or two strings, not " +
           plexus::describeType(a) + " and " + plexus::describeType(b));
    int order = 0;
    if (strings) {
      order = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
    } else {
      // long double holds every 64-bit integer exactly, signed or not.
      long double x = a.get<long double>(), y = b.get<long double>();
      order = x < y ? -1 : x > y ? 1 : 0;
    }
    switch (node.op) {
      case Expression::Op::Less: return computed(order < 0);
      case Expression::Op::LessEqual: return computed(order <= 0);
      case Expression::Op::Greater: return computed(order > 0);
      default: return computed(order >= 0);
    }
  }

  Value contains(const Node& node) {
    Value left = evaluate(node.left), right = evaluate(node.right);
    const plexus::Json& needle = left.get();
    const plexus::Json& haystack = right.get();
    if (haystack.is_array()) {
      for (const auto& item : haystack)
        if (item == needle) return computed(true);
      return computed(false);
    }
    if (haystack.is_object()) {
      if (!needle.is_string()) fail("'in' finds a key of an object, and keys are strings, not " + plexus::describeType(needle));
      return computed(haystack.contains(needle.get_ref<const std::string&>()));
    }
    if (haystack.is_string()) {
      if (!needle.is_string()) fail("'in' finds a string inside a string, not " + plexus::describeType(needle));
      return computed(haystack.get_ref<const std::string&>().find(needle.get_ref<const std::string&>()) !=
                      std::string::npos);
    }
    fail("'in' looks inside an array, an object or a string, not " + plexus::describeType(haystack));
  }

  const std::string& stringArgument(std::size_t index, const char* function) {
    held_.push_back(evaluate(index));
    const plexus::Json& value = held_.back().get();
    if (!value.is_string()) fail(std::string(function) + "() takes a string, not " + plexus::describeType(value));
    return value.get_ref<const std::string&>();
  }

  Value length(const Node& node) {
    Value argument = evaluate(node.left);
    const plexus::Json& value = argument.get();
    if (value.is_string()) {
      std::int64_t characters = 0;  // UTF-8 code points: every byte that does not continue one
      for (unsigned char c : value.get_ref<const std::string&>()) characters += (c & 0xC0) != 0x80;
      return computed(characters);
    }
    if (value.is_array() || value.is_object()) return computed(static_cast<std::int64_t>(value.size()));
    fail("length() takes a string, an array or an object, not " + plexus::describeType(value));
  }

  Value changeCase(const Node& node) {
    bool lower = node.op == Expression::Op::Lower;
    std::string text = stringArgument(node.left, lower ? "lower" : "upper");
    for (char& c : text) {  // ASCII letters only: the rest of Unicode is left as it is
      if (lower && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (!lower && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    return computed(std::move(text));
  }

  Value affix(const Node& node) {
    bool starts = node.op == Expression::Op::StartsWith;
    const char* function = starts ? "startsWith" : "endsWith";
    const std::string& text = stringArgument(node.left, function);
    const std::string& part = stringArgument(node.right, function);
    if (part.size() > text.size()) return computed(false);
    return computed(starts ? text.compare(0, part.size(), part) == 0
                           : text.compare(text.size() - part.size(), part.size(), part) == 0);
  }

  const Expression& expression_;
  const plexus::Json& scope_;
  std::deque<Value> held_;  // string arguments read by reference (a deque: references stay valid)
};

plexus::Json Expression::evaluate(const plexus::Json& scope) const {
  if (const Reference* path = asPath()) return path->lookup(scope);
  ExpressionEvaluator evaluator(*this, scope);
  ExpressionEvaluator::Value value = evaluator.evaluate(root_);
  return value.in ? *value.in : std::move(value.own);
}

}  // namespace plexus::core
