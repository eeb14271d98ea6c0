// bulkhead-serial: the 16550A device process. Started by the core
// (core/device_host.cc); the process's life is devproc/common/device_process.h,
// the UART is SerialWorker.
//
// Built twice: the second build (BULKHEAD_TEST_OPENAT_AFTER_JAIL, binary
// bulkhead-serial-openat) opens a file right after jailing, to prove the
// seccomp filter kills a device that tries.
#include <fcntl.h>

#include <spdlog/spdlog.h>

#include "devproc/common/device_process.h"
#include "devproc/serial/serial_worker.h"

int main() {
  using namespace bulkhead;
  DeviceProcessOptions options;
#ifdef BULKHEAD_TEST_OPENAT_AFTER_JAIL
  options.after_jail = [] {
    // Test build: a compromised device reaching for the file system.
    spdlog::warn("test build: calling openat inside the jail");
    const int fd = ::openat(AT_FDCWD, "/etc/passwd", O_RDONLY);
    spdlog::error("openat inside the jail returned {}: the filter did not kill us", fd);
  };
#endif
  return RunDeviceProcess(
      "serial",
      [](DeviceAttachment a) -> Result<std::unique_ptr<DeviceWorker>> {
        auto w = SerialWorker::Create(std::move(a));
        if (!w) return tl::unexpected(w.error());
        return std::unique_ptr<DeviceWorker>(std::move(*w));
      },
      std::move(options));
}
