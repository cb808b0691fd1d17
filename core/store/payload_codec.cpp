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

/// True when `value` holds a binary leaf or a key that needs escaping, i.e.
/// when its plain JSON text would not round-trip.
bool needsRewrite(const plexus::Json& value) {
  if (value.is_binary()) return true;
  if (value.is_object()) {
    for (const auto& [key, member] : value.get_ref<const plexus::Json::object_t&>()) {
      if (startsWithDollar(key) || needsRewrite(member)) return true;
    }
  } else if (value.is_array()) {
    for (const auto& element : value.get_ref<const plexus::Json::array_t&>()) {
      if (needsRewrite(element)) return true;
    }
  }
  return false;
}

plexus::Json binaryMarker(const plexus::Binary& binary, const BlobDirectory& blobs) {
  plexus::Json body = plexus::Json::object();
  body["contentType"] = binary.contentType();
  if (binary.size() < kInlineBinaryLimit) {
    body["base64"] = base64Encode(binary.view());
  } else {
    body["size"] = static_cast<std::uint64_t>(binary.size());
    body["file"] = blobs.store(binary.view());
  }
  plexus::Json marker = plexus::Json::object();
  marker[kMarkerKey] = std::move(body);
  return marker;
}

plexus::Json encodeTree(const plexus::Json& value, const BlobDirectory& blobs) {
  if (value.is_binary()) return binaryMarker(plexus::asBinary(value), blobs);
  if (value.is_object()) {
    plexus::Json out = plexus::Json::object();
    for (const auto& [key, member] : value.get_ref<const plexus::Json::object_t&>()) {
      out[startsWithDollar(key) ? "$" + key : key] = encodeTree(member, blobs);
    }
    return out;
  }
  if (value.is_array()) {
    plexus::Json out = plexus::Json::array();
    for (const auto& element : value.get_ref<const plexus::Json::array_t&>()) {
      out.push_back(encodeTree(element, blobs));
    }
    return out;
  }
  return value;
}

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

void decodeTree(plexus::Json& value, const BlobDirectory& blobs) {
  if (value.is_array()) {
    for (auto& element : value.get_ref<plexus::Json::array_t&>()) decodeTree(element, blobs);
    return;
  }
  if (!value.is_object()) return;
  auto& members = value.get_ref<plexus::Json::object_t&>();
  if (members.size() == 1 && members.begin()->first == kMarkerKey) {
    value = binaryFromMarker(members.begin()->second, blobs);
    return;
  }
  bool escaped = false;
  for (auto& [key, member] : members) {
    escaped = escaped || startsWithDollar(key);
    decodeTree(member, blobs);
  }
  if (!escaped) return;
  plexus::Json::object_t unescaped;
  for (auto& [key, member] : members) {
    unescaped.emplace(startsWithDollar(key) ? key.substr(1) : key, std::move(member));
  }
  members = std::move(unescaped);
}

}  // namespace

std::string encodePayload(const plexus::Json& value, const BlobDirectory& blobs) {
  // Lossy only for invalid UTF-8, which JSON text cannot carry.
  constexpr auto kInvalidUtf8 = plexus::Json::error_handler_t::replace;
  if (!needsRewrite(value)) return value.dump(-1, ' ', false, kInvalidUtf8);
  return encodeTree(value, blobs).dump(-1, ' ', false, kInvalidUtf8);
}

plexus::Json decodePayload(const std::string& text, const BlobDirectory& blobs) {
  plexus::Json value;
  try {
    value = plexus::Json::parse(text);
  } catch (const plexus::Json::exception& error) {
    // parse_error, and out_of_range for a number past a double ("1e400").
    throw StoreError(std::string("a stored payload is not valid JSON: ") + error.what());
  }
  // Markers and escaped keys all start with "$; most payloads have neither.
  if (text.find("\"$") != std::string::npos) decodeTree(value, blobs);
  return value;
}

}  // namespace plexus::core
