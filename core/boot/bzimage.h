// Parsing of a Linux bzImage (Documentation/x86/boot.rst). Only images that
// support the 64-bit boot protocol are accepted: protocol 2.12 or later with
// XLF_KERNEL_64, entered in long mode at load address + 0x200.
#pragma once

#include <asm/bootparam.h>

#include <cstdint>
#include <span>

#include "ipc/result.h"

namespace bulkhead::boot {

inline constexpr uint64_t kSetupHeaderOffset = 0x1F1;
inline constexpr uint16_t kMinBootProtocol = 0x020C;  // 2.12: xloadflags
inline constexpr uint32_t kHdrSMagic = 0x53726448;    // "HdrS"
inline constexpr uint16_t kBootFlagMagic = 0xAA55;
inline constexpr uint64_t kLongModeEntryOffset = 0x200;
inline constexpr uint8_t kTypeOfLoaderUndefined = 0xFF;

struct BzImage {
  setup_header header{};             // as found in the image, zero beyond its length
  uint32_t header_len = 0;           // bytes of the header the image actually has
  uint64_t setup_size = 0;           // real-mode part: (setup_sects + 1) * 512
  std::span<const uint8_t> payload;  // protected-mode kernel, copied to the load address
};

// Validates `image` and locates its parts. `payload` points into `image`.
[[nodiscard]] Result<BzImage> ParseBzImage(std::span<const uint8_t> image);

// Where the kernel sits in guest RAM while it boots: [load_addr, end) holds
// the payload and the buffer it decompresses into (init_size bytes at the
// aligned load address or pref_address, whichever is higher).
struct KernelPlacement {
  uint64_t load_addr = 0;
  uint64_t entry = 0;
  uint64_t end = 0;  // exclusive
};

// Decides the placement for a guest with `low_ram_end` bytes of low RAM and
// fails when the kernel would not fit.
[[nodiscard]] Result<KernelPlacement> PlaceBzImage(const BzImage& image, uint64_t low_ram_end);

}  // namespace bulkhead::boot
