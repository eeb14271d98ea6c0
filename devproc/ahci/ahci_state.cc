#include "devproc/ahci/ahci_state.h"

#include <cstring>

namespace bulkhead::ahci {

void ResetPort(PortState& port, DeviceKind kind) {
  const uint32_t generation = port.generation + 1;  // void whatever was in flight
  std::memset(&port, 0, sizeof port);
  port.generation = generation;
  // No staggered spin-up and no cold presence detect: SUD and POD read 1.
  port.cmd = kCmdSud | kCmdPod;
  port.sctl = 0;
  if (kind == DeviceKind::kNone) {
    port.tfd = 0x7F;
    port.sig = 0xFFFFFFFF;
    port.ssts = 0;
    return;
  }
  port.tfd = kStsGood;
  port.sig = kind == DeviceKind::kDisk ? kSigDisk : kSigAtapi;
  port.ssts = kSstsPresent;
  port.dev.write_cache = 1;
  if (kind == DeviceKind::kCdrom) port.dev.atapi_flags = kMediaPresent | kMediaChanged;
}

void ResetHba(AhciStateRegion& region, uint32_t config_flags) {
  region.ghc = 0;
  region.irq_asserted = 0;
  for (uint32_t p = 0; p < abi::ahci::kNumPorts; ++p) {
    ResetPort(region.ports[p], PortDevice(config_flags, p));
  }
}

bool AttachAhciState(AhciStateRegion& region, uint32_t config_flags) {
  if (region.magic != kStateMagic || region.version != kStateVersion ||
      region.size != sizeof(AhciStateRegion) || region.config_flags != config_flags) {
    std::memset(&region, 0, sizeof region);
    region.magic = kStateMagic;
    region.version = kStateVersion;
    region.size = sizeof(AhciStateRegion);
    region.config_flags = config_flags;
    ResetHba(region, config_flags);
    return true;
  }
  // Values the model relies on for indexing or loops; the rest are plain
  // register contents that any value is valid for.
  for (uint32_t p = 0; p < abi::ahci::kNumPorts; ++p) {
    PortState& port = region.ports[p];
    for (JournalEntry& e : port.journal) {
      if (e.state != kSlotIssued) e.state = kSlotFree;
    }
    if (PortDevice(config_flags, p) == DeviceKind::kNone) {
      port.ssts = 0;
      port.ci = port.sact = 0;
    }
  }
  region.irq_asserted &= 1;
  return false;
}

}  // namespace bulkhead::ahci
