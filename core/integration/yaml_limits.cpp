#include "integration/yaml_limits.hpp"

#include <algorithm>
#include <cstdint>
#include <sstream>
#include <vector>

#include <yaml-cpp/anchor.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

namespace plexus::core {

namespace {

/// What one node stands for once its aliases are copied out.
struct Extent {
  std::uint64_t values = 0;  ///< This node and everything under it.
  std::size_t levels = 0;    ///< Collections on the longest path down (a scalar: 0).
};

/// Follows the parse events of one document, keeping per anchor the extent
/// of the node it names, so an alias costs one lookup, never a walk.
class ExpansionMeter : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {
    open_.clear();
    anchors_.clear();
    names_.clear();
    aliasValues_ = 0;
  }
  void OnDocumentEnd() override {}

  void OnAnchor(const YAML::Mark&, const std::string& name) override { pendingName_ = name; }

  void OnNull(const YAML::Mark&, YAML::anchor_t anchor) override { leaf(anchor); }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t anchor, const std::string&) override {
    leaf(anchor);
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override;

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(mark, anchor);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(mark, anchor);
  }
  void OnMapEnd() override { close(); }

 private:
  struct Open {
    YAML::anchor_t anchor;
    Extent extent;  ///< So far: the collection itself and the children seen.
  };

  void leaf(YAML::anchor_t anchor) {
    nameAnchor(anchor);
    finish(anchor, Extent{1, 0});
  }

  void open(const YAML::Mark& mark, YAML::anchor_t anchor) {
    nameAnchor(anchor);
    if (open_.size() + 1 > kMaxYamlDepth)
      throw YamlLimitError("lists and maps nest more than " + std::to_string(kMaxYamlDepth) +
                               " levels deep here; Plexus reads at most " + std::to_string(kMaxYamlDepth) +
                               " levels (real integrations need a handful)",
                           mark);
    open_.push_back(Open{anchor, Extent{1, 1}});
  }

  void close() {
    Open done = open_.back();
    open_.pop_back();
    finish(done.anchor, done.extent);
  }

  /// Records `extent` for `anchor` and adds it to the enclosing collection.
  void finish(YAML::anchor_t anchor, const Extent& extent) {
    if (anchor != YAML::NullAnchor) {
      if (anchors_.size() <= anchor) anchors_.resize(anchor + 1);
      anchors_[anchor] = extent;
    }
    if (open_.empty()) return;
    Extent& parent = open_.back().extent;
    parent.values += extent.values;
    parent.levels = std::max(parent.levels, extent.levels + 1);
  }

  /// yaml-cpp reports an anchor's name just before the node it names.
  void nameAnchor(YAML::anchor_t anchor) {
    if (anchor == YAML::NullAnchor) return;
    if (names_.size() <= anchor) names_.resize(anchor + 1);
    names_[anchor] = pendingName_;
    pendingName_.clear();
  }

  std::string nameOf(YAML::anchor_t anchor) const {
    return anchor < names_.size() && !names_[anchor].empty() ? names_[anchor] : "?";
  }

  std::vector<Open> open_;
  std::vector<Extent> anchors_;     ///< By anchor id (yaml-cpp numbers them from 1 per document).
  std::vector<std::string> names_;  ///< By anchor id.
  std::string pendingName_;
  std::uint64_t aliasValues_ = 0;   ///< Values the document's aliases add, so far.
};

void ExpansionMeter::OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) {
  std::string name = nameOf(anchor);
  for (const Open& enclosing : open_)
    if (enclosing.anchor == anchor)
      throw YamlLimitError("alias *" + name + " is inside the node its anchor &" + name +
                               " names, so it would repeat forever; an alias can only stand for a "
                               "node that ends before it",
                           mark);
  // yaml-cpp refuses an alias to an anchor it has not seen before calling us.
  Extent extent = anchor < anchors_.size() ? anchors_[anchor] : Extent{1, 0};
  aliasValues_ += extent.values;
  if (aliasValues_ > kMaxAliasValues)
    throw YamlLimitError("the file expands to more than " + std::to_string(kMaxAliasValues) +
                             " values through aliases (here: *" + name + " stands for " +
                             std::to_string(extent.values) + (extent.values == 1 ? " value" : " values") +
                             "); each alias is a full copy of its anchor, so aliases of aliases "
                             "multiply: write the values out, or use fewer levels of aliases",
                         mark);
  if (open_.size() + extent.levels > kMaxYamlDepth)
    throw YamlLimitError("lists and maps nest more than " + std::to_string(kMaxYamlDepth) +
                             " levels deep through alias *" + name + "; Plexus reads at most " +
                             std::to_string(kMaxYamlDepth) + " levels",
                         mark);
  finish(YAML::NullAnchor, extent);
}

}  // namespace

void checkYamlLimits(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  ExpansionMeter meter;
  // Debian's yaml-cpp 0.7.0 reports endless empty documents for some inputs
  // (a lone ",": jbeder/yaml-cpp#1040), which would make LoadAll loop and
  // grow forever. A file holds one integration; the loader reports a second
  // document itself, so a third is where reading stops.
  int documents = 0;
  while (parser.HandleNextDocument(meter)) {
    if (++documents > 2)
      throw YamlLimitError("the file holds more than two YAML documents; an integration file holds one",
                           YAML::Mark{});
  }
}

}  // namespace plexus::core
