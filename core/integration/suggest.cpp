#include "integration/suggest.hpp"

#include <algorithm>
#include <cctype>

namespace plexus::core {

std::size_t editDistance(const std::string& a, const std::string& b) {
  auto lower = [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); };
  // One row of the dynamic-programming table at a time.
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      std::size_t substitution = diagonal + (lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitution});
      diagonal = above;
    }
  }
  return row[b.size()];
}

namespace {
/// A suggestion is for a typo in a name; these bound what looking for one
/// costs however long the names or lists of a (1 MiB) file are.
constexpr std::size_t kMaxSuggestedWord = 64;
constexpr std::size_t kMaxCandidates = 200;

bool startsWithIgnoringCase(const std::string& text, const std::string& prefix) {
  if (prefix.size() > text.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(text[i])) != std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  return true;
}
}  // namespace

std::optional<std::string> closestMatch(const std::string& word,
                                        const std::vector<std::string>& candidates) {
  if (word.size() > kMaxSuggestedWord || candidates.size() > kMaxCandidates) return std::nullopt;
  std::size_t allowed = std::max<std::size_t>(1, (word.size() + 2) / 3);
  std::optional<std::string> best;
  std::size_t bestDistance = allowed + 1;
  for (const auto& candidate : candidates) {
    if (candidate == word) continue;
    // An abbreviation ("sync" for "synchronous") counts as a near miss.
    bool abbreviation = word.size() >= 3 && startsWithIgnoringCase(candidate, word);
    std::size_t gap = candidate.size() > word.size() ? candidate.size() - word.size() : word.size() - candidate.size();
    // The distance is at least the gap: only close lengths are worth computing.
    if (!abbreviation && gap > allowed) continue;
    std::size_t distance = gap > allowed ? allowed : editDistance(word, candidate);
    if (abbreviation) distance = std::min(distance, allowed);
    if (distance < bestDistance) {
      bestDistance = distance;
      best = candidate;
    }
  }
  return best;
}

std::string didYouMean(const std::string& word, const std::vector<std::string>& candidates) {
  auto match = closestMatch(word, candidates);
  return match ? " (did you mean '" + *match + "'?)" : "";
}

std::string joinShort(const std::vector<std::string>& items, std::size_t limit) {
  std::string out;
  for (std::size_t i = 0; i < items.size() && i < limit; ++i) {
    if (i) out += ", ";
    out += items[i];
  }
  if (items.size() > limit) out += ", ... (" + std::to_string(items.size() - limit) + " more)";
  return out;
}

}  // namespace plexus::core
