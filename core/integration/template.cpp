#include "integration/template.hpp"

#include <plexus/component.hpp>

#include "integration/suggest.hpp"

namespace plexus::core {

namespace {

const char* const kRootHelp =
    "references start with trigger.results, steps.NAME.results, configVars.KEY, instance, "
    "integration or execution";

/// Characters allowed in a dotted path segment: anything printable except
/// the path's own punctuation and quotes.
bool isNameChar(char c) {
  auto byte = static_cast<unsigned char>(c);
  if (byte <= 0x20 || byte == 0x7f) return false;
  switch (c) {
    case '.': case '[': case ']': case '{': case '}': case '"': case '\'': return false;
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

bool allDigits(const std::string& text) {
  if (text.empty() || text.size() > 18) return false;  // 18 digits always fit a size_t.
  for (char c : text)
    if (c < '0' || c > '9') return false;
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

/// Parses the reference of one `{{ ... }}`, starting at the `{{`.
/// Positions are byte offsets into the whole template text.
class ReferenceParser {
 public:
  ReferenceParser(const std::string& text, std::size_t open)
      : text_(text), open_(open), pos_(open + 2) {}

  /// Parses up to and including the closing `}}`.
  Reference parse() {
    skipSpaces();
    if (atClose()) fail("empty reference '{{ }}'; write a path such as {{ trigger.results.body }}", open_);
    if (pos_ >= text_.size()) failUnclosed();
    Reference reference;
    reference.column = pos_ + 1;
    std::size_t start = pos_;
    reference.segments.push_back({name("a root name"), std::nullopt});
    parseRest(reference);
    skipSpaces();
    if (pos_ >= text_.size()) failUnclosed();
    if (!atClose())
      fail(std::string("unexpected '") + text_[pos_] +
               "' in reference; a path is names joined by '.', with [i] for array indexes and "
               "[\"key\"] for other keys, closed by '}}'",
           pos_);
    pos_ += 2;
    classifyRoot(reference, start);
    return reference;
  }

  /// The offset just after the closing `}}`.
  std::size_t end() const { return pos_; }

 private:
  [[noreturn]] void fail(const std::string& message, std::size_t at) const {
    throw TemplateSyntaxError(message, at + 1);
  }
  [[noreturn]] void failUnclosed() const { fail("'{{' is not closed; add '}}' after the path", open_); }

  bool atClose() const { return text_.compare(pos_, 2, "}}") == 0; }
  void skipSpaces() {
    while (pos_ < text_.size() && isSpace(text_[pos_])) ++pos_;
  }

  void parseRest(Reference& reference) {
    while (pos_ < text_.size()) {
      if (text_[pos_] == '.') {
        ++pos_;
        reference.segments.push_back({name("a name after '.'"), std::nullopt});
      } else if (text_[pos_] == '[') {
        reference.segments.push_back(bracket());
      } else {
        return;
      }
    }
  }

  std::string name(const char* expected) {
    std::size_t start = pos_;
    while (pos_ < text_.size() && isNameChar(text_[pos_])) ++pos_;
    if (pos_ == start) {
      if (pos_ >= text_.size()) failUnclosed();
      fail(std::string("expected ") + expected + " in reference, found '" + text_[pos_] + "'", pos_);
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
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
      std::string digits = text_.substr(start, pos_ - start);
      if (!allDigits(digits))
        fail("expected an array index or a quoted key after '[', e.g. [0] or [\"a key\"]", open);
      segment.index = std::stoull(digits);
    }
    if (pos_ >= text_.size() || text_[pos_] != ']') fail("'[' is not closed; add ']'", open);
    ++pos_;
    return segment;
  }

  /// A quoted key; `\` escapes the next character.
  std::string quoted(char quote) {
    std::size_t open = pos_++;
    std::string key;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) ++pos_;
      key += text_[pos_++];
    }
    if (pos_ >= text_.size())
      fail(std::string("quoted key is not closed; add ") + quote, open);
    ++pos_;
    return key;
  }

  const std::string* keyAt(const Reference& reference, std::size_t i) const {
    if (i >= reference.segments.size() || reference.segments[i].index) return nullptr;
    return &reference.segments[i].key;
  }

  /// `prefix` followed by the reference's segments from `from` on: the path
  /// the author probably meant.
  std::string suggestion(std::vector<PathSegment> prefix, const Reference& reference,
                         std::size_t from) const {
    for (std::size_t i = from; i < reference.segments.size(); ++i)
      prefix.push_back(reference.segments[i]);
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
      if (!third || *third != "results")
        fail("reference '" + path + "': a step's data is under steps." + *step +
                 ".results (did you mean '" +
                 suggestion({{"steps", {}}, {*step, {}}, {"results", {}}}, reference, 2) + "'?)",
             start);
      reference.root = ReferenceRoot::StepResults;
      reference.name = *step;
      reference.rootLength = 3;
    } else if (first == "configVars") {
      const std::string* key = keyAt(reference, 1);
      if (!key) fail("reference '" + path + "' must name a config variable: configVars.KEY", start);
      reference.root = ReferenceRoot::ConfigVar;
      reference.name = *key;
      reference.rootLength = 2;
    } else if (first == "instance" || first == "integration" || first == "execution") {
      reference.root = first == "instance"      ? ReferenceRoot::Instance
                       : first == "integration" ? ReferenceRoot::Integration
                                                : ReferenceRoot::Execution;
      reference.rootLength = 1;
    } else {
      static const std::vector<std::string> kRoots = {"trigger",  "steps",       "configVars",
                                                      "instance", "integration", "execution"};
      fail("unknown reference root '" + first + "'" + didYouMean(first, kRoots) + "; " + kRootHelp,
           start);
    }
  }

  const std::string& text_;
  std::size_t open_;
  std::size_t pos_;
};

/// What a value is, for "has no key" messages: types, sizes and keys,
/// never the value itself (it may be a secret).
std::string describeForPath(const plexus::Json& value) {
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
      case ReferenceRoot::ConfigVar:
        return prefix + "config variable '" + reference.name + "' is not set for this instance";
      case ReferenceRoot::TriggerResults: return prefix + "the trigger has no results";
      default: break;
    }
  }
  if (i == 0) return prefix + "'" + reference.segments[0].key + "' is not available here";
  const PathSegment& segment = reference.segments[i];
  std::string what = segment.index ? "index " + std::to_string(*segment.index) : "key '" + segment.key + "'";
  return prefix + "'" + formatPath(reference.segments, i) + "' has no " + what + " (it is " +
         describeForPath(parent) + ")";
}

/// The path of the first binary leaf inside `value`, if any.
bool findBinary(const plexus::Json& value, std::vector<PathSegment>& path) {
  if (value.is_binary()) return true;
  if (value.is_object()) {
    for (const auto& item : value.items()) {
      path.push_back({item.key(), std::nullopt});
      if (findBinary(item.value(), path)) return true;
      path.pop_back();
    }
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      path.push_back({"", i});
      if (findBinary(value[i], path)) return true;
      path.pop_back();
    }
  }
  return false;
}

bool onlySpaces(const std::string& text) {
  for (char c : text)
    if (!isSpace(c)) return false;
  return true;
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

Template Template::parse(const std::string& text) {
  Template parsed;
  std::string literal;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t open = text.find("{{", pos);
    if (open == std::string::npos) {
      literal.append(text, pos, std::string::npos);
      break;
    }
    if (open > pos && text[open - 1] == '\\') {  // `\{{` is a literal `{{`.
      literal.append(text, pos, open - 1 - pos);
      literal += "{{";
      pos = open + 2;
      continue;
    }
    literal.append(text, pos, open - pos);
    ReferenceParser parser(text, open);
    Reference reference = parser.parse();
    if (!literal.empty()) parsed.parts_.push_back({std::move(literal), std::nullopt});
    literal.clear();
    parsed.parts_.push_back({"", parsed.references_.size()});
    parsed.references_.push_back(std::move(reference));
    pos = parser.end();
  }
  if (!literal.empty()) parsed.parts_.push_back({std::move(literal), std::nullopt});

  if (parsed.references_.size() == 1) {
    parsed.single_ = true;
    for (const Part& part : parsed.parts_)
      if (!part.reference && !onlySpaces(part.text)) parsed.single_ = false;
  }
  return parsed;
}

plexus::Json Template::render(const plexus::Json& scope, std::size_t maxTextBytes) const {
  if (single_) return references_.front().lookup(scope);
  std::string out;
  for (const Part& part : parts_) {
    if (!part.reference) {
      out += part.text;
      continue;
    }
    const Reference& reference = references_[*part.reference];
    appendRendered(out, reference, reference.lookup(scope));
    // Each reference may copy a whole payload: without a bound, a text
    // with many of them multiplies a body's size.
    if (out.size() > maxTextBytes)
      throw TemplateError("the text would be longer than " + std::to_string(maxTextBytes) +
                          " bytes once its references are put in (at reference '" + reference.path() +
                          "'); use the reference alone (\"{{ path }}\"), which passes the value without "
                          "copying it into text");
  }
  return out;
}

void Template::appendRendered(std::string& out, const Reference& reference,
                              const plexus::Json& value) const {
  if (value.is_string()) {
    out += value.get_ref<const std::string&>();
    return;
  }
  std::vector<PathSegment> where = reference.segments;
  if (findBinary(value, where)) {
    std::string path = reference.path();
    if (value.is_binary())
      throw TemplateError("reference '" + path + "' is " + describeForPath(value) +
                          ", which cannot be put inside text; use \"{{ " + path +
                          " }}\" alone as the input's value, or convert it first (binary.toBase64)");
    throw TemplateError("reference '" + path + "' holds binary data at '" +
                        formatPath(where, where.size()) +
                        "', which cannot be put inside text; reference a part without binary "
                        "data, or convert it first (binary.toBase64)");
  }
  // Invalid UTF-8 in a string would make dump() throw; replace it instead.
  out += value.dump(-1, ' ', false, plexus::Json::error_handler_t::replace);
}

CompiledInputs CompiledInputs::compile(const plexus::Json& inputs) {
  CompiledInputs compiled;
  std::vector<PathSegment> path;
  compiled.root_ = compiled.compileNode(inputs, path);
  return compiled;
}

CompiledInputs::Node CompiledInputs::compileNode(const plexus::Json& value,
                                                 std::vector<PathSegment>& path) {
  Node node;
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    if (text.find("{{") == std::string::npos) {
      node.literal = value;
      return node;
    }
    Template parsed;
    try {
      parsed = Template::parse(text);
    } catch (const TemplateSyntaxError& error) {
      throw TemplateSyntaxError("input '" + formatPath(path, path.size()) + "': " + error.what(),
                                error.column());
    }
    if (parsed.isLiteral()) {  // Only `\{{` escapes: render once, now.
      node.literal = parsed.render(plexus::Json::object());
      return node;
    }
    node.kind = Node::Kind::Text;
    node.templateIndex = templates_.size();
    templates_.push_back(std::move(parsed));
    templatePaths_.push_back(formatPath(path, path.size()));
    return node;
  }
  if (!value.is_object() && !value.is_array()) {
    node.literal = value;
    return node;
  }
  bool anyTemplate = false;
  if (value.is_object()) {
    node.kind = Node::Kind::Object;
    for (const auto& item : value.items()) {
      path.push_back({item.key(), std::nullopt});
      node.keys.push_back(item.key());
      node.children.push_back(compileNode(item.value(), path));
      anyTemplate = anyTemplate || node.children.back().kind != Node::Kind::Literal;
      path.pop_back();
    }
  } else {
    node.kind = Node::Kind::Array;
    for (std::size_t i = 0; i < value.size(); ++i) {
      path.push_back({"", i});
      node.children.push_back(compileNode(value[i], path));
      anyTemplate = anyTemplate || node.children.back().kind != Node::Kind::Literal;
      path.pop_back();
    }
  }
  if (anyTemplate) return node;
  // Nothing to render below here: keep the value whole and copy it per run.
  // Escaped strings were unescaped above, so rebuild from the children.
  Node literal;
  literal.literal = value.is_object() ? plexus::Json::object() : plexus::Json::array();
  for (std::size_t i = 0; i < node.children.size(); ++i) {
    if (value.is_object()) literal.literal[node.keys[i]] = std::move(node.children[i].literal);
    else literal.literal.push_back(std::move(node.children[i].literal));
  }
  return literal;
}

plexus::Json CompiledInputs::render(const plexus::Json& scope) const { return renderNode(root_, scope); }

plexus::Json CompiledInputs::renderNode(const Node& node, const plexus::Json& scope) const {
  switch (node.kind) {
    case Node::Kind::Literal: return node.literal;
    case Node::Kind::Text:
      try {
        return templates_[node.templateIndex].render(scope);
      } catch (const TemplateError& error) {
        throw TemplateError("input '" + templatePaths_[node.templateIndex] + "': " + error.what());
      }
    case Node::Kind::Object: {
      plexus::Json out = plexus::Json::object();
      for (std::size_t i = 0; i < node.children.size(); ++i)
        out[node.keys[i]] = renderNode(node.children[i], scope);
      return out;
    }
    case Node::Kind::Array: {
      plexus::Json out = plexus::Json::array();
      for (const Node& item : node.children) out.push_back(renderNode(item, scope));
      return out;
    }
  }
  return nullptr;
}

std::vector<CompiledInputs::Site> CompiledInputs::sites() const {
  std::vector<Site> out;
  for (std::size_t i = 0; i < templates_.size(); ++i) out.push_back({templatePaths_[i], &templates_[i]});
  return out;
}

plexus::Json resolveInputs(const plexus::Json& inputs, const plexus::Json& scope) {
  return CompiledInputs::compile(inputs).render(scope);
}

}  // namespace plexus::core
