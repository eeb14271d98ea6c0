#include "core/size_parser.h"

#include <charconv>

namespace bulkhead {

Result<uint64_t> ParseSize(std::string_view text) {
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || p == text.data()) return MakeError("'{}' is not a size (e.g. 512M, 2G)", text);
  uint64_t unit = 1ull << 20;
  if (p != end) {
    if (end - p != 1) return MakeError("'{}' is not a size (e.g. 512M, 2G)", text);
    switch (*p) {
      case 'K': case 'k': unit = 1ull << 10; break;
      case 'M': case 'm': unit = 1ull << 20; break;
      case 'G': case 'g': unit = 1ull << 30; break;
      case 'T': case 't': unit = 1ull << 40; break;
      default: return MakeError("'{}': unknown unit '{}' (K, M, G or T)", text, *p);
    }
  }
  if (value == 0) return MakeError("'{}' is zero", text);
  if (value > UINT64_MAX / unit) return MakeError("'{}' is too large", text);
  return value * unit;
}

}  // namespace bulkhead
