#include "loader/private_copy.hpp"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <Poco/Logger.h>

namespace plexus::core {

const char* const kCopyDirectoryPrefix = "plexus-plugins-";

namespace {

namespace fs = std::filesystem;

/// A directory is created as plexus-plugins-new-XXXXXX, locked, then renamed
/// to plexus-plugins-XXXXXX, so a directory under its final name is always
/// locked while its process lives.
const std::string kPendingPrefix = std::string(kCopyDirectoryPrefix) + "new-";
/// A pending directory older than this was left by a crash in the moment
/// between mkdtemp and flock.
constexpr auto kPendingGrace = std::chrono::minutes(1);

Poco::Logger& logger() { return Poco::Logger::get("plexus.loader"); }

std::string errnoText() { return std::strerror(errno); }

std::string baseName(const std::string& path) { return fs::path(path).filename().string(); }

std::string defaultParent() {
  const char* tmp = std::getenv("TMPDIR");
  return tmp && *tmp ? tmp : "/tmp";
}

/// Closes a descriptor on scope exit unless released.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

bool isNoexec(const std::string& directory) {
  struct statvfs info {};
  return ::statvfs(directory.c_str(), &info) == 0 && (info.f_flag & ST_NOEXEC) != 0;
}

/// Writes all of `from` into `to`; returns the number of bytes copied.
std::uint64_t copyBytes(int from, int to, const std::string& file) {
  char buffer[1 << 16];
  std::uint64_t total = 0;
  for (;;) {
    const ssize_t got = ::read(from, buffer, sizeof buffer);
    if (got == 0) return total;
    if (got < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("cannot read it: " + errnoText());
    }
    for (ssize_t written = 0; written < got;) {
      const ssize_t put = ::write(to, buffer + written, static_cast<std::size_t>(got - written));
      if (put < 0) {
        if (errno == EINTR) continue;
        throw std::runtime_error("cannot write its private copy of " + baseName(file) + ": " +
                                 errnoText());
      }
      written += put;
    }
    total += static_cast<std::uint64_t>(got);
  }
}

bool sameVersion(const struct stat& a, const struct stat& b) {
  return a.st_size == b.st_size && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
         a.st_mtim.tv_nsec == b.st_mtim.tv_nsec && a.st_ino == b.st_ino;
}

bool olderThan(const struct stat& info, std::chrono::seconds age) {
  const auto modified = std::chrono::system_clock::from_time_t(info.st_mtim.tv_sec);
  return std::chrono::system_clock::now() - modified > age;
}

}  // namespace

/// One process's directory of file copies: locked while it lives, removed
/// with everything in it when the last LibraryCopy in it is released.
class CopyDirectory {
 public:
  /// Throws std::runtime_error naming the directory.
  explicit CopyDirectory(const std::string& parent) {
    std::string pending = parent + "/" + kPendingPrefix + "XXXXXX";
    if (!::mkdtemp(pending.data()))  // mode 0700: only this user reads or writes the copies
      throw std::runtime_error("cannot create " + pending + ": " + errnoText());
    FdGuard lock(::open(pending.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (lock.get() < 0 || ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
      const std::string reason = errnoText();
      ::rmdir(pending.c_str());
      throw std::runtime_error("cannot lock " + pending + ": " + reason);
    }
    path_ = parent + "/" + kCopyDirectoryPrefix + pending.substr(pending.size() - 6);
    if (::rename(pending.c_str(), path_.c_str()) != 0) {
      const std::string reason = errnoText();
      ::rmdir(pending.c_str());
      throw std::runtime_error("cannot rename " + pending + " to " + path_ + ": " + reason);
    }
    lockFd_ = lock.release();
  }

  ~CopyDirectory() {
    std::error_code ignored;  // best effort: a leftover is removed by the next loader
    fs::remove_all(path_, ignored);
    ::close(lockFd_);
  }

  CopyDirectory(const CopyDirectory&) = delete;
  CopyDirectory& operator=(const CopyDirectory&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int lockFd_ = -1;
};

LibraryCopy::LibraryCopy(std::string path, int fd, std::shared_ptr<CopyDirectory> directory)
    : path_(std::move(path)), fd_(fd), directory_(std::move(directory)) {}

LibraryCopy::~LibraryCopy() {
  if (directory_) {
    ::unlink(path_.c_str());
    ::close(fd_);
    return;
  }
  // A memfd copy is dlopen()ed as /proc/self/fd/N, and glibc finds an already
  // loaded library by that name first. A library dlclose() could not unload
  // (GNU-unique symbols) keeps the name, so its descriptor stays open: N must
  // never name another library's copy.
  if (void* stillLoaded = ::dlopen(path_.c_str(), RTLD_NOW | RTLD_NOLOAD)) {
    ::dlclose(stillLoaded);
    return;
  }
  ::close(fd_);
}

LibraryCopier::LibraryCopier(std::string parent, bool inMemory)
    : parent_(parent.empty() ? defaultParent() : std::move(parent)), inMemory_(inMemory) {}

std::string LibraryCopier::directory() const { return directory_ ? directory_->path() : ""; }

void LibraryCopier::prepareDirectory() {
  prepared_ = true;
  if (inMemory_) return;
  if (isNoexec(parent_)) {
    logger().information(parent_ + " is mounted noexec, so libraries cannot run from copies "
                         "there: copying them into memory (memfd) instead; set TMPDIR to "
                         "another folder to have file copies");
    inMemory_ = true;
    return;
  }
  const int removed = removeAbandonedCopyDirectories(parent_);
  if (removed > 0)
    logger().information("removed " + std::to_string(removed) +
                         " folder(s) of library copies left in " + parent_ +
                         " by processes that are no longer running");
  try {
    directory_ = std::make_shared<CopyDirectory>(parent_);
  } catch (const std::runtime_error& error) {
    logger().warning(std::string("cannot make a folder for private copies of the component "
                                 "libraries (") + error.what() +
                     "); copying them into memory (memfd) instead; set TMPDIR to a writable folder "
                     "to have file copies");
    inMemory_ = true;
  }
}

std::unique_ptr<LibraryCopy> LibraryCopier::copy(const std::string& file) {
  FdGuard source(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (source.get() < 0) throw std::runtime_error("cannot read it: " + errnoText());
  struct stat before {};
  if (::fstat(source.get(), &before) != 0) throw std::runtime_error("cannot stat it: " + errnoText());

  if (!prepared_) prepareDirectory();
  std::string path;
  int fd = -1;
  if (inMemory_) {
    fd = ::memfd_create(("plexus:" + baseName(file)).c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) throw std::runtime_error("cannot make its private copy in memory: " + errnoText());
    path = "/proc/self/fd/" + std::to_string(fd);
  } else {
    path = directory_->path() + "/" + baseName(file);
    // Read and execute for this user only; the descriptor itself may write.
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0500);
    if (fd < 0) throw std::runtime_error("cannot create its private copy " + path + ": " + errnoText());
  }
  auto copy = std::make_unique<LibraryCopy>(path, fd, inMemory_ ? nullptr : directory_);

  const std::uint64_t copied = copyBytes(source.get(), fd, file);
  struct stat after {};
  if (::fstat(source.get(), &after) != 0) throw std::runtime_error("cannot stat it: " + errnoText());
  if (!sameVersion(before, after) || copied != static_cast<std::uint64_t>(after.st_size))
    throw std::runtime_error("it changed while it was being copied (replace libraries with mv, "
                             "not cp, and load again)");
  if (inMemory_) {
    // Nothing may change the copy from now on, not even this process. A
    // kernel without seals still has a copy no one else can reach.
    (void)::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  }
  return copy;
}

int removeAbandonedCopyDirectories(const std::string& parent) {
  DIR* listing = ::opendir(parent.c_str());
  if (!listing) return 0;
  int removed = 0;
  const std::string prefix = kCopyDirectoryPrefix;
  while (const dirent* entry = ::readdir(listing)) {
    const std::string name = entry->d_name;
    if (name.rfind(prefix, 0) != 0) continue;
    const bool pending = name.rfind(kPendingPrefix, 0) == 0;
    const std::string path = parent + "/" + name;
    struct stat info {};
    if (::lstat(path.c_str(), &info) != 0 || !S_ISDIR(info.st_mode) || info.st_uid != ::geteuid())
      continue;
    if (pending && !olderThan(info, kPendingGrace)) continue;  // being made right now
    FdGuard lock(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (lock.get() < 0 || ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) continue;  // in use
    std::error_code error;
    fs::remove_all(path, error);
    if (error)
      logger().warning("cannot remove " + path + ", left by a process that is no longer running: " +
                       error.message());
    else
      ++removed;
  }
  ::closedir(listing);
  return removed;
}

}  // namespace plexus::core
