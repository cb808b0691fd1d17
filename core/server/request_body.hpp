// Collecting a request body without holding a large one in the heap.
#pragma once

#include <cstdint>
#include <istream>
#include <memory>
#include <string>

#include <plexus/value.hpp>

namespace plexus::core {

class SpoolFile;

/// Receives a body piece by piece as it arrives. Up to 64 KiB stays in
/// memory; past that everything goes to an unnamed temporary file in the
/// spool folder (O_TMPFILE: nothing is left behind, even after a crash) and
/// finish() returns it memory-mapped.
class RequestBodyBuilder {
 public:
  RequestBodyBuilder();
  RequestBodyBuilder(std::int64_t maxBytes, std::string spoolDirectory);
  ~RequestBodyBuilder();
  RequestBodyBuilder(RequestBodyBuilder&&) noexcept;
  RequestBodyBuilder& operator=(RequestBodyBuilder&&) noexcept;

  /// Throws PayloadError(413) once the total passes maxBytes, and
  /// std::runtime_error naming the folder when the spool file cannot be
  /// created or written (disk full).
  void append(const char* data, std::size_t size);
  std::int64_t size() const { return total_; }
  /// The bytes so far, typed with `contentType`; the builder is empty after.
  plexus::Binary finish(std::string contentType);

 private:
  std::int64_t maxBytes_ = 0;
  std::string spoolDirectory_;
  std::string head_;
  std::unique_ptr<SpoolFile> spool_;
  std::int64_t total_ = 0;
};

/// Reads the whole body from `in` into a RequestBodyBuilder, refusing with
/// PayloadError(413) as soon as it passes `maxBytes` (the rest is not read).
plexus::Binary readRequestBody(std::istream& in, std::int64_t maxBytes, const std::string& spoolDirectory,
                               std::string contentType);

}  // namespace plexus::core
