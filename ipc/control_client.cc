// Core side of the control plane.
#include <capnp/rpc-twoparty.h>

#include <type_traits>

#include "ipc/control.h"

#include <cctype>
#include "ipc/control_internal.h"

namespace bulkhead {

using control_internal::FromKj;
using control_internal::OfferFd;

struct DeviceControlClient::Impl {
  Impl(ControlLoop& loop, kj::Own<kj::AsyncCapabilityStream> stream)
      : loop(loop),
        stream(kj::mv(stream)),
        rpc(*this->stream, kMaxFdsPerMessage, capnp::Capability::Client(nullptr),
            capnp::rpc::twoparty::Side::CLIENT),
        device(rpc.bootstrap().castAs<schema::DeviceControl>()) {}

  // Runs the loop until `promise` settles or the deadline passes.
  template <class T>
  Result<T> Await(kj::Promise<T> promise, std::chrono::milliseconds timeout,
                  std::string_view what) {
    try {
      auto& timer = loop.impl().io.provider->getTimer();
      auto bounded = timer.timeoutAfter(timeout.count() * kj::MILLISECONDS, kj::mv(promise));
      if constexpr (std::is_void_v<T>) {
        bounded.wait(loop.impl().io.waitScope);
        return {};
      } else {
        return bounded.wait(loop.impl().io.waitScope);
      }
    } catch (const kj::Exception& e) {
      return tl::unexpected(FromKj(e, what));
    }
  }

  ControlLoop& loop;
  kj::Own<kj::AsyncCapabilityStream> stream;
  capnp::TwoPartyClient rpc;
  schema::DeviceControl::Client device;  // destroyed first
};

DeviceControlClient::DeviceControlClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DeviceControlClient::~DeviceControlClient() = default;

Result<std::unique_ptr<DeviceControlClient>> DeviceControlClient::Connect(ControlLoop& loop,
                                                                          UniqueFd socket) {
  if (!socket) return MakeError("DeviceControlClient::Connect: invalid socket");
  try {
    auto stream = control_internal::WrapSocket(loop, std::move(socket));
    return std::unique_ptr<DeviceControlClient>(
        new DeviceControlClient(std::make_unique<Impl>(loop, kj::mv(stream))));
  } catch (const kj::Exception& e) {
    return tl::unexpected(FromKj(e, "connecting to device"));
  }
}

namespace {

void FillAttachment(const DeviceAttachment& a, schema::Attachment::Builder b) {
  b.setKind(a.kind);
  if (a.state_region) b.setStateRegion(OfferFd(a.state_region->fd()));
  if (a.guest_ram) b.setGuestRam(OfferFd(a.guest_ram->fd()));
  auto rings = b.initRings(static_cast<unsigned>(a.rings.size()));
  for (unsigned i = 0; i < a.rings.size(); ++i) {
    rings[i].setVcpu(a.rings[i].vcpu);
    rings[i].setMemory(OfferFd(a.rings[i].fds.memory.fd()));
    rings[i].setKick(OfferFd(a.rings[i].fds.kick.fd()));
    rings[i].setDone(OfferFd(a.rings[i].fds.done.fd()));
  }
  auto doorbells = b.initDoorbells(static_cast<unsigned>(a.doorbells.size()));
  for (unsigned i = 0; i < a.doorbells.size(); ++i) {
    doorbells[i].setQueue(a.doorbells[i].queue);
    doorbells[i].setFd(OfferFd(a.doorbells[i].fd.fd()));
  }
  auto irqs = b.initIrqs(static_cast<unsigned>(a.irqs.size()));
  for (unsigned i = 0; i < a.irqs.size(); ++i) {
    irqs[i].setGsi(a.irqs[i].gsi);
    irqs[i].setTrigger(OfferFd(a.irqs[i].trigger.fd()));
    if (a.irqs[i].resample) irqs[i].setResample(OfferFd(a.irqs[i].resample->fd()));
  }
  auto backend = b.initBackend(static_cast<unsigned>(a.backend.size()));
  for (unsigned i = 0; i < a.backend.size(); ++i) backend.set(i, OfferFd(a.backend[i].get()));
  b.setConfig(kj::arrayPtr(a.config.data(), a.config.size()));
  auto regions = b.initRamRegions(static_cast<unsigned>(a.ram_regions.size()));
  for (unsigned i = 0; i < a.ram_regions.size(); ++i) {
    regions[i].setGpa(a.ram_regions[i].gpa);
    regions[i].setSize(a.ram_regions[i].size);
    regions[i].setOffset(a.ram_regions[i].offset);
  }
}

}  // namespace

Status DeviceControlClient::Attach(const DeviceAttachment& attachment,
                                   std::chrono::milliseconds timeout) {
  if (attachment.fd_count() > kMaxFdsPerMessage) {
    return MakeError("attach: {} fds, at most {} fit in one message", attachment.fd_count(),
                     kMaxFdsPerMessage);
  }
  if (attachment.config.size() > kMaxConfigBytes) {
    return MakeError("attach: config of {} bytes exceeds {}", attachment.config.size(),
                     kMaxConfigBytes);
  }
  try {
    auto request = impl_->device.attachRequest();
    FillAttachment(attachment, request.initAttachment());
    return impl_->Await(request.send().ignoreResult(), timeout, "attach");
  } catch (const kj::Exception& e) {
    return tl::unexpected(FromKj(e, "attach"));
  }
}

Result<DeviceHealth> DeviceControlClient::Health(std::chrono::milliseconds timeout) {
  try {
    auto promise = impl_->device.healthRequest().send().then([](capnp::Response<
                                                                 schema::DeviceControl::
                                                                     HealthResults>
                                                                    r) {
      // Untrusted numbers; they are only counters, so reading is the check.
      auto h = r.getHealth();
      DeviceHealth out{h.getRequestsServed(), h.getRequestsReplayed(), h.getMalformedRequests(), {}};
      // The reply is untrusted: bounded count, bounded printable names.
      for (auto c : h.getCounters()) {
        if (out.counters.size() >= kMaxHealthCounters) break;
        std::string name(c.getName().cStr());
        if (name.empty() || name.size() > 32) continue;
        bool printable = true;
        for (char ch : name) printable = printable && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_');
        if (printable) out.counters.emplace_back(std::move(name), c.getValue());
      }
      return out;
    });
    return impl_->Await(kj::mv(promise), timeout, "health");
  } catch (const kj::Exception& e) {
    return tl::unexpected(FromKj(e, "health"));
  }
}

Status DeviceControlClient::Reset(std::chrono::milliseconds timeout) {
  try {
    return impl_->Await(impl_->device.resetRequest().send().ignoreResult(), timeout, "reset");
  } catch (const kj::Exception& e) {
    return tl::unexpected(FromKj(e, "reset"));
  }
}

Status DeviceControlClient::Shutdown(std::chrono::milliseconds timeout) {
  try {
    return impl_->Await(impl_->device.shutdownRequest().send().ignoreResult(), timeout, "shutdown");
  } catch (const kj::Exception& e) {
    return tl::unexpected(FromKj(e, "shutdown"));
  }
}

}  // namespace bulkhead
