// Random identifiers: execution ids and webhook tokens.
#pragma once

#include <string>

namespace plexus::core {

/// A random URL-safe id (base64url, no padding) of `bytes` random bytes from
/// the kernel's CSPRNG (getrandom). 16 bytes = 128 bits = 22 characters.
/// Thread-safe and lock-free: ids are capabilities (whoever has an
/// execution id may read its result), so they must be unguessable.
std::string randomId(std::size_t bytes = 16);

}  // namespace plexus::core
