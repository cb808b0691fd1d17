#include "util/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace plexus::core {

namespace {

/// Owns one mapping; unmapped when the last Binary sharing it goes away.
class Mapping {
 public:
  Mapping(void* address, std::size_t size) : address_(address), size_(size) {}
  ~Mapping() { ::munmap(address_, size_); }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  const char* data() const { return static_cast<const char*>(address_); }

 private:
  void* address_;
  std::size_t size_;
};

std::runtime_error failure(const std::string& what, const std::string& path) {
  return std::runtime_error(what + " '" + path + "': " + std::strerror(errno));
}

}  // namespace

plexus::Binary mapFile(int fd, const std::string& path, std::string contentType) {
  struct stat info {};
  if (::fstat(fd, &info) != 0) throw failure("cannot stat", path);
  auto size = static_cast<std::size_t>(info.st_size);
  if (size == 0) return plexus::Binary(std::string(), std::move(contentType));
  void* address = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (address == MAP_FAILED) throw failure("cannot map", path);
  auto mapping = std::make_shared<const Mapping>(address, size);
  std::string_view bytes(mapping->data(), size);
  return plexus::Binary(std::move(mapping), bytes, std::move(contentType));
}

plexus::Binary mapFile(const std::string& path, std::string contentType) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw failure("cannot open", path);
  try {
    plexus::Binary binary = mapFile(fd, path, std::move(contentType));
    ::close(fd);
    return binary;
  } catch (...) {
    ::close(fd);  // Rethrown unchanged: only the descriptor is released here.
    throw;
  }
}

}  // namespace plexus::core
