// The tap behind a virtio-net device, opened by the core (the device process
// never opens anything): IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, non-blocking.
// TUNSETIFF creates the interface when it does not exist (it then lives as
// long as the fd), or attaches to an existing one (e.g. made persistent by
// `ip tuntap add`). The device sets the header size and offloads itself.
#pragma once

#include <string>

#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace bulkhead {

[[nodiscard]] Result<UniqueFd> OpenTap(const std::string& name);

}  // namespace bulkhead
