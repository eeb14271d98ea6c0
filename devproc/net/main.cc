// bulkhead-net: the virtio-net device process. Started by the core; the
// process's life is devproc/common/device_process.h, the device is NetWorker.
#include "devproc/common/device_process.h"
#include "devproc/net/net_worker.h"

int main() {
  using namespace bulkhead;
  return RunDeviceProcess("net", [](DeviceAttachment a) -> Result<std::unique_ptr<DeviceWorker>> {
    auto w = net::NetWorker::Create(std::move(a));
    if (!w) return tl::unexpected(w.error());
    return std::unique_ptr<DeviceWorker>(std::move(*w));
  });
}
