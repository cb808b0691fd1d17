#include "server/request_body.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "trigger/webhook/webhook_payload.hpp"
#include "util/mapped_file.hpp"

namespace plexus::core {

namespace {

constexpr std::size_t kInMemoryLimit = 64 * 1024;
constexpr std::size_t kChunk = 64 * 1024;

PayloadError tooLarge(std::int64_t maxBytes) {
  return PayloadError(413, "request body is larger than the limit of " + std::to_string(maxBytes) +
                               " bytes (the server's --max-request-bytes)");
}

}  // namespace

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


RequestBodyBuilder::RequestBodyBuilder() = default;
RequestBodyBuilder::RequestBodyBuilder(std::int64_t maxBytes, std::string spoolDirectory)
    : maxBytes_(maxBytes), spoolDirectory_(std::move(spoolDirectory)) {}
RequestBodyBuilder::~RequestBodyBuilder() = default;
RequestBodyBuilder::RequestBodyBuilder(RequestBodyBuilder&&) noexcept = default;
RequestBodyBuilder& RequestBodyBuilder::operator=(RequestBodyBuilder&&) noexcept = default;

void RequestBodyBuilder::append(const char* data, std::size_t size) {
  if (size == 0) return;
  total_ += static_cast<std::int64_t>(size);
  if (total_ > maxBytes_) throw tooLarge(maxBytes_);
  if (!spool_ && head_.size() + size <= kInMemoryLimit) {
    head_.append(data, size);
    return;
  }
  if (!spool_) {
    spool_ = std::make_unique<SpoolFile>(spoolDirectory_);
    spool_->write(head_.data(), head_.size());
    std::string().swap(head_);
  }
  spool_->write(data, size);
}

plexus::Binary RequestBodyBuilder::finish(std::string contentType) {
  total_ = 0;
  if (spool_) {
    plexus::Binary mapped = spool_->map(std::move(contentType));
    spool_.reset();
    return mapped;
  }
  return plexus::Binary(std::move(head_), std::move(contentType));
}

plexus::Binary readRequestBody(std::istream& in, std::int64_t maxBytes, const std::string& spoolDirectory,
                               std::string contentType) {
  RequestBodyBuilder body(maxBytes, spoolDirectory);
  char buffer[kChunk];
  while (in) {
    in.read(buffer, sizeof buffer);
    std::streamsize n = in.gcount();
    if (n <= 0) break;
    body.append(buffer, static_cast<std::size_t>(n));
  }
  return body.finish(std::move(contentType));
}

}  // namespace plexus::core
