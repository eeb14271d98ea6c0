// KJ/Cap'n Proto plumbing shared by the control client and server (internal
// to ipc/; the public API in control.h exposes no KJ types).
#pragma once

#include <capnp/capability.h>
#include <kj/async-io.h>
#include <kj/async.h>
#include <kj/exception.h>

#include "device.capnp.h"
#include "ipc/control.h"

namespace bulkhead {

struct ControlLoop::Impl {
  Impl() : io(kj::setupAsyncIo()) {}
  kj::AsyncIoContext io;
};

namespace control_internal {

// Offers one fd to the peer: Cap'n Proto calls getFd() when the capability
// is written into a message and sends the fd with it (SCM_RIGHTS).
class FdServer final : public schema::Fd::Server {
 public:
  explicit FdServer(UniqueFd fd) : fd_(std::move(fd)) {}
  kj::Maybe<int> getFd() override { return fd_.get(); }

 private:
  UniqueFd fd_;
};

// A capability carrying a dup() of fd; the caller keeps its own fd.
[[nodiscard]] schema::Fd::Client OfferFd(int fd);

// Waits for the fd behind a received capability and dup()s it (the
// capability's copy dies with the capability). Throws if none arrived.
[[nodiscard]] kj::Promise<UniqueFd> TakeFd(schema::Fd::Client cap, kj::StringPtr what);

// Wraps the socket as an AsyncCapabilityStream (takes ownership).
[[nodiscard]] kj::Own<kj::AsyncCapabilityStream> WrapSocket(ControlLoop& loop, UniqueFd socket);

[[noreturn]] void ThrowError(const Error& error);
[[nodiscard]] Error FromKj(const kj::Exception& e, std::string_view what);

}  // namespace control_internal
}  // namespace bulkhead
