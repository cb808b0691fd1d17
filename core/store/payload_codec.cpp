#include "store/payload_codec.hpp"

#include "util/mapped_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <vector>

#include <plexus/json_parse.hpp>

#include "store/store.hpp"
#include "util/ids.hpp"

namespace plexus::core {

namespace fs = std::filesystem;

namespace {

constexpr const char* kMarkerKey = "$binary";
constexpr const char* kTemporaryFolder = "tmp";

std::string systemError(const std::string& what, const std::string& path) {
  return what + " '" + path + "': " + std::strerror(errno);
}

// --- base64 (standard alphabet, padded) ------------------------------------

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    unsigned n = (static_cast<unsigned char>(bytes[i]) << 16) |
                 (static_cast<unsigned char>(bytes[i + 1]) << 8) | static_cast<unsigned char>(bytes[i + 2]);
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += kBase64Alphabet[(n >> 6) & 63];
    out += kBase64Alphabet[n & 63];
  }
  std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    unsigned n = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2) n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += rest == 2 ? kBase64Alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

int base64Digit(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

std::string base64Decode(const std::string& text) {
  if (text.size() % 4 != 0) throw StoreError("stored binary has malformed base64 (length not a multiple of 4)");
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    int d[4];
    int padding = 0;
    for (int k = 0; k < 4; ++k) {
      char c = text[i + k];
      bool padAllowed = i + 4 == text.size() && k >= 2;
      if (c == '=' && padAllowed && (k == 3 || text[i + 3] == '=')) {
        d[k] = 0;
        ++padding;
      } else if ((d[k] = base64Digit(c)) < 0) {
        throw StoreError("stored binary has malformed base64 (bad character)");
      }
    }
    unsigned n = (d[0] << 18) | (d[1] << 12) | (d[2] << 6) | d[3];
    out += static_cast<char>((n >> 16) & 0xff);
    if (padding < 2) out += static_cast<char>((n >> 8) & 0xff);
    if (padding < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

// --- files -------------------------------------------------------------------

std::string toHex(const unsigned char* bytes, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex(size * 2, '0');
  for (std::size_t i = 0; i < size; ++i) {
    hex[2 * i] = kDigits[bytes[i] >> 4];
    hex[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return hex;
}

void writeAll(int fd, const char* data, std::size_t size, const std::string& path) {
  while (size > 0) {
    ssize_t written = ::write(fd, data, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      throw StoreError(systemError("cannot write the blob file", path));
    }
    data += written;
    size -= static_cast<std::size_t>(written);
  }
}

void syncFile(int fd, const std::string& path) {
  if (::fsync(fd) != 0) throw StoreError(systemError("cannot fsync", path));
}

void syncDirectory(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw StoreError(systemError("cannot open the directory", path));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw StoreError(systemError("cannot fsync the directory", path));
}

/// The size of the file at `path`, or -1 when there is none.
long long fileSize(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return -1;
  return static_cast<long long>(info.st_size);
}

int openTemporary(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw StoreError(systemError("cannot create the blob file", path));
  return fd;
}

/// Blob names come from our own rows, but a corrupt or hand-edited database
/// must not make us read outside the blob directory.
bool isSafeBlobName(const std::string& name) {
  if (name.empty() || name.front() == '/' || name.find("..") != std::string::npos) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '/' || c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

// --- sha256 --------------------------------------------------------------------

// OpenSSL's EVP sha256 (SHA-NI accelerated): hashing a 100 MB body costs
// well under a second, which matters because large binaries are hashed
// when stored.
class Sha256 {
 public:
  Sha256() {
    if (context_ == nullptr || EVP_DigestInit_ex(context_, EVP_sha256(), nullptr) != 1) {
      EVP_MD_CTX_free(context_);
      throw StoreError("cannot initialise sha256 (OpenSSL EVP)");
    }
  }
  ~Sha256() { EVP_MD_CTX_free(context_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const char* data, std::size_t size) { EVP_DigestUpdate(context_, data, size); }
  std::string finishHex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(context_, digest, &length);
    return toHex(digest, length);
  }

 private:
  EVP_MD_CTX* context_ = EVP_MD_CTX_new();
};

std::string sha256Hex(std::string_view bytes) {
  Sha256 hash;
  hash.update(bytes.data(), bytes.size());
  return hash.finishHex();
}

// --- BlobDirectory -------------------------------------------------------------

BlobDirectory::BlobDirectory(std::string directory, bool fullSync)
    : directory_(std::move(directory)), fullSync_(fullSync) {}

std::string BlobDirectory::newTemporaryPath() const {
  std::string folder = directory_ + "/" + kTemporaryFolder;
  if (::mkdir(folder.c_str(), 0755) != 0 && errno != EEXIST) {
    throw StoreError(systemError("cannot create the blob folder", folder));
  }
  return folder + "/" + randomId() + ".part";
}

std::string BlobDirectory::commitTemporary(const std::string& temporaryPath, const std::string& hexSha256,
                                           std::size_t size) const {
  std::string name = hexSha256.substr(0, 2) + "/" + hexSha256;
  std::string folder = directory_ + "/" + hexSha256.substr(0, 2);
  std::string finalPath = directory_ + "/" + name;
  if (fileSize(finalPath) == static_cast<long long>(size)) {
    ::unlink(temporaryPath.c_str());  // same content already stored
    return name;
  }
  if (::mkdir(folder.c_str(), 0755) != 0 && errno != EEXIST) {
    throw StoreError(systemError("cannot create the blob folder", folder));
  }
  if (::rename(temporaryPath.c_str(), finalPath.c_str()) != 0) {
    std::string message = systemError("cannot move the blob file into place as", finalPath);
    ::unlink(temporaryPath.c_str());
    throw StoreError(message);
  }
  if (fullSync_) {
    syncDirectory(folder);
    syncDirectory(directory_);
  }
  return name;
}

std::string BlobDirectory::store(std::string_view bytes) const {
  std::string hex = sha256Hex(bytes);
  std::string name = hex.substr(0, 2) + "/" + hex;
  if (fileSize(directory_ + "/" + name) == static_cast<long long>(bytes.size())) return name;
  std::string temporary = newTemporaryPath();
  int fd = openTemporary(temporary);
  try {
    writeAll(fd, bytes.data(), bytes.size(), temporary);
    if (fullSync_) syncFile(fd, temporary);
  } catch (const StoreError&) {
    ::close(fd);
    ::unlink(temporary.c_str());
    throw;
  }
  ::close(fd);
  return commitTemporary(temporary, hex, bytes.size());
}

plexus::Binary BlobDirectory::load(const std::string& name, std::size_t expectedSize,
                                   std::string contentType) const {
  if (!isSafeBlobName(name)) throw StoreError("stored payload names an invalid blob file '" + name + "'");
  std::string path = directory_ + "/" + name;
  plexus::Binary bytes;
  try {
    bytes = mapFile(path, std::move(contentType));  // Paged in on demand, never copied to the heap.
  } catch (const std::runtime_error& error) {
    throw StoreError(std::string("cannot read the blob file: ") + error.what());
  }
  if (bytes.size() != expectedSize) {
    throw StoreError("the blob file '" + path + "' does not have the expected " +
                     std::to_string(expectedSize) + " bytes; it was changed or truncated");
  }
  return bytes;
}

BlobWriter BlobDirectory::writer() const { return BlobWriter(*this); }

void BlobDirectory::removeStaleTemporaries() const {
  std::error_code error;
  fs::directory_iterator entries(directory_ + "/" + kTemporaryFolder, error);
  if (error) return;  // no temporary folder yet: nothing to clean
  auto cutoff = fs::file_time_type::clock::now() - std::chrono::hours(1);
  for (const auto& entry : entries) {
    std::error_code ignored;  // best effort: a file we cannot remove stays
    if (entry.last_write_time(ignored) < cutoff) fs::remove(entry.path(), ignored);
  }
}

// --- BlobWriter ------------------------------------------------------------------

BlobWriter::BlobWriter(const BlobDirectory& directory) : directory_(&directory) {}

BlobWriter::BlobWriter(BlobWriter&& other) noexcept
    : directory_(other.directory_),
      buffer_(std::move(other.buffer_)),
      temporaryPath_(std::move(other.temporaryPath_)),
      fd_(other.fd_),
      hash_(std::move(other.hash_)),
      size_(other.size_),
      fileName_(std::move(other.fileName_)),
      finished_(other.finished_) {
  other.fd_ = -1;
  other.temporaryPath_.clear();
}

BlobWriter::~BlobWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!finished_ && !temporaryPath_.empty()) ::unlink(temporaryPath_.c_str());
}

void BlobWriter::write(const char* data, std::size_t size) {
  if (finished_) throw StoreError("BlobWriter::write called after finish()");
  if (fd_ < 0 && buffer_.size() + size < kInlineBinaryLimit) {
    buffer_.append(data, size);
  } else {
    if (fd_ < 0) spillToFile();
    writeToFile(data, size);
  }
  size_ += size;
}

void BlobWriter::spillToFile() {
  temporaryPath_ = directory_->newTemporaryPath();
  fd_ = openTemporary(temporaryPath_);
  hash_ = std::make_unique<Sha256>();
  writeToFile(buffer_.data(), buffer_.size());
  std::string().swap(buffer_);  // release the memory
}

void BlobWriter::writeToFile(const char* data, std::size_t size) {
  hash_->update(data, size);
  writeAll(fd_, data, size, temporaryPath_);
}

plexus::Binary BlobWriter::finish(std::string contentType) {
  if (finished_) throw StoreError("BlobWriter::finish called twice");
  if (fd_ < 0) {
    finished_ = true;
    return plexus::Binary(std::move(buffer_), std::move(contentType));
  }
  if (directory_->fullSync()) syncFile(fd_, temporaryPath_);
  ::close(fd_);
  fd_ = -1;
  fileName_ = directory_->commitTemporary(temporaryPath_, hash_->finishHex(), size_);
  finished_ = true;
  return directory_->load(fileName_, size_, std::move(contentType));
}

// --- the codec -----------------------------------------------------------------

namespace {

bool startsWithDollar(const std::string& key) { return !key.empty() && key.front() == '$'; }

StoreError tooDeep() {
  return StoreError("the value is nested deeper than " + std::to_string(kMaxPayloadDepth) +
                    " levels of arrays and objects, which the store does not keep (it could not be read "
                    "back safely); build a flatter value");
}

/// True when `value` holds a binary leaf or a key that needs escaping, i.e.
/// when its plain JSON text would not round-trip. Iterative, and throws
/// StoreError past kMaxPayloadDepth, so everything after it (dump()
/// recurses once per level) is safe.
bool needsRewrite(const plexus::Json& root) {
  struct Pending {
    const plexus::Json* value;
    std::size_t depth;
  };
  bool rewrite = false;
  std::vector<Pending> pending{{&root, 0}};
  while (!pending.empty()) {
    Pending next = pending.back();
    pending.pop_back();
    const plexus::Json& value = *next.value;
    if (value.is_binary()) {
      // Its marker adds two levels ({"$binary": {...}}) to the stored text.
      if (next.depth + 2 > kMaxPayloadDepth) throw tooDeep();
      rewrite = true;
    }
    if (!value.is_structured()) continue;
    if (next.depth + 1 > kMaxPayloadDepth) throw tooDeep();
    if (value.is_object()) {
      for (const auto& [key, member] : value.get_ref<const plexus::Json::object_t&>()) {
        rewrite = rewrite || startsWithDollar(key);
        pending.push_back({&member, next.depth + 1});
      }
    } else {
      for (const auto& element : value.get_ref<const plexus::Json::array_t&>())
        pending.push_back({&element, next.depth + 1});
    }
  }
  return rewrite;
}

/// Writes a value's stored text straight into a string, with an explicit
/// stack: no copy of the tree is made (a large payload is not held twice)
/// and no recursion follows its depth. Scalars and strings go through
/// nlohmann's serializer, so the text is what dump() writes.
class PayloadWriter {
 public:
  explicit PayloadWriter(const BlobDirectory& blobs)
      : blobs_(blobs),
        serializer_(nlohmann::detail::output_adapter<char, std::string>(out_), ' ',
                    plexus::Json::error_handler_t::replace) {}  // JSON text cannot carry invalid UTF-8.

  std::string write(const plexus::Json& root) {
    open(root);
    while (!stack_.empty()) {
      Frame& frame = stack_.back();
      const plexus::Json* next = nullptr;
      if (frame.value->is_object()) {
        const auto& members = frame.value->get_ref<const plexus::Json::object_t&>();
        if (frame.member == members.end()) {
          out_ += '}';
          stack_.pop_back();
          continue;
        }
        if (frame.member != members.begin()) out_ += ',';
        writeKey(frame.member->first);
        next = &frame.member->second;
        ++frame.member;
      } else {
        const auto& elements = frame.value->get_ref<const plexus::Json::array_t&>();
        if (frame.index == elements.size()) {
          out_ += ']';
          stack_.pop_back();
          continue;
        }
        if (frame.index != 0) out_ += ',';
        next = &elements[frame.index++];
      }
      open(*next);  // may push: `frame` is not used after this
    }
    return std::move(out_);
  }

 private:
  struct Frame {
    const plexus::Json* value;
    std::size_t index = 0;                               // arrays
    plexus::Json::object_t::const_iterator member = {};  // objects
  };

  /// Writes a scalar or a binary marker, or opens a container.
  void open(const plexus::Json& value) {
    if (value.is_binary()) {
      if (stack_.size() + 2 > kMaxPayloadDepth) throw tooDeep();  // the marker's two levels
      return writeMarker(plexus::asBinary(value));
    }
    if (!value.is_structured()) return serializer_.dump(value, false, false, 0);
    if (stack_.size() + 1 > kMaxPayloadDepth) throw tooDeep();
    Frame frame{&value};
    if (value.is_object()) {
      frame.member = value.get_ref<const plexus::Json::object_t&>().begin();
      out_ += '{';
    } else {
      out_ += '[';
    }
    stack_.push_back(frame);
  }

  void writeKey(const std::string& key) {
    // Plain keys (printable ASCII without '"' or '\') are written as they
    // are; the rest are escaped by nlohmann.
    bool plain = true;
    for (char c : key) plain = plain && c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
    if (plain) {
      out_ += '"';
      if (startsWithDollar(key)) out_ += '$';
      out_ += key;
      out_ += '"';
    } else {
      writeString(startsWithDollar(key) ? "$" + key : key);
    }
    out_ += ':';
  }

  void writeString(const std::string& text) { serializer_.dump(plexus::Json(text), false, false, 0); }

  void writeMarker(const plexus::Binary& binary) {
    out_ += "{\"";
    out_ += kMarkerKey;
    out_ += "\":{\"contentType\":";
    writeString(binary.contentType());
    if (binary.size() < kInlineBinaryLimit) {
      out_ += ",\"base64\":\"";
      out_ += base64Encode(binary.view());
      out_ += '"';
    } else {
      out_ += ",\"size\":" + std::to_string(binary.size()) + ",\"file\":";
      writeString(blobs_.store(binary.view()));
    }
    out_ += "}}";
  }

  const BlobDirectory& blobs_;
  std::string out_;
  nlohmann::detail::serializer<plexus::Json> serializer_;
  std::vector<Frame> stack_;
};

const std::string& markerText(const plexus::Json& body, const char* field) {
  auto found = body.find(field);
  if (found == body.end() || !found->is_string()) {
    throw StoreError(std::string("stored binary marker lacks the text field \"") + field + "\"");
  }
  return found->get_ref<const std::string&>();
}

plexus::Json binaryFromMarker(const plexus::Json& body, const BlobDirectory& blobs) {
  if (!body.is_object()) throw StoreError("stored binary marker is not an object");
  const std::string& contentType = markerText(body, "contentType");
  if (body.contains("base64")) {
    return plexus::Json::binary(plexus::Binary(base64Decode(markerText(body, "base64")), contentType));
  }
  auto size = body.find("size");
  if (size == body.end() || !size->is_number_unsigned()) {
    throw StoreError("stored binary marker lacks \"base64\" or a \"size\"");
  }
  return plexus::Json::binary(blobs.load(markerText(body, "file"), size->get<std::size_t>(), contentType));
}

/// Turns markers back into binaries and strips the escaping '$' from keys,
/// in place, with an explicit stack (the parse already bounded the depth).
void decodeTree(plexus::Json& root, const BlobDirectory& blobs) {
  std::vector<plexus::Json*> pending{&root};
  while (!pending.empty()) {
    plexus::Json& value = *pending.back();
    pending.pop_back();
    if (value.is_array()) {
      for (auto& element : value.get_ref<plexus::Json::array_t&>()) pending.push_back(&element);
      continue;
    }
    if (!value.is_object()) continue;
    auto& members = value.get_ref<plexus::Json::object_t&>();
    if (members.size() == 1 && members.begin()->first == kMarkerKey) {
      value = binaryFromMarker(members.begin()->second, blobs);
      continue;
    }
    bool escaped = false;
    for (const auto& member : members) escaped = escaped || startsWithDollar(member.first);
    if (escaped) {
      // Rebuilt before its members are visited, so the pointers pushed below stay valid.
      plexus::Json::object_t unescaped;
      for (auto& [key, member] : members)
        unescaped.emplace(startsWithDollar(key) ? key.substr(1) : key, std::move(member));
      members = std::move(unescaped);
    }
    for (auto& member : members) pending.push_back(&member.second);
  }
}

}  // namespace

std::string encodePayload(const plexus::Json& value, const BlobDirectory& blobs) {
  // needsRewrite bounds the depth, so dump()'s recursion is safe. Lossy
  // only for invalid UTF-8, which JSON text cannot carry.
  if (!needsRewrite(value)) return value.dump(-1, ' ', false, plexus::Json::error_handler_t::replace);
  return PayloadWriter(blobs).write(value);
}

plexus::Json decodePayload(const std::string& text, const BlobDirectory& blobs) {
  plexus::Json value;
  plexus::JsonLimits limits;
  limits.maxDepth = kMaxPayloadDepth;
  limits.depthSetting = "the store's limit (kMaxPayloadDepth); the payload is corrupt or was not written by Plexus";
  try {
    value = plexus::parseJson(text, limits);
  } catch (const plexus::JsonLimitError& error) {
    throw StoreError(std::string("a stored payload is refused: ") + error.what());
  } catch (const plexus::JsonParseError& error) {
    throw StoreError(std::string("a stored payload is not valid JSON: ") + error.what());
  }
  // Markers and escaped keys all start with "$; most payloads have neither.
  if (text.find("\"$") != std::string::npos) decodeTree(value, blobs);
  return value;
}

}  // namespace plexus::core
