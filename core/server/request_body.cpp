#include "server/request_body.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "server/webhook_payload.hpp"
#include "util/mapped_file.hpp"

namespace plexus::core {

namespace {

constexpr std::size_t kInMemoryLimit = 64 * 1024;
constexpr std::size_t kChunk = 64 * 1024;

PayloadError tooLarge(std::int64_t maxBytes) {
  return PayloadError(413, "request body is larger than the limit of " + std::to_string(maxBytes) +
                               " bytes (the server's --max-request-bytes)");
}

/// An unnamed file: it disappears when the last descriptor or mapping goes.
class SpoolFile {
 public:
  explicit SpoolFile(const std::string& directory) : directory_(directory) {
    fd_ = ::open(directory.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd_ < 0) throw std::runtime_error(failure("cannot create a spool file in"));
  }
  ~SpoolFile() { ::close(fd_); }
  SpoolFile(const SpoolFile&) = delete;
  SpoolFile& operator=(const SpoolFile&) = delete;

  void write(const char* data, std::size_t size) {
    while (size > 0) {
      ssize_t n = ::write(fd_, data, size);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw std::runtime_error(failure("cannot write a spool file in"));
      data += n;
      size -= static_cast<std::size_t>(n);
    }
  }
  plexus::Binary map(std::string contentType) { return mapFile(fd_, directory_, std::move(contentType)); }

 private:
  std::string failure(const std::string& what) const {
    return what + " '" + directory_ + "': " + std::strerror(errno);
  }
  std::string directory_;
  int fd_ = -1;
};

}  // namespace

plexus::Binary readRequestBody(std::istream& in, std::int64_t maxBytes, const std::string& spoolDirectory,
                               std::string contentType) {
  std::string head;
  std::unique_ptr<SpoolFile> spool;
  std::int64_t total = 0;
  char buffer[kChunk];
  while (in) {
    in.read(buffer, sizeof buffer);
    std::streamsize n = in.gcount();
    if (n <= 0) break;
    total += n;
    if (total > maxBytes) throw tooLarge(maxBytes);
    if (!spool && head.size() + static_cast<std::size_t>(n) <= kInMemoryLimit) {
      head.append(buffer, static_cast<std::size_t>(n));
      continue;
    }
    if (!spool) {
      spool = std::make_unique<SpoolFile>(spoolDirectory);
      spool->write(head.data(), head.size());
      head.clear();
    }
    spool->write(buffer, static_cast<std::size_t>(n));
  }
  if (spool) return spool->map(std::move(contentType));
  return plexus::Binary(std::move(head), std::move(contentType));
}

}  // namespace plexus::core
