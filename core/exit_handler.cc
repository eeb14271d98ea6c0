#include "core/exit_handler.h"

#include <fmt/format.h>

#include <span>

namespace bulkhead {
namespace {

ExitResult HandleIo(kvm_run& run, size_t run_size, Bus& pio) {
  const auto& io = run.io;
  const size_t size = io.size;
  const size_t total = size * io.count;
  if ((size != 1 && size != 2 && size != 4) || io.count == 0 || io.data_offset > run_size ||
      total > run_size - io.data_offset) {
    return {ExitAction::kFatal, fmt::format("malformed KVM_EXIT_IO (size {}, count {}, offset {})",
                                            size, io.count, io.data_offset)};
  }
  // SAFETY: [data_offset, data_offset + size*count) was checked to lie inside
  // the kvm_run mapping of run_size bytes.
  auto* base = reinterpret_cast<uint8_t*>(&run) + io.data_offset;
  // String I/O (rep ins/outs) arrives as `count` accesses in a row.
  for (size_t i = 0; i < io.count; ++i) {
    std::span<uint8_t> data(base + i * size, size);
    if (io.direction == KVM_EXIT_IO_OUT) {
      pio.Write(io.port, data);
    } else {
      pio.Read(io.port, data);
    }
  }
  return {};
}

ExitResult HandleMmio(kvm_run& run, Bus& mmio) {
  auto& m = run.mmio;
  if (m.len == 0 || m.len > sizeof(m.data)) {
    return {ExitAction::kFatal, fmt::format("malformed KVM_EXIT_MMIO of {} bytes", m.len)};
  }
  std::span<uint8_t> data(m.data, m.len);
  if (m.is_write) {
    mmio.Write(m.phys_addr, data);
  } else {
    mmio.Read(m.phys_addr, data);
  }
  return {};
}

}  // namespace

ExitResult HandleExit(kvm_run& run, size_t run_size, Bus& pio, Bus& mmio) {
  switch (run.exit_reason) {
    case KVM_EXIT_IO:
      return HandleIo(run, run_size, pio);
    case KVM_EXIT_MMIO:
      return HandleMmio(run, mmio);
    case KVM_EXIT_INTR:
    case KVM_EXIT_HLT:  // with the in-kernel LAPIC HLT stays in KVM; harmless if seen
      return {};
    case KVM_EXIT_SHUTDOWN:
      // Triple fault: what a PC does is reset. Linux's last reboot method.
      return {ExitAction::kReboot, "triple fault"};
    case KVM_EXIT_SYSTEM_EVENT:
      if (run.system_event.type == KVM_SYSTEM_EVENT_RESET) return {ExitAction::kReboot, "reset event"};
      if (run.system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN) return {ExitAction::kPowerOff, "shutdown event"};
      return {ExitAction::kFatal, fmt::format("KVM system event {}", run.system_event.type)};
    case KVM_EXIT_FAIL_ENTRY:
      return {ExitAction::kFatal, fmt::format("KVM_EXIT_FAIL_ENTRY, hardware reason {:#x}",
                                              run.fail_entry.hardware_entry_failure_reason)};
    case KVM_EXIT_INTERNAL_ERROR:
      return {ExitAction::kFatal, fmt::format("KVM_EXIT_INTERNAL_ERROR, suberror {}",
                                              run.internal.suberror)};
    default:
      return {ExitAction::kFatal, fmt::format("unexpected KVM exit reason {}", run.exit_reason)};
  }
}

}  // namespace bulkhead
