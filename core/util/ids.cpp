#include "util/ids.hpp"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "util/time.hpp"

namespace plexus::core {

std::string randomId(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  std::size_t filled = 0;
  while (filled < bytes) {
    ssize_t n = getrandom(raw.data() + filled, bytes - filled, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("getrandom failed: ") + std::strerror(errno));
    }
    filled += static_cast<std::size_t>(n);
  }
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes * 4 + 2) / 3);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char byte : raw) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(buffer >> bits) & 0x3F]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (6 - bits)) & 0x3F]);
  return out;
}

std::string timeOrderedId() {
  // base64url's characters, sorted by ASCII code, so text order is time order.
  static const char kSorted[] = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
  constexpr int kTimeChars = 8;  // 48 bits
  // Offset by 64^7 so the first character is '0' (until 2109), not '-': an
  // id that starts with '-' reads as an option to many command-line tools.
  constexpr std::uint64_t kOffset = std::uint64_t{1} << 42;
  auto ms = static_cast<std::uint64_t>(std::max<std::int64_t>(0, nowMs().time_since_epoch().count())) + kOffset;
  std::string out(kTimeChars, '-');
  for (int i = kTimeChars - 1; i >= 0; --i, ms >>= 6) out[static_cast<std::size_t>(i)] = kSorted[ms & 0x3F];
  return out + randomId(12);
}

}  // namespace plexus::core
