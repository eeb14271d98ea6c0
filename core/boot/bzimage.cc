#include "core/boot/bzimage.h"

#include <algorithm>
#include <cstring>

#include "core/boot/layout.h"

namespace bulkhead::boot {
namespace {

// Offsets inside the image (boot.rst, "THE REAL-MODE KERNEL HEADER").
constexpr uint64_t kBootFlagOffset = 0x1FE;
constexpr uint64_t kJumpOffset = 0x200;  // 2-byte short jump; its 2nd byte ends the header
constexpr uint64_t kHeaderMagicOffset = 0x202;
constexpr uint64_t kMinImageSize = 0x264;  // through init_size (protocol 2.10)

template <class T>
T Load(std::span<const uint8_t> b, uint64_t off) {
  T v;
  std::memcpy(&v, b.data() + off, sizeof(T));
  return v;
}

}  // namespace

Result<BzImage> ParseBzImage(std::span<const uint8_t> image) {
  if (image.size() < kMinImageSize) {
    return MakeError("kernel image is {} bytes, too small to hold a bzImage setup header",
                     image.size());
  }
  if (Load<uint16_t>(image, kBootFlagOffset) != kBootFlagMagic) {
    return MakeError("kernel image has no 0xAA55 boot flag at 0x1FE: not a bzImage");
  }
  if (Load<uint32_t>(image, kHeaderMagicOffset) != kHdrSMagic) {
    return MakeError("kernel image has no \"HdrS\" magic at 0x202: not a bzImage");
  }
  BzImage bz;
  // The header runs to 0x202 + the jump's displacement byte; copy no more
  // than this loader knows, no less than the image has.
  const uint64_t header_end = kHeaderMagicOffset + image[kJumpOffset + 1];
  bz.header_len = static_cast<uint32_t>(
      std::min<uint64_t>(header_end - kSetupHeaderOffset, sizeof(setup_header)));
  if (header_end > image.size()) {
    return MakeError("kernel image is truncated inside its setup header");
  }
  std::memcpy(&bz.header, image.data() + kSetupHeaderOffset, bz.header_len);
  const setup_header& h = bz.header;

  if (h.version < kMinBootProtocol) {
    return MakeError("kernel boot protocol {}.{:02} is too old: 64-bit boot needs 2.12 or later",
                     h.version >> 8, h.version & 0xFF);
  }
  if (bz.header_len < offsetof(setup_header, init_size) + sizeof(h.init_size)) {
    return MakeError("kernel setup header is {} bytes, too short for protocol {:#x}", bz.header_len,
                     h.version);
  }
  if (!(h.xloadflags & XLF_KERNEL_64)) {
    return MakeError("kernel has no 64-bit entry point (XLF_KERNEL_64 not set)");
  }
  if (!(h.loadflags & LOADED_HIGH)) {
    return MakeError("kernel is a zImage (not LOADED_HIGH); only bzImage is supported");
  }
  const uint64_t setup_sects = h.setup_sects == 0 ? 4 : h.setup_sects;
  bz.setup_size = (setup_sects + 1) * 512;
  if (bz.setup_size >= image.size()) {
    return MakeError("kernel image is truncated: {} bytes, setup alone is {}", image.size(),
                     bz.setup_size);
  }
  bz.payload = image.subspan(bz.setup_size);
  if (uint64_t{h.syssize} * 16 > bz.payload.size()) {
    return MakeError("kernel image is truncated: header says {} bytes of kernel, file has {}",
                     uint64_t{h.syssize} * 16, bz.payload.size());
  }
  if (h.relocatable_kernel &&
      (h.kernel_alignment == 0 || (h.kernel_alignment & (h.kernel_alignment - 1)) != 0)) {
    return MakeError("kernel alignment {:#x} is not a power of two", h.kernel_alignment);
  }
  return bz;
}

Result<KernelPlacement> PlaceBzImage(const BzImage& image, uint64_t low_ram_end) {
  const setup_header& h = image.header;
  KernelPlacement p;
  // 1 MiB is where every bzImage may be loaded (code32_start's default); a
  // relocatable kernel moves itself to its aligned preferred address when it
  // decompresses, a non-relocatable one decompresses at pref_address anyway.
  p.load_addr = kKernelLoadAddr;
  p.entry = p.load_addr + kLongModeEntryOffset;
  uint64_t run_addr = p.load_addr;
  if (h.relocatable_kernel) {
    const uint64_t a = h.kernel_alignment;
    run_addr = (run_addr + a - 1) & ~(a - 1);
  }
  run_addr = std::max<uint64_t>(run_addr, h.pref_address);
  const uint64_t init_size = std::max<uint64_t>(h.init_size, image.payload.size());
  p.end = std::max(p.load_addr + image.payload.size(), run_addr + init_size);
  if (p.end > low_ram_end) {
    return MakeError("kernel needs {} MiB of low RAM to boot but the guest has {} MiB",
                     (p.end + MiB - 1) / MiB, low_ram_end / MiB);
  }
  return p;
}

}  // namespace bulkhead::boot
