// Sizes on the command line: "512M", "2G", "1048576K"; a bare number means
// MiB, as in QEMU's -m.
#pragma once

#include <cstdint>
#include <string_view>

#include "ipc/result.h"

namespace bulkhead {

[[nodiscard]] Result<uint64_t> ParseSize(std::string_view text);

}  // namespace bulkhead
