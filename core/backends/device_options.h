// The user's device options, parsed: `--net tap=NAME[,mac=MAC]`,
// `--disk path=FILE[,readonly]`, `--cdrom path=ISO`. Parsing only — the files
// and the tap are opened by OpenTap/OpenDiskImage when the VM is built, so a
// typo fails before anything exists.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "ipc/result.h"

namespace bulkhead {

using MacAddress = std::array<uint8_t, 6>;

// 52:54:00 is the locally administered prefix QEMU and KVM tools use.
inline constexpr MacAddress kDefaultMac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

struct NetOptions {
  std::string tap;  // interface name
  MacAddress mac = kDefaultMac;
};

struct DiskOptions {
  std::string path;
  bool readonly = false;
};

// "52:54:00:12:34:56" (hex pairs, ':' or '-'); multicast addresses are refused.
[[nodiscard]] Result<MacAddress> ParseMac(std::string_view text);
[[nodiscard]] Result<NetOptions> ParseNetOptions(std::string_view text);
// `cdrom` accepts only path= (a CD-ROM is always read-only).
[[nodiscard]] Result<DiskOptions> ParseDiskOptions(std::string_view text, bool cdrom);

}  // namespace bulkhead
