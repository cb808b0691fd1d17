// Random identifiers: execution ids and webhook tokens.
#pragma once

#include <string>

namespace plexus::core {

/// A random URL-safe id (base64url, no padding) of `bytes` random bytes from
/// the kernel's CSPRNG (getrandom). 16 bytes = 128 bits = 22 characters.
/// Thread-safe and lock-free: ids are capabilities (whoever has an
/// execution id may read its result), so they must be unguessable.
std::string randomId(std::size_t bytes = 16);

/// An id that sorts by creation time: 8 characters of milliseconds since
/// the epoch (plus 2^42, so that it never starts with '-') in an
/// order-preserving alphabet (`-0-9A-Z_a-z`, ASCII order), then
/// randomId(12) (96 random bits, still unguessable). 24 characters.
///
/// Why: execution ids are the key of several store indexes. Random keys
/// land on a random B-tree page each, so every commit rewrites pages all
/// over the file; time-ordered keys append to the rightmost page. Ids made
/// in the same millisecond (or after the clock steps back) are unordered
/// among themselves, which costs locality only, never uniqueness.
std::string timeOrderedId();

}  // namespace plexus::core
