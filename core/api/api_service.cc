// VmControl results to Cap'n Proto and back: the server half of the API.
#include "core/api/api_service.h"

#include <kj/exception.h>

#include <algorithm>

namespace bulkhead::api_internal {

capnp::ReaderOptions ApiReaderOptions() {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = kTraversalLimitWords;
  options.nestingLimit = kNestingLimit;
  return options;
}

void ThrowApiError(std::string_view message) {
  kj::throwFatalException(kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__,
                                        kj::heapString(message.data(), message.size())));
}

namespace {

// VmControl errors become the call's exception, prefixed with the call name
// so `bulkhead ctl` can print it as is.
void Check(const bulkhead::Status& st, std::string_view call) {
  if (!st) ThrowApiError(fmt::format("{}: {}", call, st.error().message));
}

void FillDevice(const DeviceInfo& d, schema::api::Device::Builder out) {
  out.setName(d.name);
  out.setKind(d.kind);
  out.setPid(d.pid);
  out.setState(d.state);
  out.setRestarts(d.restarts);
  out.setLastExit(d.last_exit);
  out.setBlockedSyscall(d.blocked_syscall);
  out.setLastRecoveryMs(d.last_recovery_ms);
  out.setRequestsServed(d.requests_served);
  out.setRequestsReplayed(d.requests_replayed);
  out.setMalformedRequests(d.malformed_requests);
  auto counters = out.initCounters(static_cast<unsigned>(d.counters.size()));
  for (unsigned i = 0; i < d.counters.size(); ++i) {
    counters[i].setName(d.counters[i].first);
    counters[i].setValue(d.counters[i].second);
  }
}

}  // namespace

kj::Promise<void> VmService::status(StatusContext context) {
  const VmStatus s = control_.GetStatus();
  auto out = context.getResults().initStatus();
  out.setPaused(s.paused);
  out.setUptimeSeconds(s.uptime_seconds);
  out.setVcpus(s.vcpus);
  out.setMemoryBytes(s.memory_bytes);
  return kj::READY_NOW;
}

kj::Promise<void> VmService::devices(DevicesContext context) {
  const std::vector<DeviceInfo> devices = control_.Devices();
  auto out = context.getResults().initDevices(static_cast<unsigned>(devices.size()));
  for (unsigned i = 0; i < devices.size(); ++i) FillDevice(devices[i], out[i]);
  return kj::READY_NOW;
}

kj::Promise<void> VmService::restartDevice(RestartDeviceContext context) {
  // Reading the params may throw on a malformed message: the RPC system
  // answers with an error, the server goes on.
  const auto name = context.getParams().getName();
  if (name.size() == 0) ThrowApiError("restart: no device name given");
  if (name.size() > kMaxDeviceNameBytes) {
    ThrowApiError(fmt::format("restart: device name longer than {} bytes", kMaxDeviceNameBytes));
  }
  const bool printable = std::all_of(name.begin(), name.end(),
                                     [](char c) { return c > ' ' && c < 0x7f; });
  if (!printable) ThrowApiError("restart: device name has non-printable characters");
  Check(control_.RestartDevice(std::string(name.cStr(), name.size())), "restart");
  return kj::READY_NOW;
}

kj::Promise<void> VmService::pause(PauseContext) {
  Check(control_.Pause(), "pause");
  return kj::READY_NOW;
}

kj::Promise<void> VmService::resume(ResumeContext) {
  Check(control_.Resume(), "resume");
  return kj::READY_NOW;
}

kj::Promise<void> VmService::powerOff(PowerOffContext) {
  Check(control_.PowerOff(), "poweroff");
  return kj::READY_NOW;
}

}  // namespace bulkhead::api_internal
