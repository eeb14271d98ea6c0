// ControlLoop, fd passing helpers and DeviceAttachment bookkeeping.
#include <fcntl.h>

#include "ipc/control.h"
#include "ipc/control_internal.h"

namespace bulkhead {

size_t DeviceAttachment::fd_count() const {
  size_t n = backend.size() + doorbells.size() + 3 * rings.size();
  for (const IrqAttachment& irq : irqs) n += irq.resample ? 2u : 1u;
  if (state_region) ++n;
  if (guest_ram) ++n;
  return n;
}

ControlLoop::ControlLoop() = default;
ControlLoop::~ControlLoop() = default;

Result<std::unique_ptr<ControlLoop>> ControlLoop::Create() {
  std::unique_ptr<ControlLoop> loop(new ControlLoop());
  try {
    loop->impl_ = std::make_unique<Impl>();
  } catch (const kj::Exception& e) {
    return tl::unexpected(control_internal::FromKj(e, "setting up the KJ event loop"));
  }
  return loop;
}

namespace control_internal {

schema::Fd::Client OfferFd(int fd) {
  const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) ThrowError(ErrnoError("dup fd {} to send", fd).value());
  return kj::heap<FdServer>(UniqueFd(copy));
}

kj::Promise<UniqueFd> TakeFd(schema::Fd::Client cap, kj::StringPtr what) {
  return cap.getFd().then([what](kj::Maybe<int> maybe) -> UniqueFd {
    KJ_IF_MAYBE (fd, maybe) {
      const int copy = ::fcntl(*fd, F_DUPFD_CLOEXEC, 0);
      if (copy < 0) ThrowError(ErrnoError("dup received fd ({})", what.cStr()).value());
      return UniqueFd(copy);
    }
    ThrowError(Error{fmt::format("{}: no fd received (is fd passing enabled?)", what.cStr())});
  });
}

kj::Own<kj::AsyncCapabilityStream> WrapSocket(ControlLoop& loop, UniqueFd socket) {
  return loop.impl().io.lowLevelProvider->wrapUnixSocketFd(
      socket.release(),
      kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP | kj::LowLevelAsyncIoProvider::ALREADY_CLOEXEC);
}

void ThrowError(const Error& error) {
  kj::throwFatalException(
      kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__,
                    kj::heapString(error.message.data(), error.message.size())));
}

Error FromKj(const kj::Exception& e, std::string_view what) {
  return Error{fmt::format("{}: {}", what, e.getDescription().cStr()), 0};
}

}  // namespace control_internal
}  // namespace bulkhead
