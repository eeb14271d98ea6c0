// Disk and CD-ROM images, opened by the core and passed to the AHCI device
// process as fds. Checked here so a user mistake is one clear line: the path
// must be a regular file whose size is a whole number of sectors (512 bytes;
// 2048 for a CD-ROM). Images are locked (OFD locks: shared for read-only,
// exclusive for read-write) so two VMs cannot write one image at once.
#pragma once

#include <cstdint>
#include <string>

#include "core/backends/device_options.h"
#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace bulkhead {

struct DiskImage {
  UniqueFd fd;
  uint64_t size = 0;
  bool readonly = false;
};

[[nodiscard]] Result<DiskImage> OpenDiskImage(const DiskOptions& options, bool cdrom);

}  // namespace bulkhead
