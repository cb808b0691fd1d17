// plexus::Json and plexus::Binary: the values that flow between steps.
//
// Every input, trigger payload and step result is a plexus::Json: an
// nlohmann::basic_json whose binary leaves are plexus::Binary. A Binary is an
// immutable, reference-counted byte buffer with its content type, so handing
// an image from the trigger to step three copies a pointer, not the image.
//
// Thread safety: a Binary is immutable once built and may be shared between
// threads freely. A Json follows nlohmann's rules (concurrent reads are safe).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace plexus {

/// Immutable bytes plus a MIME content type ("image/png").
///
/// Copies (and slices) share the same storage: heap bytes, or a file the
/// runtime mapped into memory. Equality compares content type and bytes.
/// It satisfies nlohmann's BinaryType requirements so it can sit inside a
/// plexus::Json; `push_back` exists only for nlohmann's readers and copies
/// the buffer when it is shared.
class Binary {
 public:
  using value_type = std::uint8_t;
  using const_iterator = const std::uint8_t*;
  using iterator = const_iterator;
  using size_type = std::size_t;

  /// An empty buffer of type application/octet-stream.
  Binary() = default;

  /// Takes ownership of `bytes` (moved, not copied).
  explicit Binary(std::string bytes, std::string contentType = "application/octet-stream") {
    auto owned = std::make_shared<const std::string>(std::move(bytes));
    view_ = *owned;
    owner_ = std::move(owned);
    contentType_ = std::move(contentType);
  }

  /// Bytes that live elsewhere — a memory-mapped file, a slice of another
  /// Binary's bytes — kept valid for as long as `owner` is alive. The
  /// runtime uses this for large payloads, which it never copies into the
  /// heap.
  Binary(std::shared_ptr<const void> owner, std::string_view bytes, std::string contentType)
      : owner_(std::move(owner)), view_(bytes), contentType_(std::move(contentType)) {}

  /// Copies `bytes`; used by nlohmann when it builds a binary value.
  explicit Binary(const std::vector<std::uint8_t>& bytes)
      : Binary(std::string(bytes.begin(), bytes.end())) {}

  /// The bytes as a string_view; valid while this Binary (or a copy) lives.
  std::string_view view() const { return view_; }
  /// `length` bytes from `offset`, sharing this Binary's storage (no copy).
  /// Throws std::out_of_range when the range is not inside the bytes.
  Binary slice(std::size_t offset, std::size_t length, std::string contentType) const {
    if (offset > view_.size() || length > view_.size() - offset)
      throw std::out_of_range("Binary::slice: range outside the bytes");
    return Binary(owner_, view_.substr(offset, length), std::move(contentType));
  }
  /// The MIME type given when the value was made.
  const std::string& contentType() const { return contentType_; }
  /// A copy of this value (same shared bytes) with another content type.
  Binary withContentType(std::string contentType) const {
    Binary copy = *this;
    copy.contentType_ = std::move(contentType);
    return copy;
  }

  const std::uint8_t* data() const { return reinterpret_cast<const std::uint8_t*>(view().data()); }
  std::size_t size() const { return view().size(); }
  bool empty() const { return size() == 0; }
  const_iterator begin() const { return data(); }
  const_iterator end() const { return data() + size(); }
  const_iterator cbegin() const { return begin(); }
  const_iterator cend() const { return end(); }
  std::uint8_t back() const { return data()[size() - 1]; }

  /// Appends one byte. Copy-on-write: only for nlohmann's binary readers;
  /// build a Binary from a whole std::string instead.
  void push_back(std::uint8_t byte) {
    std::string grown(view_);
    grown.push_back(static_cast<char>(byte));
    *this = Binary(std::move(grown), std::move(contentType_));
  }

  friend bool operator==(const Binary& a, const Binary& b) {
    return a.contentType_ == b.contentType_ && a.view() == b.view();
  }
  friend bool operator!=(const Binary& a, const Binary& b) { return !(a == b); }

 private:
  std::shared_ptr<const void> owner_;  // Keeps view_'s bytes alive.
  std::string_view view_;
  std::string contentType_ = "application/octet-stream";
};

/// A JSON value whose binary leaves are plexus::Binary. Objects keep their
/// keys sorted (std::map), as nlohmann::json does.
using Json = nlohmann::basic_json<std::map, std::vector, std::string, bool, std::int64_t,
                                  std::uint64_t, double, std::allocator, nlohmann::adl_serializer,
                                  Binary>;

/// Wraps bytes as a binary Json value.
inline Json makeBinary(std::string bytes, std::string contentType) {
  return Json::binary(Binary(std::move(bytes), std::move(contentType)));
}

/// The Binary inside a binary Json value. Throws Json::type_error otherwise.
inline const Binary& asBinary(const Json& value) {
  // byte_container_with_subtype<Binary> derives from Binary.
  return value.get_binary();
}

}  // namespace plexus
