// PciConfigSpace: the 256-byte type-0 configuration header of one PCI
// function, held in the core (DESIGN.md: config space decides routing, BAR
// placement and ioeventfd registration, which only the VM owner can do).
//
// Writes go through a per-byte write mask, so a guest can change only what a
// real device lets it change; BAR sizing (write all-ones, read back the size
// mask) falls out of the mask. Write() returns what changed, crosvm-style, so
// the owner can move BARs or reprogram interrupts.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

namespace bulkhead {

struct PciBar {
  uint64_t size = 0;  // power of two >= 16 (MMIO) or >= 4 (I/O); 0 = unused
  bool io = false;
  bool is64 = false;        // MMIO only: takes this BAR and the next
  bool prefetchable = false;
};

struct PciIds {
  uint16_t vendor = 0;
  uint16_t device = 0;
  uint16_t subsystem_vendor = 0;
  uint16_t subsystem = 0;
  uint8_t revision = 0;
  uint32_t class_code = 0;  // class << 16 | subclass << 8 | prog-if
  uint8_t interrupt_pin = 0;  // 0 none, 1..4 = INTA..INTD
};

struct ConfigWriteResult {
  std::optional<int> bar_changed;  // index of a BAR whose address changed
  bool command_changed = false;    // memory/io decode or INTx disable toggled
};

class PciConfigSpace {
 public:
  static constexpr size_t kSize = 256;
  static constexpr int kNumBars = 6;

  PciConfigSpace(const PciIds& ids, std::span<const PciBar> bars);

  // Aligned accesses of 1, 2 or 4 bytes within the 256 bytes; anything else
  // reads all-ones / is dropped (the caller counts it).
  [[nodiscard]] uint32_t Read(uint32_t offset, uint32_t size) const;
  ConfigWriteResult Write(uint32_t offset, uint32_t size, uint32_t value);

  // Current guest-programmed address of a BAR (64-bit BARs combined).
  [[nodiscard]] uint64_t BarAddress(int bar) const;
  [[nodiscard]] const PciBar& bar(int i) const { return bars_[static_cast<size_t>(i)]; }
  [[nodiscard]] bool memory_enabled() const { return (Read(0x04, 2) & 0x2) != 0; }
  [[nodiscard]] bool io_enabled() const { return (Read(0x04, 2) & 0x1) != 0; }

  // For capabilities the owner adds: sets bytes and their write mask.
  void Set(uint32_t offset, std::span<const uint8_t> bytes, std::span<const uint8_t> write_mask);

 private:
  std::array<uint8_t, kSize> data_{};
  std::array<uint8_t, kSize> wmask_{};
  std::array<PciBar, kNumBars> bars_{};
};

}  // namespace bulkhead
