// Private copies of component libraries: the loader opens a copy that only
// this process can write, never the file in the plugins folder.
//
// Why: dlopen maps the library's file. `cp new.so plugins/echo.so` rewrites
// that same file (same inode) in place, so the pages of the running library
// change under it and the server crashes. A copy is another inode: whatever
// happens to the original afterwards, the running code stays as it was.
// (`mv` replaces the directory entry and is safe even without copies.)
//
// Where the copies go:
//   - files in a directory of their own, $TMPDIR/plexus-plugins-XXXXXX
//     (mode 0700, /tmp without TMPDIR), named like the original (echo.so), so
//     dladdr, backtraces, perf and /proc/PID/maps name the library usefully.
//     The directory is removed when the last library in it is released; a
//     process that crashes leaves it behind, and the next loader removes it
//     (each directory is flock()ed by its process while it lives, so a
//     directory whose lock can be taken belongs to no running process);
//   - when that file system is mounted noexec (a library there cannot be
//     mapped executable) or the directory cannot be made: sealed memfd copies
//     (memfd_create), opened as /proc/self/fd/N. Nothing on disk to clean up,
//     but dladdr names "/proc/self/fd/N" (/proc/PID/maps says
//     "/memfd:plexus:echo.so").
// The ABI tag is read from the copy, so what is checked is what is loaded.
#pragma once

#include <memory>
#include <string>

namespace plexus::core {

class CopyDirectory;

/// One library's private copy. Removes its file (or closes its memfd) on
/// destruction: destroy it only after the library was dlclose()d.
class LibraryCopy {
 public:
  LibraryCopy(std::string path, int fd, std::shared_ptr<CopyDirectory> directory);
  ~LibraryCopy();
  LibraryCopy(const LibraryCopy&) = delete;
  LibraryCopy& operator=(const LibraryCopy&) = delete;

  /// What to dlopen: DIR/echo.so, or /proc/self/fd/N.
  const std::string& path() const { return path_; }
  /// An open descriptor of the copy (the loader maps it to read the ABI tag).
  int fd() const { return fd_; }

 private:
  std::string path_;
  int fd_;
  std::shared_ptr<CopyDirectory> directory_;  // null for a memfd copy
};

/// Makes the private copies of one loadComponents call.
class LibraryCopier {
 public:
  /// `parent`: where the copies' directory goes ("" = $TMPDIR, else /tmp).
  /// `inMemory`: memfd copies even when files would do (tests use it).
  /// Creating the directory (and removing those that crashed processes left
  /// in `parent`) waits for the first copy.
  LibraryCopier(std::string parent, bool inMemory);

  /// A private copy of `file`. Throws std::runtime_error with a one-line
  /// reason: the file cannot be read, changed while it was copied, or no
  /// copy could be written.
  std::unique_ptr<LibraryCopy> copy(const std::string& file);

  /// True once copies are memfds (asked for, or files were not possible).
  bool inMemory() const { return inMemory_; }
  /// The directory of file copies, "" until the first or when in memory.
  std::string directory() const;

 private:
  void prepareDirectory();

  std::string parent_;
  bool inMemory_;
  bool prepared_ = false;
  std::shared_ptr<CopyDirectory> directory_;
};

/// Removes the copy directories in `parent` whose process is gone (their
/// flock can be taken), and returns how many it removed. Called by the
/// LibraryCopier before it makes its own directory; public for tests.
int removeAbandonedCopyDirectories(const std::string& parent);

/// The prefix of every copy directory's name in its parent.
extern const char* const kCopyDirectoryPrefix;

}  // namespace plexus::core
