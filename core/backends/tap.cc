#include "core/backends/tap.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>

#include <cstring>

namespace bulkhead {

Result<UniqueFd> OpenTap(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ) return MakeError("tap name '{}' is invalid", name);
  UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd) return ErrnoError("cannot create tap '{}': /dev/net/tun", name);
  unsigned int features = 0;
  if (::ioctl(fd.get(), TUNGETFEATURES, &features) < 0) {
    return ErrnoError("cannot create tap '{}': TUNGETFEATURES", name);
  }
  if (!(features & IFF_VNET_HDR)) {
    return MakeError("cannot create tap '{}': the kernel's tun driver lacks IFF_VNET_HDR", name);
  }
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.c_str(), name.size());
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  if (::ioctl(fd.get(), TUNSETIFF, &ifr) < 0) return ErrnoError("cannot create tap '{}'", name);
  return fd;
}

}  // namespace bulkhead
