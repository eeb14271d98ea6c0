// Decoding one KVM exit: a free function over the kvm_run area and the two
// buses, so it is unit-tested with synthetic exits (Firecracker style) and
// the vCPU thread loop stays a few lines.
#pragma once

#include <linux/kvm.h>

#include <cstddef>
#include <string>

#include "core/bus.h"

namespace bulkhead {

enum class ExitAction {
  kContinue,  // run the vCPU again
  kPowerOff,  // the guest asked to power off (or the VM must stop)
  kReboot,    // triple fault or a reset request
  kFatal,     // KVM could not run the vCPU: the VM cannot continue
};

struct ExitResult {
  ExitAction action = ExitAction::kContinue;
  std::string detail;  // for kFatal: what KVM reported
};

// `run_size` is the size of the mapped kvm_run area; data offsets KVM gives
// are checked against it before use.
[[nodiscard]] ExitResult HandleExit(kvm_run& run, size_t run_size, Bus& pio, Bus& mmio);

}  // namespace bulkhead
