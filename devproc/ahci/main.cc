// bulkhead-ahci: the AHCI controller device process (disk on port 0, ATAPI
// CD-ROM on port 1). Started by the core; the process's life is
// devproc/common/device_process.h, the controller is AhciWorker.
#include "devproc/ahci/ahci_worker.h"
#include "devproc/common/device_process.h"

int main() {
  using namespace bulkhead;
  return RunDeviceProcess("ahci", [](DeviceAttachment a) -> Result<std::unique_ptr<DeviceWorker>> {
    auto w = ahci::AhciWorker::Create(std::move(a));
    if (!w) return tl::unexpected(w.error());
    return std::unique_ptr<DeviceWorker>(std::move(*w));
  });
}
