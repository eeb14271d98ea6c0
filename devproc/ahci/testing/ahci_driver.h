// A driver-side model of Linux's libahci/libata for the AHCI tests: it owns
// guest RAM (a buffer), the disk and CD-ROM images (temp files) and an
// AhciController, and drives the controller through its registers exactly
// as ahci.c/libahci.c do: enable AHCI, per port stop the engine, program
// PxCLB/PxFB, FRE, hard reset through PxSCTL, classify by PxSIG, enable
// interrupts, start; then build command headers, tables and PRDTs in guest
// memory and issue them through PxSACT/PxCI.
//
// Commands run when the test says so (RunQueued), in the order it chooses:
// that is how NCQ completion out of order is exercised without threads.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "devproc/ahci/ahci_regs.h"
#include "devproc/ahci/fis.h"
#include "devproc/ahci/hba.h"

namespace bulkhead::ahci::testing {

inline constexpr uint64_t kRamSize = 64ull << 20;
inline constexpr uint64_t kDataBase = 0x400000;  // data buffers from here up

struct Prd {
  uint64_t gpa;
  uint32_t bytes;
  bool interrupt = false;
};

class CountingIrq final : public InterruptSink {
 public:
  void Raise() override { ++raised; }
  int raised = 0;
};

struct HarnessOptions {
  uint64_t disk_bytes = 8 << 20;
  bool disk = true;
  bool disk_read_only = false;
  bool cdrom = true;
  uint64_t iso_bytes = 2048 * 300;
  bool sparse_disk = false;  // disk as a hole-y file (TRIM tests)
};

class AhciHarness {
 public:
  explicit AhciHarness(HarnessOptions options = {});
  ~AhciHarness();

  // libahci's probe: HBA init, then per implemented port init, hard reset
  // and start. Returns false (with gtest failures) if something is off.
  bool Init();
  void InitPort(uint32_t port);
  void HardReset(uint32_t port);
  void StopPort(uint32_t port);
  void StartPort(uint32_t port);

  uint32_t Reg(uint32_t offset) { return hba->Read(offset, 4); }
  void SetReg(uint32_t offset, uint32_t value) { hba->Write(offset, 4, value); }
  uint32_t PortReg(uint32_t port, uint32_t reg) { return Reg(kPortBase + port * kPortStride + reg); }
  void SetPortReg(uint32_t port, uint32_t reg, uint32_t value) {
    SetReg(kPortBase + port * kPortStride + reg, value);
  }

  // Builds slot `slot`'s command header and table and issues it (PxSACT
  // first for NCQ). `acmd` non-empty marks an ATAPI command.
  void Issue(uint32_t port, uint32_t slot, const H2dFis& fis, const std::vector<Prd>& prdt,
             bool write = false, const std::vector<uint8_t>& acmd = {});
  // Runs every queued command; `reverse` runs them last-issued first.
  size_t RunQueued(bool reverse = false);

  // One non-NCQ command on `port` (slot 0), run to completion. Returns PxTFD.
  uint32_t Command(uint32_t port, const H2dFis& fis, const std::vector<Prd>& prdt,
                   bool write = false, const std::vector<uint8_t>& acmd = {});
  // An ATAPI PACKET with `cdb`, reading up to `bytes` into a fresh buffer
  // (DMA). Returns PxTFD; the data in `out`.
  uint32_t Packet(const std::vector<uint8_t>& cdb, uint32_t bytes, std::vector<uint8_t>* out,
                  bool dma = true);

  std::vector<uint8_t> GuestBytes(uint64_t gpa, size_t n) const;
  void PutGuestBytes(uint64_t gpa, const std::vector<uint8_t>& bytes);
  uint64_t FisArea(uint32_t port) const { return 0x2000 + port * 0x100; }
  uint64_t CommandTable(uint32_t port, uint32_t slot) const {
    return 0x10000 + (port * 32 + slot) * 0x1000;
  }
  uint64_t ClbAddr(uint32_t port) const { return 0x1000 + port * 0x400; }
  uint32_t Prdbc(uint32_t port, uint32_t slot) const;

  std::vector<uint8_t> ram;
  GuestMemory mem;
  std::string disk_path, iso_path;
  BlockBackend disk_backend, iso_backend;
  std::unique_ptr<AhciStateRegion> region;
  CountingIrq irq;
  std::unique_ptr<AhciController> hba;
  uint32_t flags = 0;
};

// H2D FIS builders as libata's ata_tf_to_fis would produce them.
H2dFis AtaCommand(uint8_t command, uint64_t lba = 0, uint16_t count = 0, uint16_t features = 0);
H2dFis NcqCommand(bool write, uint32_t tag, uint64_t lba, uint16_t sectors);

}  // namespace bulkhead::ahci::testing
