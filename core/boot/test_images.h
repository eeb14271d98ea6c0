// Synthetic kernel images for the boot tests: a minimal bzImage whose setup
// header the test controls field by field, and a minimal ELF64 vmlinux with
// a PVH entry note.
#pragma once

#include <asm/bootparam.h>
#include <elf.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "core/boot/layout.h"

namespace bulkhead::boot::testing {

struct BzImageSpec {
  uint8_t setup_sects = 4;
  uint16_t version = 0x020F;
  uint8_t loadflags = LOADED_HIGH;
  uint16_t xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G;
  uint8_t relocatable = 1;
  uint32_t kernel_alignment = 2 * MiB;
  uint64_t pref_address = 16 * MiB;
  uint32_t init_size = 8 * MiB;
  uint32_t initrd_addr_max = 0x7FFF'FFFF;
  uint32_t cmdline_size = 2047;
  size_t payload_size = 64 * KiB;
  uint8_t header_end_jump = 0x6A;  // header ends at 0x202 + 0x6A = 0x26C (protocol 2.15)
};

inline std::vector<uint8_t> MakeBzImage(const BzImageSpec& s = {}) {
  const size_t setup = (size_t{s.setup_sects == 0 ? 4u : s.setup_sects} + 1) * 512;
  std::vector<uint8_t> img(setup + s.payload_size, 0);
  setup_header h{};
  h.setup_sects = s.setup_sects;
  h.syssize = static_cast<uint32_t>((s.payload_size + 15) / 16);
  h.boot_flag = 0xAA55;
  h.jump = static_cast<uint16_t>(0xEB | (s.header_end_jump << 8));
  h.header = 0x53726448;
  h.version = s.version;
  h.loadflags = s.loadflags;
  h.code32_start = 0x100000;
  h.initrd_addr_max = s.initrd_addr_max;
  h.kernel_alignment = s.kernel_alignment;
  h.relocatable_kernel = s.relocatable;
  h.xloadflags = s.xloadflags;
  h.cmdline_size = s.cmdline_size;
  h.pref_address = s.pref_address;
  h.init_size = s.init_size;
  std::memcpy(img.data() + 0x1F1, &h, sizeof(h));
  // Recognisable payload: byte i of the protected-mode kernel is i * 7 + 1.
  for (size_t i = 0; i < s.payload_size; ++i) img[setup + i] = static_cast<uint8_t>(i * 7 + 1);
  return img;
}

struct ElfSegment {
  uint64_t paddr;
  std::vector<uint8_t> data;
  uint64_t memsz;  // >= data.size(); the rest is bss
};

// An ELF64 x86-64 executable with the given PT_LOAD segments and, unless
// `entry` is 0, a PT_NOTE holding the Xen PHYS32_ENTRY note with a
// `desc_size`-byte value.
inline std::vector<uint8_t> MakePvhElf(const std::vector<ElfSegment>& segs, uint64_t entry,
                                       uint32_t desc_size = 8) {
  const size_t nphdr = segs.size() + (entry ? 1 : 0);
  std::vector<uint8_t> out(sizeof(Elf64_Ehdr) + nphdr * sizeof(Elf64_Phdr), 0);
  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = ET_EXEC;
  eh.e_machine = EM_X86_64;
  eh.e_version = EV_CURRENT;
  eh.e_entry = 0xFFFFFFFF81000000ull;
  eh.e_phoff = sizeof(Elf64_Ehdr);
  eh.e_ehsize = sizeof(Elf64_Ehdr);
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_phnum = static_cast<uint16_t>(nphdr);
  std::memcpy(out.data(), &eh, sizeof(eh));
  size_t ph_off = sizeof(Elf64_Ehdr);
  auto add_phdr = [&](const Elf64_Phdr& ph) {
    std::memcpy(out.data() + ph_off, &ph, sizeof(ph));
    ph_off += sizeof(ph);
  };
  for (const auto& s : segs) {
    Elf64_Phdr ph{};
    ph.p_type = PT_LOAD;
    ph.p_offset = out.size();
    ph.p_paddr = s.paddr;
    ph.p_vaddr = 0xFFFFFFFF80000000ull + s.paddr;
    ph.p_filesz = s.data.size();
    ph.p_memsz = s.memsz;
    ph.p_flags = PF_R | PF_X;
    ph.p_align = 0x1000;
    add_phdr(ph);
    out.insert(out.end(), s.data.begin(), s.data.end());
  }
  if (entry) {
    while (out.size() % 4) out.push_back(0);  // notes are 4-byte aligned
    Elf64_Phdr ph{};
    ph.p_type = PT_NOTE;
    ph.p_offset = out.size();
    // An unrelated note first, so that the scan has to step over it.
    const uint32_t other[3] = {4, 4, 1};
    out.insert(out.end(), reinterpret_cast<const uint8_t*>(other),
               reinterpret_cast<const uint8_t*>(other) + 12);
    out.insert(out.end(), {'G', 'N', 'U', 0, 1, 2, 3, 4});
    const uint32_t nh[3] = {4, desc_size, 18};
    out.insert(out.end(), reinterpret_cast<const uint8_t*>(nh),
               reinterpret_cast<const uint8_t*>(nh) + 12);
    out.insert(out.end(), {'X', 'e', 'n', 0});
    for (uint32_t i = 0; i < desc_size; ++i) out.push_back(static_cast<uint8_t>(entry >> (8 * i)));
    while (out.size() % 4) out.push_back(0);
    ph.p_filesz = out.size() - ph.p_offset;
    ph.p_align = 4;
    add_phdr(ph);
  }
  return out;
}

}  // namespace bulkhead::boot::testing
