// Device side of the control plane: receives and checks the attachment.
#include <capnp/rpc-twoparty.h>

#include "ipc/control.h"
#include "ipc/control_internal.h"

namespace bulkhead {

using control_internal::TakeFd;
using control_internal::ThrowError;

namespace {

// Adopt helpers: a received fd becomes a typed object only after its kind is
// checked; a mismatch fails the whole attach.
EventFd ToEventFd(UniqueFd fd, std::string_view what) {
  auto e = EventFd::Adopt(std::move(fd));
  if (!e) ThrowError(Error{fmt::format("{}: {}", what, e.error().message)});
  return std::move(*e);
}

MemFd ToMemFd(UniqueFd fd, std::string_view what) {
  auto m = MemFd::Adopt(std::move(fd));
  if (!m) ThrowError(Error{fmt::format("{}: {}", what, m.error().message)});
  return std::move(*m);
}

class DeviceControlImpl final : public schema::DeviceControl::Server {
 public:
  DeviceControlImpl(DeviceControlHandler& handler, kj::Own<kj::PromiseFulfiller<void>> shutdown)
      : handler_(handler), shutdown_(kj::mv(shutdown)) {}

  kj::Promise<void> attach(AttachContext context) override {
    // Reading the params may throw kj::Exception on a malformed message; the
    // RPC system turns that into an error reply.
    auto a = context.getParams().getAttachment();
    const size_t fd_slots = 2 + 3 * size_t{a.getRings().size()} + a.getDoorbells().size() +
                            2 * size_t{a.getIrqs().size()} + a.getBackend().size();
    if (fd_slots > kMaxFdsPerMessage + 2) ThrowError(Error{"attach: too many fds"});
    if (a.getConfig().size() > kMaxConfigBytes) ThrowError(Error{"attach: config too big"});

    // Fetch every fd (in a fixed order), then build the attachment.
    kj::Vector<kj::Promise<UniqueFd>> fds;
    if (a.hasStateRegion()) fds.add(TakeFd(a.getStateRegion(), "stateRegion"));
    if (a.hasGuestRam()) fds.add(TakeFd(a.getGuestRam(), "guestRam"));
    for (auto r : a.getRings()) {
      fds.add(TakeFd(r.getMemory(), "ring memory"));
      fds.add(TakeFd(r.getKick(), "ring kick"));
      fds.add(TakeFd(r.getDone(), "ring done"));
    }
    for (auto d : a.getDoorbells()) fds.add(TakeFd(d.getFd(), "doorbell"));
    for (auto i : a.getIrqs()) {
      fds.add(TakeFd(i.getTrigger(), "irq trigger"));
      if (i.hasResample()) fds.add(TakeFd(i.getResample(), "irq resample"));
    }
    for (auto b : a.getBackend()) fds.add(TakeFd(b, "backend"));

    return kj::joinPromises(fds.releaseAsArray())
        .then([this, context](kj::Array<UniqueFd> received) mutable {
          auto a = context.getParams().getAttachment();
          size_t next = 0;
          auto take = [&] { return std::move(received[next++]); };
          DeviceAttachment out;
          out.kind = a.getKind().cStr();
          if (a.hasStateRegion()) out.state_region = ToMemFd(take(), "stateRegion");
          if (a.hasGuestRam()) out.guest_ram = ToMemFd(take(), "guestRam");
          for (auto r : a.getRings()) {
            auto memory = ToMemFd(take(), "ring memory");
            auto kick = ToEventFd(take(), "ring kick");
            auto done = ToEventFd(take(), "ring done");
            out.rings.push_back(RingAttachment{
                r.getVcpu(), ExitRingFds{std::move(memory), std::move(kick), std::move(done)}});
          }
          for (auto d : a.getDoorbells()) {
            out.doorbells.push_back(
                DoorbellAttachment{d.getQueue(), ToEventFd(take(), "doorbell")});
          }
          for (auto i : a.getIrqs()) {
            IrqAttachment irq{i.getGsi(), ToEventFd(take(), "irq trigger"), std::nullopt};
            if (i.hasResample()) irq.resample = ToEventFd(take(), "irq resample");
            out.irqs.push_back(std::move(irq));
          }
          for (size_t i = 0; i < a.getBackend().size(); ++i) out.backend.push_back(take());
          auto config = a.getConfig();
          out.config.assign(config.begin(), config.end());
          if (a.getRamRegions().size() > 16) ThrowError(Error{"attach: too many RAM regions"});
          for (auto r : a.getRamRegions()) {
            out.ram_regions.push_back({r.getGpa(), r.getSize(), r.getOffset()});
          }
          // Done with the message: its capabilities (and their fds) go now.
          context.releaseParams();
          if (auto st = handler_.Attach(std::move(out)); !st) ThrowError(st.error());
        });
  }

  kj::Promise<void> health(HealthContext context) override {
    const DeviceHealth h = handler_.Health();
    auto out = context.getResults().initHealth();
    out.setRequestsServed(h.requests_served);
    out.setRequestsReplayed(h.requests_replayed);
    out.setMalformedRequests(h.malformed_requests);
    const size_t n = std::min(h.counters.size(), kMaxHealthCounters);
    auto counters = out.initCounters(static_cast<unsigned>(n));
    for (size_t i = 0; i < n; ++i) {
      counters[static_cast<unsigned>(i)].setName(h.counters[i].first);
      counters[static_cast<unsigned>(i)].setValue(h.counters[i].second);
    }
    return kj::READY_NOW;
  }

  kj::Promise<void> reset(ResetContext) override {
    if (auto st = handler_.Reset(); !st) ThrowError(st.error());
    return kj::READY_NOW;
  }

  kj::Promise<void> shutdown(ShutdownContext) override {
    if (!shut_down_) {
      shut_down_ = true;
      handler_.Shutdown();
      shutdown_->fulfill();
    }
    return kj::READY_NOW;
  }

 private:
  DeviceControlHandler& handler_;
  kj::Own<kj::PromiseFulfiller<void>> shutdown_;
  bool shut_down_ = false;
};

}  // namespace

Result<ServeEnd> ServeDeviceControl(ControlLoop& loop, UniqueFd socket,
                                    DeviceControlHandler& handler) {
  if (!socket) return MakeError("ServeDeviceControl: invalid socket");
  auto& io = loop.impl().io;
  try {
    auto stream = control_internal::WrapSocket(loop, std::move(socket));
    auto shutdown = kj::newPromiseAndFulfiller<void>();
    capnp::TwoPartyClient rpc(*stream, kMaxFdsPerMessage,
                              kj::heap<DeviceControlImpl>(handler, kj::mv(shutdown.fulfiller)),
                              capnp::rpc::twoparty::Side::SERVER);
    const ServeEnd end =
        rpc.onDisconnect()
            .then([] { return ServeEnd::kDisconnected; })
            .exclusiveJoin(shutdown.promise.then([] { return ServeEnd::kShutdown; }))
            .wait(io.waitScope);
    if (end == ServeEnd::kShutdown) {
      // Let the reply reach the core: it hangs up after reading it.
      rpc.onDisconnect()
          .exclusiveJoin(io.provider->getTimer().afterDelay(1 * kj::SECONDS))
          .wait(io.waitScope);
    }
    return end;
  } catch (const kj::Exception& e) {
    return tl::unexpected(control_internal::FromKj(e, "serving device control"));
  }
}

}  // namespace bulkhead
