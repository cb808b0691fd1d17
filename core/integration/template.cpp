#include "integration/template.hpp"

#include <plexus/component.hpp>

#include "integration/suggest.hpp"

namespace plexus::core {

namespace {

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

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
    pos = open + 2;
    Expression expression = Expression::parseInTemplate(text, pos);
    if (!literal.empty()) parsed.parts_.push_back({std::move(literal), std::nullopt});
    literal.clear();
    parsed.parts_.push_back({"", parsed.expressions_.size()});
    parsed.references_.insert(parsed.references_.end(), expression.references().begin(),
                              expression.references().end());
    parsed.expressions_.push_back(std::move(expression));
  }
  if (!literal.empty()) parsed.parts_.push_back({std::move(literal), std::nullopt});

  if (parsed.expressions_.size() == 1) {
    parsed.single_ = true;
    for (const Part& part : parsed.parts_)
      if (!part.expression && !onlySpaces(part.text)) parsed.single_ = false;
  }
  return parsed;
}

plexus::Json Template::render(const plexus::Json& scope, std::size_t maxTextBytes) const {
  if (single_) return expressions_.front().evaluate(scope);
  std::string out;
  for (const Part& part : parts_) {
    if (!part.expression) {
      out += part.text;
      continue;
    }
    const Expression& expression = expressions_[*part.expression];
    if (const Reference* path = expression.asPath())
      appendRendered(out, expression, path->lookup(scope));
    else
      appendRendered(out, expression, expression.evaluate(scope));
    // Each reference may copy a whole payload: without a bound, a text
    // with many of them multiplies a body's size.
    if (out.size() > maxTextBytes)
      throw TemplateError("the text would be longer than " + std::to_string(maxTextBytes) +
                          " bytes once its references are put in (at " +
                          (expression.asPath() ? "reference '" + expression.asPath()->path() : "'" + expression.source()) +
                          "'); use the reference alone (\"{{ path }}\"), which passes the value without "
                          "copying it into text");
  }
  return out;
}

void Template::appendRendered(std::string& out, const Expression& expression,
                              const plexus::Json& value) const {
  if (value.is_string()) {
    out += value.get_ref<const std::string&>();
    return;
  }
  const Reference* reference = expression.asPath();
  std::vector<PathSegment> where = reference ? reference->segments : std::vector<PathSegment>{};
  if (findBinary(value, where)) {
    std::string path = reference ? reference->path() : expression.source();
    if (value.is_binary())
      throw TemplateError("reference '" + path + "' is " + describeShape(value) +
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
