// How `bulkhead ctl` prints what the API returns: key: value lines for the
// VM's status, an aligned table for its devices, or one JSON object each
// with --json. Pure functions, so the formats are unit-tested.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/vm_control.h"

namespace bulkhead::ctl {

[[nodiscard]] std::string StatusText(const VmStatus& status);
[[nodiscard]] std::string StatusJson(const VmStatus& status);
[[nodiscard]] std::string DevicesText(const std::vector<DeviceInfo>& devices);
[[nodiscard]] std::string DevicesJson(const std::vector<DeviceInfo>& devices);

// Text from the VM made safe for one table cell or line: control characters
// are shown escaped (\n, \x1b), so a hostile string cannot move the cursor
// or break the table.
[[nodiscard]] std::string Printable(std::string_view text);

}  // namespace bulkhead::ctl
