// The life of every device process, whatever its kind: serve DeviceControl on
// fd 3 (the core's control socket), and on attach build the device's worker
// over the received fds (the worker creates its threads then: the jail
// allows none later), enter the jail with the kind's seccomp policy, and only
// then let the worker touch anything the guest controls. The process exits
// when the core asks it to or hangs up.
//
// A device kind provides a DeviceWorker and one line of main():
//   int main() { return bulkhead::RunDeviceProcess("net", &NetWorker::Create); }
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "ipc/control.h"
#include "ipc/result.h"

namespace bulkhead {

class DeviceWorker {
 public:
  virtual ~DeviceWorker() = default;
  // Every fd the worker holds (the jail closes all others).
  [[nodiscard]] virtual std::vector<int> fds() const = 0;
  // Called once, in the jail: start serving.
  virtual void Start() = 0;
  // Stop serving and join the threads (idempotent).
  virtual void Stop() = 0;
  [[nodiscard]] virtual DeviceHealth Health() const = 0;
  // The guest reset the machine: power-on state.
  [[nodiscard]] virtual Status Reset() = 0;
  // The jail's RLIMIT_FSIZE: the largest file the process may write to. A
  // disk device sets it to its image size, so even a compromised device
  // cannot grow an image; every other device writes no files (0).
  [[nodiscard]] virtual uint64_t max_file_size() const { return 0; }
};

using DeviceWorkerFactory =
    std::function<Result<std::unique_ptr<DeviceWorker>>(DeviceAttachment attachment)>;

struct DeviceProcessOptions {
  // Runs right after the jail is entered, before Start (test builds use it to
  // misbehave on purpose).
  std::function<void()> after_jail;
};

// The whole main() of a device process. `kind` names the logger and the
// seccomp program (sandbox/policy/<kind>.policy).
[[nodiscard]] int RunDeviceProcess(const char* kind, DeviceWorkerFactory factory,
                                   DeviceProcessOptions options = {});

}  // namespace bulkhead
