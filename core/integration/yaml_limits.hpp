// Bounds on what one integration file may cost to load, checked before any
// YAML node is built or walked.
//
// yaml-cpp keeps an alias (`*name`) as a second reference to its anchor's
// node, so a 661-byte file of nested anchors ("billion laughs") parses into
// a few dozen nodes; it is every walk over the tree afterwards (conversion
// to JSON, template checks) that copies each alias again, 10^9 times. The
// check here reads the file's parse events once, computes what every anchor
// stands for (values and nesting) from the anchors it refers to, and stops
// at the first alias or level past a bound, so its cost is linear in the
// file's size whatever the file says. After it passes, each later walk over
// the document visits at most (values written + kMaxAliasValues) nodes and
// recurses at most kMaxDepth levels.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

#include <yaml-cpp/yaml.h>

namespace plexus::core {

/// Integration files are a few KB; one that declares 10,000 instances with
/// a config variable each is about 500 KB. 1 MiB fits that with room and
/// bounds what loading costs, which yaml-cpp makes about 600 bytes and a
/// few microseconds per value: the worst 1 MiB file (524,000 values in one
/// list) peaks at 330 MB and takes 14 s on a busy 2-core machine.
constexpr std::size_t kMaxIntegrationFileBytes = 1024 * 1024;

/// Values that aliases may add to a file, beyond the ones written in it.
/// Sharing a few step inputs or defaults costs hundreds; a bomb, billions.
constexpr std::size_t kMaxAliasValues = 100000;

/// Levels of nested lists and maps, aliases expanded. Real files use under
/// ten; the bound keeps every recursive walk over a document far from the
/// stack's end (yaml-cpp's own parser stops at 2000).
constexpr std::size_t kMaxYamlDepth = 256;

/// A file over one of the bounds above. `mark` is yaml-cpp's (0-based)
/// position of the alias or collection where the bound was crossed.
class YamlLimitError : public std::runtime_error {
 public:
  YamlLimitError(const std::string& message, const YAML::Mark& mark)
      : std::runtime_error(message), mark(mark) {}
  YAML::Mark mark;
};

/// Reads every document of `text` as parse events and throws YamlLimitError
/// at the first alias that takes the file past kMaxAliasValues values added
/// through aliases, the first collection (or alias) nested deeper than
/// kMaxYamlDepth, or an alias inside the node its own anchor names. Throws
/// YAML::Exception for a syntax error, as YAML::LoadAll would.
void checkYamlLimits(const std::string& text);

}  // namespace plexus::core
