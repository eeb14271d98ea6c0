// Builds a PCI function's capability list in its configuration space: each
// capability is its bytes plus a write mask (what the guest may change), and
// the list is chained from the capability pointer at 0x34. Offsets of the
// capabilities the core must watch (MSI, MSI-X) are returned to the caller.
#pragma once

#include <cstdint>
#include <vector>

#include "core/pci/config_space.h"
#include "ipc/result.h"

namespace bulkhead {

class CapabilityList {
 public:
  explicit CapabilityList(PciConfigSpace& config) : config_(config) {}

  // Appends a capability whose first byte is its ID (the next pointer at +1
  // is filled in here). Returns its offset in config space.
  [[nodiscard]] Result<uint8_t> Add(std::vector<uint8_t> bytes, std::vector<uint8_t> write_mask);

  // MSI-X: `vectors` entries, table and PBA in BAR `bar` at the offsets.
  [[nodiscard]] Result<uint8_t> AddMsix(uint16_t vectors, int bar, uint32_t table_offset,
                                        uint32_t pba_offset);
  // MSI: one vector, 64-bit address, no per-vector masking.
  [[nodiscard]] Result<uint8_t> AddMsi();

 private:
  PciConfigSpace& config_;
  uint8_t next_ = 0x40;  // first byte after the standard header
  uint8_t last_ = 0;     // offset of the last capability, 0 = none yet
};

// Register offsets inside the capabilities above.
inline constexpr uint8_t kMsixControl = 2;  // u16: bit 15 enable, bit 14 function mask
inline constexpr uint16_t kMsixEnable = 1u << 15;
inline constexpr uint16_t kMsixFunctionMask = 1u << 14;
inline constexpr uint8_t kMsiControl = 2;   // u16: bit 0 enable
inline constexpr uint8_t kMsiAddressLo = 4;
inline constexpr uint8_t kMsiAddressHi = 8;
inline constexpr uint8_t kMsiData = 12;
inline constexpr uint8_t kMsiCapabilitySize = 16;

}  // namespace bulkhead
