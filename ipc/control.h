// The control plane between the core and one device process: Cap'n Proto RPC
// (ipc/schema/device.capnp) over one unix socketpair, with fd passing.
//
// The core holds the client end (DeviceControlClient): it attaches the device
// (hands it every fd), asks for health, resets it and shuts it down. The device
// process serves (ServeDeviceControl) through a DeviceControlHandler it
// implements. Everything synchronous: each call runs the calling thread's KJ
// event loop (ControlLoop) until the answer arrives or a deadline passes. A
// device that never answers therefore costs the core one timeout, not a hang.
//
// Trust: the device checks every fd it receives (eventfds must be eventfds,
// memfds regular files; ring memfds are checked further by ExitRingConsumer)
// and the counts of every list. The core treats every reply as untrusted data;
// KJ exceptions never escape this module: they become Errors.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ipc/event_fd.h"
#include "ipc/exit_ring.h"
#include "ipc/result.h"
#include "ipc/shared_memory.h"
#include "ipc/unique_fd.h"

namespace bulkhead {

// Linux passes at most SCM_MAX_FD (253) fds per sendmsg, and Cap'n Proto puts
// all fds of one message in one sendmsg: an attachment must fit.
inline constexpr size_t kMaxFdsPerMessage = 253;
inline constexpr size_t kMaxConfigBytes = 64 * 1024;

struct RingAttachment {
  uint32_t vcpu = 0;
  ExitRingFds fds;
};

struct DoorbellAttachment {
  uint32_t queue = 0;
  EventFd fd;
};

// Guest-physical [gpa, gpa+size) is bytes [offset, offset+size) of the RAM memfd.
struct RamRegionAttachment {
  uint64_t gpa = 0;
  uint64_t size = 0;
  uint64_t offset = 0;
};

struct IrqAttachment {
  uint32_t gsi = 0;
  EventFd trigger;
  std::optional<EventFd> resample;  // level-triggered lines only
};

// Everything a device process receives. The core fills one (the fds are
// dup()ed when sent, the core keeps its own), the device gets one back with
// its own received copies.
struct DeviceAttachment {
  std::string kind;
  std::optional<MemFd> state_region;
  std::vector<RingAttachment> rings;
  std::vector<DoorbellAttachment> doorbells;
  std::vector<IrqAttachment> irqs;
  std::vector<UniqueFd> backend;
  std::optional<MemFd> guest_ram;
  std::vector<RamRegionAttachment> ram_regions;  // with guest_ram
  std::vector<uint8_t> config;

  // Number of fds the attachment carries (must be <= kMaxFdsPerMessage).
  [[nodiscard]] size_t fd_count() const;
};

struct DeviceHealth {
  uint64_t requests_served = 0;
  uint64_t requests_replayed = 0;
  uint64_t malformed_requests = 0;
  // Device-specific I/O counters, at most kMaxHealthCounters (the core
  // keeps no more than that from an untrusted reply).
  std::vector<std::pair<std::string, uint64_t>> counters;
};
inline constexpr size_t kMaxHealthCounters = 64;

// The KJ event loop of the calling thread (kj::setupAsyncIo). One per thread,
// created before any client or server that uses it, destroyed after them.
class ControlLoop {
 public:
  [[nodiscard]] static Result<std::unique_ptr<ControlLoop>> Create();
  ~ControlLoop();
  ControlLoop(const ControlLoop&) = delete;
  ControlLoop& operator=(const ControlLoop&) = delete;

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  ControlLoop();
  std::unique_ptr<Impl> impl_;
};

inline constexpr std::chrono::milliseconds kDefaultControlTimeout{5000};

// Core side.
class DeviceControlClient {
 public:
  // socket: the core's end of the socketpair shared with the device.
  [[nodiscard]] static Result<std::unique_ptr<DeviceControlClient>> Connect(ControlLoop& loop,
                                                                            UniqueFd socket);
  ~DeviceControlClient();

  // Sends dup()s of every fd in `attachment`; the caller keeps its own.
  [[nodiscard]] Status Attach(const DeviceAttachment& attachment,
                              std::chrono::milliseconds timeout = kDefaultControlTimeout);
  [[nodiscard]] Result<DeviceHealth> Health(
      std::chrono::milliseconds timeout = kDefaultControlTimeout);
  [[nodiscard]] Status Reset(std::chrono::milliseconds timeout = kDefaultControlTimeout);
  [[nodiscard]] Status Shutdown(std::chrono::milliseconds timeout = kDefaultControlTimeout);

  struct Impl;

 private:
  explicit DeviceControlClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Device side: what the device process does on each call. An Error returned
// here reaches the core as the call's error.
class DeviceControlHandler {
 public:
  virtual ~DeviceControlHandler() = default;
  [[nodiscard]] virtual Status Attach(DeviceAttachment attachment) = 0;
  [[nodiscard]] virtual DeviceHealth Health() = 0;
  [[nodiscard]] virtual Status Reset() = 0;
  // Called once; ServeDeviceControl returns soon after.
  virtual void Shutdown() = 0;
};

enum class ServeEnd { kShutdown, kDisconnected };

// Serves DeviceControl on `socket` in the calling thread until the core calls
// shutdown (then waits up to a second for the reply to be flushed and the
// core to hang up) or the core disconnects.
[[nodiscard]] Result<ServeEnd> ServeDeviceControl(ControlLoop& loop, UniqueFd socket,
                                                  DeviceControlHandler& handler);

}  // namespace bulkhead
