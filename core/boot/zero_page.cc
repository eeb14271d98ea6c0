#include "core/boot/zero_page.h"

#include <cstring>

namespace bulkhead::boot {

Result<boot_params> BuildZeroPage(const BzImage& image, const ZeroPageInputs& in) {
  if (in.e820.size() > E820_MAX_ENTRIES_ZEROPAGE) {
    return MakeError("{} e820 entries do not fit the zero page (max {})", in.e820.size(),
                     E820_MAX_ENTRIES_ZEROPAGE);
  }
  if (in.cmdline_addr > UINT32_MAX) {
    return MakeError("command line address {:#x} is above 4 GiB", in.cmdline_addr);
  }
  boot_params bp;
  std::memset(&bp, 0, sizeof(bp));
  // boot.rst: copy the header the image has into a clean boot_params; the
  // bytes past it stay zero so that the kernel ignores fields it defines but
  // the image's protocol version predates.
  std::memcpy(&bp.hdr, &image.header, image.header_len);

  setup_header& h = bp.hdr;
  h.type_of_loader = kTypeOfLoaderUndefined;
  // No real-mode setup code runs (we enter at the 64-bit entry), but a heap
  // end is cheap to declare and keeps the protocol's invariants.
  h.loadflags = static_cast<__u8>((h.loadflags | CAN_USE_HEAP) & ~(QUIET_FLAG | KEEP_SEGMENTS));
  h.heap_end_ptr = 0xFE00 - 0x200;
  h.vid_mode = 0xFFFF;  // "normal"
  h.cmd_line_ptr = static_cast<__u32>(in.cmdline_addr);
  h.ramdisk_image = static_cast<__u32>(in.initrd_addr);
  h.ramdisk_size = static_cast<__u32>(in.initrd_size);
  bp.ext_ramdisk_image = static_cast<__u32>(in.initrd_addr >> 32);
  bp.ext_ramdisk_size = static_cast<__u32>(in.initrd_size >> 32);
  bp.ext_cmd_line_ptr = 0;
  bp.acpi_rsdp_addr = in.rsdp_addr;

  bp.e820_entries = static_cast<__u8>(in.e820.size());
  for (size_t i = 0; i < in.e820.size(); ++i) {
    bp.e820_table[i].addr = in.e820[i].addr;
    bp.e820_table[i].size = in.e820[i].size;
    bp.e820_table[i].type = static_cast<__u32>(in.e820[i].type);
  }
  return bp;
}

}  // namespace bulkhead::boot
