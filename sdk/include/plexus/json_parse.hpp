// Parsing JSON text that comes from outside, with limits.
//
// `plexus::Json::parse` accepts any nesting depth and any size. nlohmann's
// parser and destructor are iterative, but dump(), operator== and the copy
// constructor recurse once per level, so a value nested 100,000 levels
// deep overflows the stack of whoever copies or prints it later. And a
// small text can become a large value: `[[],[],...]` costs about 16 bytes
// of memory per byte of text. parseJson refuses both while it reads, before
// the value exists:
//
//   plexus::Json value = plexus::parseJson(text);              // depth <= 512
//   plexus::Json body = plexus::parseJson(text, {512, 10 * text.size()});
//
// Component authors: use parseJson for any JSON text an action receives
// (a webhook body, an HTTP response) instead of Json::parse.
//
// Errors: JsonParseError for text that is not JSON (including numbers that
// overflow a double, such as 1e400), JsonLimitError (a JsonParseError) for
// JSON beyond a limit. Both say where (byte offset) and what to change.
//
// Thread safety: the functions are reentrant; they keep no state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "plexus/value.hpp"

namespace plexus {

/// The nesting depth the runtime allows unless configured otherwise: deep
/// enough for any real document, shallow enough for every recursive
/// algorithm in nlohmann and in the runtime to stay far from the stack's end.
constexpr std::size_t kDefaultMaxJsonDepth = 512;

/// What parseJson refuses. Each limit names the setting that raises it, so
/// the error can tell the user what to change.
struct JsonLimits {
  /// Arrays and objects inside each other: `[[1]]` has depth 2, a scalar 0.
  std::size_t maxDepth = kDefaultMaxJsonDepth;
  /// Bytes the parsed value may take in memory, as estimated while parsing
  /// (see estimate rules in JsonShape); 0 means no budget.
  std::size_t maxMemoryBytes = 0;
  /// Where maxDepth comes from, quoted in the error ("the server's --max-json-depth").
  std::string depthSetting = "plexus::JsonLimits::maxDepth";
  /// Where maxMemoryBytes comes from, quoted in the error.
  std::string memorySetting = "plexus::JsonLimits::maxMemoryBytes";
};

/// The text is not JSON: a syntax error, a number that overflows a double
/// (1e400), bytes that are not UTF-8. what() reads "parse error at line 1,
/// column 5: ..." or "number at byte 6 overflows ...".
class JsonParseError : public std::runtime_error {
 public:
  JsonParseError(const std::string& message, std::size_t offset)
      : std::runtime_error(message), offset_(offset) {}
  /// Bytes read from the start of the text when the error was found.
  std::size_t offset() const { return offset_; }

 private:
  std::size_t offset_;
};

/// The text is JSON but beyond a JsonLimits bound; what() names the limit,
/// its value, the byte offset and the setting that raises it.
class JsonLimitError : public JsonParseError {
 public:
  enum class Limit { Depth, Memory };
  JsonLimitError(Limit limit, std::size_t bound, std::size_t offset, const std::string& message)
      : JsonParseError(message, offset), limit_(limit), bound_(bound) {}
  /// Which limit was reached.
  Limit limit() const { return limit_; }
  /// The limit's value (levels, or bytes of memory).
  std::size_t bound() const { return bound_; }

 private:
  Limit limit_;
  std::size_t bound_;
};

/// What inspectJson found: the text's deepest nesting and the estimated
/// memory of the value parseJson would build. The estimate follows
/// libstdc++ and glibc malloc on 64-bit Linux: 16 bytes per value slot, a
/// heap std::string (48 bytes with malloc's header) per string plus its
/// characters past 15, a std::vector (32) per array plus its capacity
/// (doubling) times 16, a std::map (64) per object plus a 96-byte node per
/// member (and the key's characters past 15). It is within a few percent
/// of what malloc really hands out for nlohmann's plexus::Json.
struct JsonShape {
  std::size_t depth = 0;
  std::size_t estimatedBytes = 0;
};

namespace json_parse_detail {

/// glibc malloc's cost of a request of `n` bytes: its 8-byte header,
/// rounded up to 16, at least 32.
inline std::size_t mallocCost(std::size_t n) {
  std::size_t chunk = (n + 8 + 15) & ~static_cast<std::size_t>(15);
  return chunk < 32 ? 32 : chunk;
}

inline std::size_t stringCost(std::size_t length) {
  return length > 15 ? mallocCost(length + 1) : 0;  // std::string's own buffer holds 15.
}

/// An input iterator over the text that keeps the read position in a
/// variable the SAX handler can see, so limit errors can say where.
class CursorIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  CursorIterator(const char** cursor, const char* end) : cursor_(cursor), end_(end) {}
  char operator*() const { return **cursor_; }
  CursorIterator& operator++() {
    ++*cursor_;
    return *this;
  }
  CursorIterator operator++(int) {
    CursorIterator before = *this;
    ++*cursor_;
    return before;
  }
  bool operator==(const CursorIterator& other) const { return position() == other.position(); }
  bool operator!=(const CursorIterator& other) const { return !(*this == other); }

 private:
  const char* position() const { return cursor_ ? *cursor_ : end_; }
  const char** cursor_;  // null for the end iterator
  const char* end_;
};

/// The SAX handler: checks the limits at every event and, when `Build`,
/// builds the value with an explicit stack (no recursion over depth).
template <bool Build>
class LimitedSax {
 public:
  using number_integer_t = Json::number_integer_t;
  using number_unsigned_t = Json::number_unsigned_t;
  using number_float_t = Json::number_float_t;
  using string_t = Json::string_t;
  using binary_t = Json::binary_t;

  LimitedSax(const JsonLimits& limits, const char* begin, const char* const* cursor)
      : limits_(limits), begin_(begin), cursor_(cursor) {
    charge(16);  // the root slot
  }

  bool null() { return put(nullptr); }
  bool boolean(bool value) { return put(value); }
  bool number_integer(number_integer_t value) { return put(value); }
  bool number_unsigned(number_unsigned_t value) { return put(value); }
  bool number_float(number_float_t value, const string_t&) { return put(value); }
  bool string(string_t& value) {
    charge(mallocCost(sizeof(string_t)) + stringCost(value.size()));
    // Copied, not moved: a copy is exactly as long as the text, while the
    // lexer's buffer may have twice the capacity (and is reused for the next token).
    if constexpr (Build) return put(string_t(value));
    return put(nullptr);  // counts the slot, builds nothing
  }
  bool binary(binary_t&) { return put(nullptr); }  // JSON text has no binary values.

  bool start_object(std::size_t) {
    charge(mallocCost(sizeof(Json::object_t)));
    return open(Json::object());
  }
  bool key(string_t& name) {
    // A map node: red-black links (32) + the key string + the value slot.
    charge(mallocCost(32 + sizeof(string_t) + sizeof(Json)) + stringCost(name.size()));
    if constexpr (Build) member_ = &stack_.back().open.value->template get_ref<Json::object_t&>()[name];
    return true;
  }
  bool end_object() { return close(); }
  bool start_array(std::size_t) {
    charge(mallocCost(sizeof(Json::array_t)));
    return open(Json::array());
  }
  bool end_array() { return close(); }

  bool parse_error(std::size_t position, const std::string& token, const nlohmann::detail::exception& error) {
    if (error.id == 406)  // out_of_range: a number that overflows a double
      throw JsonParseError("number at byte " + std::to_string(position) + " overflows a 64-bit float: '" +
                               token + "' (send a smaller number, or send it as a string)",
                           position);
    std::string message = error.what();  // "[json.exception.parse_error.101] parse error at ..."
    std::size_t tag = message.rfind("[json.exception.", 0) == 0 ? message.find("] ") : std::string::npos;
    if (tag != std::string::npos) message = message.substr(tag + 2);
    // nlohmann quotes the input it last read ("; last read: '\"sk_live_42…'"):
    // a parse error must not echo a caller's bytes, which may hold secrets.
    const std::size_t quoted = message.find("; last read: '");
    if (quoted != std::string::npos) {
      const std::size_t expected = message.find("; expected ", quoted);
      message.erase(quoted, expected == std::string::npos ? std::string::npos : expected - quoted);
    }
    throw JsonParseError(message, position);
  }

  Json& root() { return root_; }
  JsonShape shape() const { return shape_; }

 private:
  struct Open {
    Json* value;            // null when not building
    std::size_t size = 0;   // arrays: elements so far
    std::size_t capacity = 0;
  };

  std::size_t offset() const { return static_cast<std::size_t>(*cursor_ - begin_); }

  void charge(std::size_t bytes) {
    shape_.estimatedBytes += bytes;
    if (limits_.maxMemoryBytes != 0 && shape_.estimatedBytes > limits_.maxMemoryBytes)
      throw JsonLimitError(JsonLimitError::Limit::Memory, limits_.maxMemoryBytes, offset(),
                           "JSON value would take more than " + std::to_string(limits_.maxMemoryBytes) +
                               " bytes of memory once parsed (refused at byte " + std::to_string(offset()) +
                               "); send less data, or raise " + limits_.memorySetting);
  }

  /// An array's buffer doubles as libstdc++'s does; charge the new one.
  void growArray(Open& array) {
    if (array.size < array.capacity) return;
    std::size_t grown = array.capacity == 0 ? 1 : 2 * array.capacity;
    charge(mallocCost(grown * sizeof(Json)) - (array.capacity == 0 ? 0 : mallocCost(array.capacity * sizeof(Json))));
    array.capacity = grown;
  }

  /// Places a scalar or an empty container where the next value goes.
  template <typename Value>
  Json* place(Value&& value) {
    if (!stack_.empty() && stack_.back().isArray) {
      Open& parent = stack_.back().open;
      growArray(parent);
      ++parent.size;
      if constexpr (Build) {
        auto& elements = parent.value->template get_ref<Json::array_t&>();
        elements.emplace_back(std::forward<Value>(value));
        return &elements.back();
      }
      return nullptr;
    }
    if constexpr (Build) {
      Json* slot = stack_.empty() ? &root_ : member_;
      *slot = Json(std::forward<Value>(value));
      return slot;
    }
    return nullptr;
  }

  template <typename Value>
  bool put(Value&& value) {
    place(std::forward<Value>(value));
    return true;
  }

  bool open(Json&& empty) {
    if (stack_.size() + 1 > limits_.maxDepth) {
      std::size_t at = offset() == 0 ? 0 : offset() - 1;  // the opening bracket
      throw JsonLimitError(JsonLimitError::Limit::Depth, limits_.maxDepth, at,
                           "JSON nested deeper than " + std::to_string(limits_.maxDepth) +
                               " levels of arrays and objects (at byte " + std::to_string(at) +
                               "); flatten the data, or raise " + limits_.depthSetting);
    }
    bool isArray = empty.is_array();
    Json* value = place(std::move(empty));
    stack_.push_back(Frame{Open{value}, isArray});
    if (stack_.size() > shape_.depth) shape_.depth = stack_.size();
    return true;
  }

  bool close() {
    stack_.pop_back();
    return true;
  }

  struct Frame {
    Open open;
    bool isArray;
  };

  const JsonLimits& limits_;
  const char* begin_;
  const char* const* cursor_;
  std::vector<Frame> stack_;
  Json root_;
  Json* member_ = nullptr;  // the slot key() made for the next object member
  JsonShape shape_;
};

template <bool Build>
LimitedSax<Build> run(std::string_view text, const JsonLimits& limits) {
  const char* cursor = text.data();
  LimitedSax<Build> sax(limits, text.data(), &cursor);
  CursorIterator first(&cursor, nullptr);
  CursorIterator last(nullptr, text.data() + text.size());
  // nlohmann's own iterative parser, called directly: Json::sax_parse would
  // also instantiate the binary formats' reader, which plexus::Binary does
  // not support. Errors throw from the handler.
  using Adapter = nlohmann::detail::iterator_input_adapter<CursorIterator>;
  nlohmann::detail::parser<Json, Adapter>(Adapter(first, last), nullptr, /*allow_exceptions=*/true,
                                          /*skip_comments=*/false)
      .sax_parse(&sax, /*strict=*/true);
  return sax;
}

}  // namespace json_parse_detail

/// Parses `text` into a value, refusing what is not JSON (JsonParseError)
/// and what passes `limits` (JsonLimitError) before building it. Objects
/// with a repeated key keep the last value, as Json::parse does. Memory:
/// the value, plus one small frame per open level while parsing.
inline Json parseJson(std::string_view text, const JsonLimits& limits = {}) {
  return std::move(json_parse_detail::run<true>(text, limits).root());
}

/// Checks `text` as parseJson would, with the same errors, without building
/// anything: what a caller uses to refuse a body early and parse it later.
inline JsonShape inspectJson(std::string_view text, const JsonLimits& limits = {}) {
  return json_parse_detail::run<false>(text, limits).shape();
}

/// The nesting depth of a value already built (`[[1]]`: 2, a scalar: 0),
/// found without recursion; it stops counting once past `stopAfter`. A
/// component that builds values from outside data can check a value with
/// it before anything copies, compares or prints it (those recurse).
inline std::size_t jsonDepth(const Json& value, std::size_t stopAfter = static_cast<std::size_t>(-1)) {
  std::vector<std::pair<const Json*, std::size_t>> pending{{&value, 0}};
  std::size_t deepest = 0;
  while (!pending.empty()) {
    auto [next, depth] = pending.back();
    pending.pop_back();
    if (!next->is_structured()) continue;
    if (depth + 1 > deepest) deepest = depth + 1;
    if (deepest > stopAfter) return deepest;
    if (next->is_object()) {
      for (const auto& member : next->template get_ref<const Json::object_t&>()) pending.push_back({&member.second, depth + 1});
    } else {
      for (const auto& element : next->template get_ref<const Json::array_t&>()) pending.push_back({&element, depth + 1});
    }
  }
  return deepest;
}

}  // namespace plexus
