// Large payloads as memory-mapped files: bytes the kernel pages in on
// demand instead of copies in the heap.
#pragma once

#include <string>

#include <plexus/value.hpp>

namespace plexus::core {

/// Maps the whole of the open file `fd` read-only and returns it as a
/// Binary that keeps the mapping alive. The caller may close `fd` (and even
/// unlink the file) afterwards. Throws std::runtime_error naming `path`.
plexus::Binary mapFile(int fd, const std::string& path, std::string contentType);

/// Opens and maps the file at `path`.
plexus::Binary mapFile(const std::string& path, std::string contentType);

}  // namespace plexus::core
