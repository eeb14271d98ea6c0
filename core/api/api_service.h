// VmService: the Cap'n Proto Vm interface (ipc/schema/api.capnp) over a
// VmControl. One instance per client connection, called on the API server's
// thread. Internal to core/api: exposes KJ/Cap'n Proto types.
#pragma once

#include <capnp/message.h>

#include <cstddef>
#include <string_view>

#include "api.capnp.h"
#include "core/vm_control.h"

namespace bulkhead::api_internal {

// Longest device name restartDevice accepts: names are short words; a long
// one is a client bug, answered with an error rather than echoed back.
inline constexpr size_t kMaxDeviceNameBytes = 64;

// Incoming messages are small (the largest is restartDevice with a name):
// 64 KiB bounds what one hostile message can make the server allocate.
inline constexpr uint64_t kTraversalLimitWords = 64 * 1024 / sizeof(capnp::word);
inline constexpr int kNestingLimit = 16;

[[nodiscard]] capnp::ReaderOptions ApiReaderOptions();

class VmService final : public schema::api::Vm::Server {
 public:
  explicit VmService(VmControl& control) : control_(control) {}

  kj::Promise<void> status(StatusContext context) override;
  kj::Promise<void> devices(DevicesContext context) override;
  kj::Promise<void> restartDevice(RestartDeviceContext context) override;
  kj::Promise<void> pause(PauseContext context) override;
  kj::Promise<void> resume(ResumeContext context) override;
  kj::Promise<void> powerOff(PowerOffContext context) override;

 private:
  VmControl& control_;
};

// Throws a kj::Exception whose description is `message` (one line): what a
// client sees as the call's error.
[[noreturn]] void ThrowApiError(std::string_view message);

}  // namespace bulkhead::api_internal
