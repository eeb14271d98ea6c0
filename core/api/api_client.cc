// The client half of the management API: Cap'n Proto RPC on its own loop.
#include "core/api/api_client.h"

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>

#include <type_traits>

#include "core/api/api_service.h"
#include "core/api/api_socket.h"

namespace bulkhead {
namespace {

// capnp prefixes errors that came from the peer; the server's message is
// already the line the user should read.
Error FromKj(const kj::Exception& e, std::string_view call) {
  std::string_view d = e.getDescription().cStr();
  constexpr std::string_view kRemote = "remote exception: ";
  if (d.starts_with(kRemote)) return Error{std::string(d.substr(kRemote.size())), 0};
  if (e.getType() == kj::Exception::Type::DISCONNECTED) {
    return Error{fmt::format("{}: the VM closed the connection ({})", call, d), 0};
  }
  return Error{fmt::format("{}: {}", call, d), 0};
}

}  // namespace

struct ApiClient::Impl {
  Impl(UniqueFd fd, std::chrono::milliseconds timeout)
      : io(kj::setupAsyncIo()),
        timeout(timeout),
        stream(io.lowLevelProvider->wrapSocketFd(
            fd.release(), kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP |
                              kj::LowLevelAsyncIoProvider::ALREADY_CLOEXEC)),
        // The server is the VM's own core, but its replies are still decoded
        // under limits: a client must not be crashable either.
        network(*stream, capnp::rpc::twoparty::Side::CLIENT, ReplyOptions()),
        rpc(capnp::makeRpcClient(network)),
        vm(Bootstrap()) {}

  static capnp::ReaderOptions ReplyOptions() {
    capnp::ReaderOptions o;
    o.traversalLimitInWords = 16 * 1024 * 1024 / sizeof(capnp::word);  // device lists
    o.nestingLimit = api_internal::kNestingLimit;
    return o;
  }

  schema::api::Vm::Client Bootstrap() {
    capnp::word scratch[4] = {};
    capnp::MallocMessageBuilder message(scratch);
    auto vat = message.getRoot<capnp::rpc::twoparty::VatId>();
    vat.setSide(capnp::rpc::twoparty::Side::SERVER);
    return rpc.bootstrap(vat).castAs<schema::api::Vm>();
  }

  // Sends the request built by `make`, waits for the answer and converts it.
  template <class Make, class Convert>
  auto Call(std::string_view call, Make make, Convert convert)
      -> Result<decltype(convert(make().send().wait(std::declval<kj::WaitScope&>())))> {
    using T = decltype(convert(make().send().wait(std::declval<kj::WaitScope&>())));
    try {
      auto promise = make().send().then([&](auto&& response) { return convert(kj::mv(response)); });
      auto bounded = io.provider->getTimer().timeoutAfter(timeout.count() * kj::MILLISECONDS,
                                                          kj::mv(promise));
      if constexpr (std::is_void_v<T>) {
        bounded.wait(io.waitScope);
        return {};
      } else {
        return bounded.wait(io.waitScope);
      }
    } catch (const kj::Exception& e) {
      // A VM told to power off may close the connection before its reply
      // is written: the hang-up is the success.
      if constexpr (std::is_void_v<T>) {
        if (call == "poweroff" && e.getType() == kj::Exception::Type::DISCONNECTED) return {};
      }
      return tl::unexpected(FromKj(e, call));
    }
  }

  kj::AsyncIoContext io;
  std::chrono::milliseconds timeout;
  kj::Own<kj::AsyncIoStream> stream;
  capnp::TwoPartyVatNetwork network;
  capnp::RpcSystem<capnp::rpc::twoparty::VatId> rpc;
  schema::api::Vm::Client vm;  // destroyed first
};

ApiClient::ApiClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ApiClient::~ApiClient() = default;

Result<std::unique_ptr<ApiClient>> ApiClient::Connect(const std::string& path,
                                                      std::chrono::milliseconds timeout) {
  auto fd = ConnectApiSocket(path);
  if (!fd) return tl::unexpected(fd.error());
  try {
    return std::unique_ptr<ApiClient>(
        new ApiClient(std::make_unique<Impl>(std::move(*fd), timeout)));
  } catch (const kj::Exception& e) {
    return tl::unexpected(FromKj(e, "connect"));
  }
}

namespace {

DeviceInfo ReadDevice(schema::api::Device::Reader d) {
  DeviceInfo out;
  out.name = d.getName().cStr();
  out.kind = d.getKind().cStr();
  out.pid = d.getPid();
  out.state = d.getState().cStr();
  out.restarts = d.getRestarts();
  out.last_exit = d.getLastExit().cStr();
  out.blocked_syscall = d.getBlockedSyscall().cStr();
  out.last_recovery_ms = d.getLastRecoveryMs();
  out.requests_served = d.getRequestsServed();
  out.requests_replayed = d.getRequestsReplayed();
  out.malformed_requests = d.getMalformedRequests();
  for (auto c : d.getCounters()) out.counters.emplace_back(c.getName().cStr(), c.getValue());
  return out;
}

}  // namespace

Result<VmStatus> ApiClient::Status() {
  return impl_->Call(
      "status", [&] { return impl_->vm.statusRequest(); },
      [](capnp::Response<schema::api::Vm::StatusResults> r) {
        auto s = r.getStatus();
        return VmStatus{s.getPaused(), s.getUptimeSeconds(), s.getVcpus(), s.getMemoryBytes()};
      });
}

Result<std::vector<DeviceInfo>> ApiClient::Devices() {
  return impl_->Call(
      "devices", [&] { return impl_->vm.devicesRequest(); },
      [](capnp::Response<schema::api::Vm::DevicesResults> r) {
        std::vector<DeviceInfo> out;
        for (auto d : r.getDevices()) out.push_back(ReadDevice(d));
        return out;
      });
}

bulkhead::Status ApiClient::RestartDevice(const std::string& name) {
  return impl_->Call(
      "restart",
      [&] {
        auto request = impl_->vm.restartDeviceRequest();
        request.setName(name);
        return request;
      },
      [](auto&&) {});
}

bulkhead::Status ApiClient::Pause() {
  return impl_->Call("pause", [&] { return impl_->vm.pauseRequest(); }, [](auto&&) {});
}

bulkhead::Status ApiClient::Resume() {
  return impl_->Call("resume", [&] { return impl_->vm.resumeRequest(); }, [](auto&&) {});
}

bulkhead::Status ApiClient::PowerOff() {
  return impl_->Call("poweroff", [&] { return impl_->vm.powerOffRequest(); }, [](auto&&) {});
}

}  // namespace bulkhead
