// The "zero page" (struct boot_params) the 64-bit Linux boot protocol passes
// in RSI: the image's setup header plus what the loader decided.
#pragma once

#include <asm/bootparam.h>

#include <cstdint>
#include <span>

#include "core/boot/bzimage.h"
#include "core/boot/e820.h"
#include "ipc/result.h"

namespace bulkhead::boot {

static_assert(sizeof(boot_params) == 4096);
static_assert(offsetof(boot_params, hdr) == kSetupHeaderOffset);

struct ZeroPageInputs {
  uint64_t cmdline_addr = 0;
  uint64_t initrd_addr = 0;  // 0 with initrd_size 0: no initrd
  uint64_t initrd_size = 0;
  uint64_t rsdp_addr = 0;
  std::span<const E820Entry> e820 = {};
};

// Builds boot_params: the image's setup header copied verbatim (only as many
// bytes as the image has), then the loader-owned fields set.
[[nodiscard]] Result<boot_params> BuildZeroPage(const BzImage& image, const ZeroPageInputs& in);

}  // namespace bulkhead::boot
