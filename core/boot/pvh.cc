#include "core/boot/pvh.h"

#include <elf.h>

#include <cstring>

#include "core/boot/layout.h"

namespace bulkhead::boot {
namespace {

template <class T>
bool LoadAt(std::span<const uint8_t> b, uint64_t off, T* out) {
  if (off > b.size() || sizeof(T) > b.size() - off) return false;
  std::memcpy(out, b.data() + off, sizeof(T));
  return true;
}

uint64_t Align4(uint64_t v) { return (v + 3) & ~uint64_t{3}; }

// Scans one PT_NOTE segment's bytes for the PVH entry note. Returns 0 when
// absent; sets *error on a malformed note.
Result<uint64_t> FindPvhEntry(std::span<const uint8_t> notes) {
  uint64_t off = 0;
  while (off + sizeof(Elf64_Nhdr) <= notes.size()) {
    Elf64_Nhdr nh;
    std::memcpy(&nh, notes.data() + off, sizeof(nh));
    const uint64_t name_off = off + sizeof(nh);
    const uint64_t desc_off = name_off + Align4(nh.n_namesz);
    const uint64_t next = desc_off + Align4(nh.n_descsz);
    if (next > notes.size()) return MakeError("ELF kernel has a truncated note");
    if (nh.n_namesz == 4 && std::memcmp(notes.data() + name_off, "Xen", 4) == 0 &&
        nh.n_type == kXenElfNotePhys32Entry) {
      // Linux emits the address as _ASM_PTR: 8 bytes on x86-64, 4 on i386.
      if (nh.n_descsz == 4) {
        uint32_t v;
        std::memcpy(&v, notes.data() + desc_off, 4);
        return v;
      }
      if (nh.n_descsz == 8) {
        uint64_t v;
        std::memcpy(&v, notes.data() + desc_off, 8);
        return v;
      }
      return MakeError("ELF kernel's PVH entry note has a {}-byte value", nh.n_descsz);
    }
    off = next;
  }
  return 0;
}

}  // namespace

bool IsElf(std::span<const uint8_t> image) {
  return image.size() >= SELFMAG && std::memcmp(image.data(), ELFMAG, SELFMAG) == 0;
}

Result<PvhKernel> LoadPvhElf(const RamView& ram, std::span<const uint8_t> elf) {
  Elf64_Ehdr eh;
  if (!IsElf(elf) || !LoadAt(elf, 0, &eh)) return MakeError("kernel is not an ELF file");
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
      eh.e_machine != EM_X86_64) {
    return MakeError("ELF kernel is not a little-endian x86-64 ELF64 image");
  }
  if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0) {
    return MakeError("ELF kernel has no usable program headers");
  }
  // Pass 1: validate every header and find the entry note before touching RAM.
  uint64_t entry = 0;
  for (uint16_t i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    if (!LoadAt(elf, eh.e_phoff + uint64_t{i} * sizeof(ph), &ph)) {
      return MakeError("ELF kernel is truncated in its program headers");
    }
    if (ph.p_type != PT_LOAD && ph.p_type != PT_NOTE) continue;
    if (ph.p_offset > elf.size() || ph.p_filesz > elf.size() - ph.p_offset) {
      return MakeError("ELF kernel is truncated: segment {} ends past the file", i);
    }
    if (ph.p_type == PT_NOTE) {
      auto e = FindPvhEntry(elf.subspan(ph.p_offset, ph.p_filesz));
      if (!e) return tl::unexpected(e.error());
      if (*e != 0) entry = *e;
      continue;
    }
    if (ph.p_memsz < ph.p_filesz) {
      return MakeError("ELF kernel segment {} has memsz < filesz", i);
    }
    if (ph.p_paddr < kHighMemoryStart || !ram.Contains(ph.p_paddr, ph.p_memsz)) {
      return MakeError("ELF kernel segment {} [{:#x}, +{:#x}) is outside guest RAM above 1 MiB", i,
                       ph.p_paddr, ph.p_memsz);
    }
  }
  if (entry == 0) {
    return MakeError("ELF kernel has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY; CONFIG_PVH)");
  }
  if (entry > UINT32_MAX) return MakeError("ELF kernel's PVH entry {:#x} is above 4 GiB", entry);

  // Pass 2: copy. Headers were all checked above.
  PvhKernel k;
  k.entry = static_cast<uint32_t>(entry);
  for (uint16_t i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    (void)LoadAt(elf, eh.e_phoff + uint64_t{i} * sizeof(ph), &ph);
    if (ph.p_type != PT_LOAD) continue;
    if (auto s = ram.Write(ph.p_paddr, elf.subspan(ph.p_offset, ph.p_filesz)); !s) {
      return tl::unexpected(s.error());
    }
    if (auto s = ram.Fill(ph.p_paddr + ph.p_filesz, ph.p_memsz - ph.p_filesz, 0); !s) {
      return tl::unexpected(s.error());
    }
    k.end = std::max(k.end, ph.p_paddr + ph.p_memsz);
  }
  if (k.end == 0) return MakeError("ELF kernel has no PT_LOAD segment");
  return k;
}

Result<uint64_t> WritePvhStartInfo(const RamView& ram, const PvhStartInputs& in) {
  if (in.memmap.size() > kPvhMemmapMaxEntries) {
    return MakeError("{} memory map entries do not fit the PVH start area", in.memmap.size());
  }
  HvmStartInfo si{};
  si.magic = kHvmStartMagic;
  si.version = 1;
  si.cmdline_paddr = in.cmdline_addr;
  si.rsdp_paddr = in.rsdp_addr;
  si.memmap_paddr = kPvhMemmapAddr;
  si.memmap_entries = static_cast<uint32_t>(in.memmap.size());
  if (in.initrd_size != 0) {
    HvmModlistEntry mod{};
    mod.paddr = in.initrd_addr;
    mod.size = in.initrd_size;
    if (auto s = ram.WriteObj(kPvhModlistAddr, mod); !s) return tl::unexpected(s.error());
    si.nr_modules = 1;
    si.modlist_paddr = kPvhModlistAddr;
  }
  for (size_t i = 0; i < in.memmap.size(); ++i) {
    HvmMemmapEntry e{};
    e.addr = in.memmap[i].addr;
    e.size = in.memmap[i].size;
    e.type = static_cast<uint32_t>(in.memmap[i].type);
    if (auto s = ram.WriteObj(kPvhMemmapAddr + i * sizeof(e), e); !s) {
      return tl::unexpected(s.error());
    }
  }
  if (auto s = ram.WriteObj(kPvhStartInfoAddr, si); !s) return tl::unexpected(s.error());
  return kPvhStartInfoAddr;
}

}  // namespace bulkhead::boot
