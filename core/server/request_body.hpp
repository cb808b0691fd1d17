// Reading a request body without holding a large one in the heap.
#pragma once

#include <cstdint>
#include <istream>
#include <string>

#include <plexus/value.hpp>

namespace plexus::core {

/// Reads the whole body from `in`, refusing with PayloadError(413) as soon
/// as it passes `maxBytes` (the rest is not read). Up to 64 KiB stays in
/// memory; a larger body is spooled to an unnamed temporary file in
/// `spoolDirectory` (O_TMPFILE: nothing is left behind, even after a crash)
/// and returned memory-mapped. Throws std::runtime_error when the spool
/// file cannot be written (disk full), naming the folder.
plexus::Binary readRequestBody(std::istream& in, std::int64_t maxBytes, const std::string& spoolDirectory,
                               std::string contentType);

}  // namespace plexus::core
