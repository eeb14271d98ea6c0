// Generic host control (AHCI §3.1), the interrupt line, the work queue and
// recovery after a restart. Port registers are in port.cc.
#include <bit>

#include <spdlog/spdlog.h>

#include "devproc/ahci/hba.h"

namespace bulkhead::ahci {
namespace {

constexpr uint32_t kNumPorts = abi::ahci::kNumPorts;
constexpr uint32_t kPortsEnd = kPortBase + kNumPorts * kPortStride;

// 64-bit addressing, NCQ, SNotification, command list override, Gen2,
// AHCI-only, 32 command slots, no staggered spin-up.
constexpr uint32_t kCapValue = kCapS64a | kCapSncq | kCapSsntf | kCapSclo | kCapIssGen2 |
                               kCapSam | (31u << kCapNcsShift) | (kNumPorts - 1);

}  // namespace

AhciController::AhciController(AhciStateRegion& region, const GuestMemory& mem, DiskDevice disk,
                               CdromDevice cdrom, uint32_t config_flags, InterruptSink& irq)
    : r_(region),
      mem_(mem),
      disk_(std::move(disk)),
      cdrom_(std::move(cdrom)),
      config_flags_(config_flags),
      irq_(irq) {}

uint32_t AhciController::Read(uint64_t offset, uint8_t size) {
  std::lock_guard lock(mu_);
  if (size != 4 || offset % 4 != 0 || offset >= abi::ahci::kAbarSize) {
    ++stats_.bad_accesses;
    return 0;
  }
  return ReadLocked(static_cast<uint32_t>(offset));
}

void AhciController::Write(uint64_t offset, uint8_t size, uint64_t value) {
  std::lock_guard lock(mu_);
  if (size != 4 || offset % 4 != 0 || offset >= abi::ahci::kAbarSize) {
    ++stats_.bad_accesses;
    return;
  }
  WriteLocked(static_cast<uint32_t>(offset), static_cast<uint32_t>(value));
}

bool AhciController::WriteOnce(uint32_t ring, uint64_t seq, uint64_t offset, uint8_t size,
                               uint64_t value) {
  std::lock_guard lock(mu_);
  RingRecord* rec = ring < kMaxRings ? &r_.rings[ring] : nullptr;
  if (rec != nullptr && rec->applied_id == seq + 1) {
    ++stats_.replayed_writes;
    return false;
  }
  if (size != 4 || offset % 4 != 0 || offset >= abi::ahci::kAbarSize) {
    ++stats_.bad_accesses;
  } else {
    WriteLocked(static_cast<uint32_t>(offset), static_cast<uint32_t>(value));
  }
  // Last, in the same critical section: see ahci_state.h.
  if (rec != nullptr) rec->applied_id = seq + 1;
  return true;
}

uint32_t AhciController::ReadLocked(uint32_t offset) {
  if (offset >= kPortBase) {
    if (offset >= kPortsEnd) return 0;  // ports not implemented (PI): reserved, reads 0
    return ReadPort((offset - kPortBase) / kPortStride, (offset - kPortBase) % kPortStride);
  }
  switch (offset) {
    case kCap: return kCapValue;
    case kGhc: return r_.ghc | kGhcAe;
    case kIs: {
      uint32_t is = 0;
      for (uint32_t p = 0; p < kNumPorts; ++p) {
        if (r_.ports[p].is & r_.ports[p].ie) is |= 1u << p;
      }
      return is;
    }
    case kPi: return (1u << kNumPorts) - 1;
    case kVs: return kVersion13;
    case kCccCtl: case kCccPorts: case kEmLoc: case kEmCtl: case kCap2: case kBohc: return 0;
    default:
      ++stats_.bad_accesses;
      return 0;
  }
}

void AhciController::WriteLocked(uint32_t offset, uint32_t value) {
  if (offset >= kPortBase) {
    if (offset >= kPortsEnd) {
      ++stats_.bad_accesses;
      return;
    }
    WritePort((offset - kPortBase) / kPortStride, (offset - kPortBase) % kPortStride, value);
    return;
  }
  switch (offset) {
    case kGhc:
      if (value & kGhcHr) {
        // HBA reset: every port back to power-on, commands in flight void.
        // HR reads 0 again once the reset is done, which here is at once.
        ResetHba(r_, config_flags_);
        for (uint32_t p = 0; p < kNumPorts; ++p) SendSignature(p);
        return;
      }
      r_.ghc = value & kGhcIe;
      UpdateIrq(false);
      return;
    case kIs:
      // IS.IPS[p] mirrors "port p has an enabled interrupt pending"; the
      // driver clears the port's PxIS first, so the write has nothing left
      // to clear. Recompute the line in case it cleared the last one.
      UpdateIrq(false);
      return;
    case kCccCtl: case kCccPorts: case kEmCtl: case kBohc:
      return;  // features not implemented: writes ignored, reads 0
    default:
      ++stats_.bad_accesses;
      return;
  }
}

bool AhciController::IrqPending() const {
  if (!(r_.ghc & kGhcIe)) return false;
  for (uint32_t p = 0; p < kNumPorts; ++p) {
    if (r_.ports[p].is & r_.ports[p].ie) return true;
  }
  return false;
}

void AhciController::UpdateIrq(bool new_event) {
  if (!IrqPending()) {
    r_.irq_asserted = 0;
    return;
  }
  if (!r_.irq_asserted || new_event) {
    r_.irq_asserted = 1;
    irq_.Raise();
  }
}

void AhciController::Resample() {
  std::lock_guard lock(mu_);
  if (IrqPending()) {
    irq_.Raise();
  } else {
    r_.irq_asserted = 0;
  }
}

std::optional<WorkItem> AhciController::WaitForWork() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return shutdown_ || !queue_.empty(); });
  if (shutdown_) return std::nullopt;
  WorkItem w = queue_.front();
  queue_.pop_front();
  return w;
}

std::vector<WorkItem> AhciController::TakeWork() {
  std::lock_guard lock(mu_);
  std::vector<WorkItem> v(queue_.begin(), queue_.end());
  queue_.clear();
  return v;
}

void AhciController::Shutdown() {
  std::lock_guard lock(mu_);
  shutdown_ = true;
  cv_.notify_all();
}

size_t AhciController::Recover() {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (uint32_t p = 0; p < kNumPorts; ++p) {
    PortState& port = r_.ports[p];
    for (uint32_t s = 0; s < kNumSlots; ++s) {
      JournalEntry& e = port.journal[s];
      if (e.state != kSlotIssued) continue;
      const bool live = e.generation == port.generation && ((port.ci | port.sact) >> s & 1) &&
                        (port.cmd & kCmdSt);
      if (!live) {
        e.state = kSlotFree;  // completed or cancelled just before the crash
        continue;
      }
      queue_.push_back({p, s, e.generation});
      ++n;
    }
  }
  if (n > 0) cv_.notify_all();
  // The predecessor may have died between deciding to raise the line and
  // writing the trigger: a spurious interrupt costs the guest one IS read.
  if (IrqPending()) {
    r_.irq_asserted = 1;
    irq_.Raise();
  }
  return n;
}

void AhciController::Reset() {
  std::lock_guard lock(mu_);
  ResetHba(r_, config_flags_);
  queue_.clear();
}

ControllerStats AhciController::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace bulkhead::ahci
