// "Did you mean …?" suggestions for misspelt keys, names and roots.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace plexus::core {

/// Levenshtein distance between `a` and `b`, ignoring ASCII case.
std::size_t editDistance(const std::string& a, const std::string& b);

/// The candidate closest to `word`, if it is close enough to be a likely
/// typo (at most a third of the word's letters changed, at least one
/// allowed) or an abbreviation of at least three letters. None for a word
/// over 64 bytes or a list of over 200 candidates: a file of 1 MiB could
/// otherwise make finding suggestions cost minutes.
std::optional<std::string> closestMatch(const std::string& word,
                                        const std::vector<std::string>& candidates);

/// " (did you mean 'X'?)" for the closest candidate, or "" when none is close.
std::string didYouMean(const std::string& word, const std::vector<std::string>& candidates);

/// "a, b, c" — at most `limit` items, then ", ... (N more)". Keeps error
/// messages one readable line even for objects with hundreds of keys.
std::string joinShort(const std::vector<std::string>& items, std::size_t limit = 8);

}  // namespace plexus::core
