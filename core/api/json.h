// Just enough JSON output for `bulkhead ctl --json`: quoted strings and
// numbers. Strings from the VM (device names, exit reasons) may hold any
// byte; the result is always valid JSON: control characters are escaped and
// bytes that are not UTF-8 become U+FFFD.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace bulkhead::json {

// "text" with quotes, escaped.
[[nodiscard]] std::string Quote(std::string_view text);
// Shortest round-trip form; NaN and infinities (not JSON) become null.
[[nodiscard]] std::string Number(double value);

}  // namespace bulkhead::json
