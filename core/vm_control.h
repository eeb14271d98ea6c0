// VmControl: what the management API (core/api/) can see and steer in a
// running VM. Machine implements it; the API server only talks to this
// interface, so it is unit-tested against a fake.
//
// Every method may be called from any thread, concurrently; none blocks for
// long (a device restart is started, not waited for).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ipc/result.h"

namespace bulkhead {

struct VmStatus {
  bool paused = false;
  double uptime_seconds = 0;
  uint32_t vcpus = 0;
  uint64_t memory_bytes = 0;
};

struct DeviceInfo {
  std::string name;   // "serial", "net", "ahci": what RestartDevice takes
  std::string kind;
  int64_t pid = -1;   // -1 while no process runs
  std::string state;  // "running", "restarting", "failed", "stopped"
  uint32_t restarts = 0;
  std::string last_exit;        // why the last process ended, "" if none did
  std::string blocked_syscall;  // "openat (257)" when seccomp killed it last
  double last_recovery_ms = 0;  // from death to the new process attached
  uint64_t requests_served = 0;
  uint64_t requests_replayed = 0;
  uint64_t malformed_requests = 0;
  // Device-specific I/O counters ("rx_frames", "commands", ...).
  std::vector<std::pair<std::string, uint64_t>> counters;
};

class VmControl {
 public:
  virtual ~VmControl() = default;
  // GetStatus, not Status: Status is also the result type (ipc/result.h).
  [[nodiscard]] virtual VmStatus GetStatus() = 0;
  [[nodiscard]] virtual std::vector<DeviceInfo> Devices() = 0;
  // Kills the device's process; the supervisor starts a new one (as after a
  // crash, but not counted against the restart budget).
  [[nodiscard]] virtual Status RestartDevice(const std::string& name) = 0;
  [[nodiscard]] virtual Status Pause() = 0;
  [[nodiscard]] virtual Status Resume() = 0;
  // Ends the VM as if the guest had powered off (bulkhead exits 0).
  [[nodiscard]] virtual Status PowerOff() = 0;
};

}  // namespace bulkhead
