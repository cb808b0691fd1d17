// Storing plexus::Json values that may hold binary leaves.
//
// A payload is stored as JSON text. A binary leaf becomes a marker object:
//   small (< kInlineBinaryLimit):  {"$binary":{"contentType":"image/png","base64":"iVBO..."}}
//   large:                         {"$binary":{"contentType":"image/png","size":1048576,
//                                              "file":"3f/3fa9...c2"}}
// where "file" names a file under the blob directory. Large files are
// content-addressed (sha256 of the bytes, hex, fanned out by the first two
// characters), so the same bytes stored twice (a webhook body in the trigger
// results and again in a step's result) take one file.
//
// Escaping: so that a user's own object with a "$binary" key is never taken
// for a marker, every object key that starts with '$' is stored with one
// more '$' in front ("$binary" -> "$$binary", "$$x" -> "$$$x") and decoding
// strips it. A one-member object whose key is exactly "$binary" is then
// always a marker.
//
// Durability: a blob file is complete under its final name before the
// database row that references it commits (written to blobs/tmp/, then
// renamed). With fullSync the file and the directory are fsync'd before
// the rename returns; without it the file survives a process crash (the
// kernel has the data), like the database with synchronous=NORMAL.
//
// Not done yet: blob files are never deleted (nothing deletes executions
// yet); a later garbage collector can delete files no row references.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <plexus/value.hpp>

namespace plexus::core {

/// Binaries smaller than this are stored inline (base64) in the database.
constexpr std::size_t kInlineBinaryLimit = 64 * 1024;

/// Payloads nested deeper than this many levels of arrays and objects are
/// refused, when encoded and when decoded (a corrupt row). It is above the
/// deepest request body the server accepts (--max-json-depth, at most 8192,
/// plus the trigger results' own levels), and low enough that the recursive
/// code that later copies, compares or prints a value (nlohmann's copy
/// constructor, operator==, dump()) stays far from a thread's stack end:
/// about 100-200 bytes per level of an 8 MiB stack.
constexpr std::size_t kMaxPayloadDepth = 10000;

class BlobWriter;
class Sha256;  // incremental hash, defined in payload_codec.cpp

/// The folder of large binaries. Stateless apart from its path and sync
/// option: every method is safe from any thread (files are written under
/// unique temporary names and renamed atomically).
class BlobDirectory {
 public:
  /// `directory` must exist (SqliteStore::open creates it).
  BlobDirectory(std::string directory, bool fullSync);

  const std::string& path() const { return directory_; }
  bool fullSync() const { return fullSync_; }

  /// Stores `bytes` unless a file with the same content is there already;
  /// returns its name relative to path() ("3f/3fa9..."). Throws StoreError.
  std::string store(std::string_view bytes) const;
  /// The file `name` (as returned by store/BlobWriter), memory-mapped: the
  /// bytes are paged in on demand, not copied into the heap. Throws
  /// StoreError when it is missing, unreadable or not `expectedSize` long.
  plexus::Binary load(const std::string& name, std::size_t expectedSize, std::string contentType) const;
  /// Starts streaming a new binary into this directory.
  BlobWriter writer() const;

  /// Deletes temporary files older than an hour: what a crash left behind
  /// mid-write. (Younger ones may belong to another live process.)
  void removeStaleTemporaries() const;

  // Used by BlobWriter.
  std::string newTemporaryPath() const;
  /// Moves a finished temporary file to its content address `hexSha256`
  /// and returns its relative name.
  std::string commitTemporary(const std::string& temporaryPath, const std::string& hexSha256,
                              std::size_t size) const;

 private:
  std::string directory_;
  bool fullSync_;
};

/// Streams a binary into the blob directory without holding it in memory:
/// for the webhook intake, which copies a large request body straight from
/// the socket into write().
///
///   BlobWriter writer = store.blobs().writer();
///   while (n = read(buffer)) writer.write(buffer, n);
///   plexus::Binary body = writer.finish("image/png");
///
/// The first kInlineBinaryLimit bytes are buffered in memory; only a
/// larger body goes to a file (small bodies are stored inline anyway).
/// finish() returns the file memory-mapped (see BlobDirectory::load). When
/// the payload is later stored, the codec finds the file by its content
/// hash and does not write it again.
///
/// Threads: one thread uses a writer at a time. Ownership: a writer refers
/// to its BlobDirectory (the store's) and must not outlive it. Dropping a
/// writer without finish() deletes its temporary file.
class BlobWriter {
 public:
  explicit BlobWriter(const BlobDirectory& directory);
  BlobWriter(BlobWriter&& other) noexcept;
  BlobWriter& operator=(BlobWriter&&) = delete;
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;
  ~BlobWriter();

  /// Appends bytes. Throws StoreError (disk full...), naming the file.
  void write(const char* data, std::size_t size);
  /// Bytes written so far.
  std::size_t size() const { return size_; }
  /// Completes the blob and returns it. Call at most once.
  plexus::Binary finish(std::string contentType);
  /// After finish(): the file's name relative to the blob directory, or
  /// empty when the binary was small enough to stay in memory.
  const std::string& fileName() const { return fileName_; }

 private:
  void spillToFile();
  void writeToFile(const char* data, std::size_t size);

  const BlobDirectory* directory_;
  std::string buffer_;  // the bytes while they are below the inline limit
  std::string temporaryPath_;
  int fd_ = -1;
  std::unique_ptr<Sha256> hash_;  // sha256 of the bytes written to the file
  std::size_t size_ = 0;
  std::string fileName_;
  bool finished_ = false;
};

/// The JSON text to store for `value`; large binaries are written to `blobs`.
/// Throws StoreError when a blob cannot be written or the value is nested
/// deeper than kMaxPayloadDepth. Strings that are not valid UTF-8 are
/// stored with U+FFFD in place of the bad bytes. Neither recursive nor a
/// copy of the value: memory is the text, plus a frame per open level.
std::string encodePayload(const plexus::Json& value, const BlobDirectory& blobs);

/// The value `encodePayload` was given, with the same binaries (bytes and
/// content type). Throws StoreError on malformed text, text nested deeper
/// than kMaxPayloadDepth, or a missing blob; never recursive over the depth.
plexus::Json decodePayload(const std::string& text, const BlobDirectory& blobs);

/// Lower-case hex sha256 of `bytes`.
std::string sha256Hex(std::string_view bytes);

}  // namespace plexus::core
