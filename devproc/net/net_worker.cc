#include "devproc/net/net_worker.h"

#include <poll.h>
#include <sys/prctl.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <spdlog/spdlog.h>

#include "ipc/device_abi/pci_device.h"
#include "ipc/device_abi/virtio_net.h"
#include "sandbox/jail.h"

namespace bulkhead::net {
namespace {

namespace abi = bulkhead::abi::virtio_net;

constexpr size_t kMaxRings = 256;
constexpr int kBatch = 64;
constexpr uint64_t kMalformedLogLimit = 16;

}  // namespace

Result<std::unique_ptr<NetWorker>> NetWorker::Create(DeviceAttachment a) {
  if (a.kind != "net") return MakeError("attach: kind '{}' is not net", a.kind);
  if (!a.state_region) return MakeError("attach: no state region");
  if (!a.guest_ram || a.ram_regions.empty()) return MakeError("attach: no guest RAM");
  if (a.rings.empty() || a.rings.size() > kMaxRings) {
    return MakeError("attach: {} rings (need 1 to {})", a.rings.size(), kMaxRings);
  }
  if (a.doorbells.size() != abi::kNumQueues) {
    return MakeError("attach: {} doorbells (need {})", a.doorbells.size(), abi::kNumQueues);
  }
  if (a.irqs.size() != abi::kNumVectors + 1u || !a.irqs.back().resample) {
    return MakeError("attach: {} irqs (need {} vectors and an INTx with resample)", a.irqs.size(),
                     abi::kNumVectors);
  }
  if (a.backend.size() != 1) return MakeError("attach: {} backend fds (need 1)", a.backend.size());
  abi::NetConfigBlob blob{};
  if (a.config.size() != sizeof blob) {
    return MakeError("attach: config of {} bytes (need {})", a.config.size(), sizeof blob);
  }
  std::memcpy(&blob, a.config.data(), sizeof blob);
  if (blob.flags != 0 || (blob.mac[0] & 1)) return MakeError("attach: bad NetConfigBlob");

  std::unique_ptr<NetWorker> w(new NetWorker());
  std::memcpy(w->mac_, blob.mac, 6);
  w->state_fd_ = std::move(*a.state_region);
  if (auto s = w->state_fd_.RequireSeals(); !s) return tl::unexpected(s.error());
  if (w->state_fd_.size() < sizeof(NetStateRegion)) {
    return MakeError("attach: state region of {} bytes is smaller than {}", w->state_fd_.size(),
                     sizeof(NetStateRegion));
  }
  auto map = Mapping::Map(w->state_fd_);
  if (!map) return tl::unexpected(map.error());
  w->state_map_ = std::move(*map);
  auto region = w->state_map_.as<NetStateRegion>(0);
  if (!region) return tl::unexpected(region.error());
  // SAFETY: `as` checked bounds and alignment; the mapping lives as long as
  // the worker. The contents are validated (VirtioNet::Resume) before use.
  w->region_ = *region;

  w->ram_fd_ = std::move(*a.guest_ram);
  if (auto s = w->ram_fd_.RequireSeals(); !s) return tl::unexpected(s.error());
  std::vector<RamRegion> regions;
  for (const auto& r : a.ram_regions) regions.push_back({r.gpa, r.size, r.offset});
  auto mem = GuestMemory::Map(w->ram_fd_.fd(), std::move(regions));
  if (!mem) return tl::unexpected(mem.error());
  w->memory_ = std::move(*mem);

  for (auto& r : a.rings) {
    w->fds_.insert(w->fds_.end(), {r.fds.memory.fd(), r.fds.kick.fd(), r.fds.done.fd()});
    auto c = ExitRingConsumer::Attach(std::move(r.fds));
    if (!c) return MakeError("ring of vcpu {}: {}", r.vcpu, c.error().message);
    w->rings_.push_back(std::move(*c));
  }
  w->ring_broken_.assign(w->rings_.size(), false);
  w->doorbells_.resize(abi::kNumQueues);
  for (auto& d : a.doorbells) {
    if (d.queue >= abi::kNumQueues || w->doorbells_[d.queue].valid()) {
      return MakeError("attach: doorbell for queue {} is unexpected", d.queue);
    }
    w->doorbells_[d.queue] = std::move(d.fd);
  }
  for (uint16_t v = 0; v < abi::kNumVectors; ++v) w->vectors_.push_back(std::move(a.irqs[v].trigger));
  w->intx_ = std::move(a.irqs.back().trigger);
  w->resample_ = std::move(*a.irqs.back().resample);
  auto backend = FdNetBackend::Adopt(std::move(a.backend[0]));
  if (!backend) return tl::unexpected(backend.error());
  w->backend_.emplace(std::move(*backend));

  auto stop = EventFd::Create(0, EFD_NONBLOCK);
  if (!stop) return tl::unexpected(stop.error());
  w->stop_ = std::move(*stop);
  auto reset = EventFd::Create(0, EFD_NONBLOCK);
  if (!reset) return tl::unexpected(reset.error());
  w->reset_ = std::move(*reset);

  virtio::InterruptSink& sink = *w;  // a private base: converted here, with access
  w->net_ = std::make_unique<VirtioNet>(*w->region_, w->memory_, *w->backend_, sink, w->mac_);

  // The thread must exist before the jail; it drops its own capabilities
  // and waits for Start().
  w->thread_ = std::thread([p = w.get()] { p->Run(); });
  std::unique_lock lock(w->mu_);
  w->cv_.wait(lock, [&] { return w->caps_dropped_ != 0; });
  if (w->caps_dropped_ < 0) {
    lock.unlock();
    w->Stop();
    return MakeError("worker thread could not drop its capabilities");
  }
  return w;
}

NetWorker::~NetWorker() { Stop(); }

std::vector<int> NetWorker::fds() const {
  std::vector<int> out = fds_;
  out.insert(out.end(), {state_fd_.fd(), ram_fd_.fd(), intx_.fd(), resample_.fd(),
                         backend_ ? backend_->fd() : -1, stop_.fd(), reset_.fd()});
  for (const EventFd& d : doorbells_) out.push_back(d.fd());
  for (const EventFd& v : vectors_) out.push_back(v.fd());
  return out;
}

void NetWorker::Start() {
  std::lock_guard lock(mu_);
  started_ = true;
  cv_.notify_all();
}

void NetWorker::Stop() {
  {
    std::lock_guard lock(mu_);
    abort_start_ = true;
    cv_.notify_all();
  }
  if (stop_.valid()) (void)stop_.Signal();
  if (thread_.joinable()) thread_.join();
}

DeviceHealth NetWorker::Health() const {
  DeviceHealth h{served_.load(), replayed_.load(), malformed_.load(), {}};
  // The worker thread updates these in the state region as it goes: read
  // each once, atomically (a snapshot, not a consistent set).
  const NetCounters& c = region_->net.counters;
  const std::pair<const char*, const uint64_t*> fields[] = {
      {"tx_packets", &c.tx_packets}, {"tx_bytes", &c.tx_bytes},   {"tx_dropped", &c.tx_dropped},
      {"tx_errors", &c.tx_errors},   {"rx_packets", &c.rx_packets}, {"rx_bytes", &c.rx_bytes},
      {"rx_filtered", &c.rx_filtered}, {"rx_dropped", &c.rx_dropped},
      {"rx_no_buffers", &c.rx_no_buffers}, {"rx_errors", &c.rx_errors}};
  for (const auto& [name, value] : fields) {
    // SAFETY: `value` points into the mapped state region, 8-byte aligned.
    h.counters.emplace_back(name, std::atomic_ref<uint64_t>(*const_cast<uint64_t*>(value)).load(std::memory_order_relaxed));
  }
  return h;
}

Status NetWorker::Reset() {
  std::unique_lock lock(mu_);
  const uint64_t target = resets_requested_.fetch_add(1) + 1;
  if (auto s = reset_.Signal(); !s) return tl::unexpected(s.error());
  if (!cv_.wait_for(lock, std::chrono::seconds(1), [&] { return resets_done_ >= target; })) {
    return MakeError("net reset: the worker did not answer within a second");
  }
  return {};
}

void NetWorker::Raise(const EventFd& fd) {
  if (auto s = fd.Signal(); !s && !irq_error_logged_) {
    irq_error_logged_ = true;
    spdlog::error("net: interrupt eventfd write failed: {}", s.error().message);
  }
}

void NetWorker::SignalVector(uint16_t vector) {
  if (vector < vectors_.size()) Raise(vectors_[vector]);
}

void NetWorker::SignalIntx() { Raise(intx_); }

void NetWorker::Serve(size_t ring, const ExitRequest& req) {
  const uint64_t id = NetRequestId(ring, req.seq);
  uint64_t reply = 0;
  const uint64_t offset = bulkhead::abi::OffsetOf(req.addr);
  if (region_->applied_id.load(std::memory_order_acquire) == id) {
    reply = region_->reply;  // applied by the previous process, not completed
    replayed_.fetch_add(1, std::memory_order_relaxed);
  } else if (req.space != AccessSpace::kMmio || bulkhead::abi::RegionOf(req.addr) != abi::kDeviceBar ||
             (req.size != 1 && req.size != 2 && req.size != 4 && req.size != 8) ||
             offset >= abi::kBar0Size || offset + req.size > abi::kBar0Size) {
    const uint64_t n = malformed_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (n <= kMalformedLogLimit) {
      spdlog::warn("malformed request on ring {}: space {} size {} addr {:#x}", ring,
                   static_cast<int>(req.space), req.size, req.addr);
    }
  } else {
    if (req.is_write) {
      net_->transport().Write(offset, req.size, req.data);
    } else {
      reply = net_->transport().Read(offset, req.size);
    }
    region_->reply = reply;
    region_->applied_id.store(id, std::memory_order_release);
    served_.fetch_add(1, std::memory_order_relaxed);
  }
  if (auto s = rings_[ring].Complete(reply); !s) {
    spdlog::error("ring {}: complete failed, ring abandoned: {}", ring, s.error().message);
    ring_broken_[ring] = true;
  }
}

bool NetWorker::ServeRing(size_t i) {
  for (int n = 0; n < kBatch && !ring_broken_[i]; ++n) {
    auto r = rings_[i].Peek();
    if (!r) {
      const uint64_t m = malformed_.fetch_add(1, std::memory_order_relaxed) + 1;
      if (m <= kMalformedLogLimit) spdlog::warn("ring {}: {}", i, r.error().message);
      if (auto s = rings_[i].Complete(0); !s) {
        spdlog::error("ring {} is corrupted, abandoned: {}", i, s.error().message);
        ring_broken_[i] = true;
      }
      continue;
    }
    if (!*r) return false;
    Serve(i, **r);
  }
  return !ring_broken_[i];
}

void NetWorker::Run() {
  // capset and the bounding set are per thread (see SerialWorker::Run).
  Status dropped = DropAllCapabilities();
  if (dropped && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    dropped = ErrnoError("PR_SET_NO_NEW_PRIVS");
  }
  if (!dropped) spdlog::error("worker: {}", dropped.error().message);
  {
    std::unique_lock lock(mu_);
    caps_dropped_ = dropped ? 1 : -1;
    cv_.notify_all();
    cv_.wait(lock, [&] { return started_ || abort_start_; });
    if (!started_ || !dropped) return;
  }

  if (auto s = backend_->SetVnetHeaderSize(kNetHeaderSize); !s) {
    spdlog::warn("net: {} (not a tap?); frames keep the 12-byte header", s.error().message);
  }
  if (region_->magic != kNetRegionMagic || region_->version != kNetRegionVersion) {
    spdlog::info("state region blank or foreign: virtio-net starts at power-on");
    net_->InitRegion();
  } else {
    spdlog::info("state region: resuming the previous virtio-net state");
    net_->Resume();
  }
  spdlog::info("serving {} ring(s)", rings_.size());

  const size_t n = rings_.size();
  const size_t kDoor = n, kTap = n + 3, kResample = n + 4, kStop = n + 5, kReset = n + 6;
  std::vector<pollfd> pfds(n + 7);
  std::vector<bool> armed(n);
  for (;;) {
    bool work = net_->has_more_work();
    if (work) net_->TxMore();
    for (size_t i = 0; i < n; ++i) {
      if (!ring_broken_[i] && ServeRing(i)) work = true;
    }
    for (size_t i = 0; i < n; ++i) {
      armed[i] = false;
      pfds[i] = {-1, POLLIN, 0};
      if (ring_broken_[i]) continue;
      pfds[i].fd = rings_[i].kick().fd();
      if (work) continue;
      auto a = rings_[i].ArmSleep();
      if (!a) {
        spdlog::error("ring {} is corrupted, abandoned: {}", i, a.error().message);
        ring_broken_[i] = true;
        pfds[i].fd = -1;
      } else if (*a) {
        work = true;
      } else {
        armed[i] = true;
      }
    }
    for (size_t q = 0; q < 3; ++q) pfds[kDoor + q] = {doorbells_[q].fd(), POLLIN, 0};
    const short tap_events = static_cast<short>((net_->wants_backend_read() ? POLLIN : 0) |
                                                (net_->wants_backend_write() ? POLLOUT : 0));
    pfds[kTap] = {tap_events ? backend_->fd() : -1, tap_events, 0};
    pfds[kResample] = {resample_.fd(), POLLIN, 0};
    pfds[kStop] = {stop_.fd(), POLLIN, 0};
    pfds[kReset] = {reset_.fd(), POLLIN, 0};

    const int rc = ::poll(pfds.data(), pfds.size(), work ? 0 : -1);
    for (size_t i = 0; i < n; ++i) {
      if (armed[i]) rings_[i].DisarmSleep();
    }
    if (rc < 0) {
      if (errno == EINTR) continue;
      spdlog::critical("poll failed: {}", std::strerror(errno));
      return;
    }
    for (size_t i = 0; i < n; ++i) {
      if (pfds[i].revents & POLLIN) (void)rings_[i].kick().TryConsume();
    }
    if (pfds[kStop].revents) break;
    if (pfds[kReset].revents) {
      (void)reset_.TryConsume();
      net_->transport().Reset();
      std::lock_guard lock(mu_);
      resets_done_ = resets_requested_.load();
      cv_.notify_all();
    }
    if (pfds[kResample].revents & POLLIN) {
      (void)resample_.TryConsume();
      net_->transport().Resample();
    }
    // A doorbell the guest wrote after posting register writes (queue
    // setup, DRIVER_OK) must find them applied: serve the rings again first.
    bool kicked = false;
    for (uint16_t q = 0; q < 3; ++q) kicked = kicked || (pfds[kDoor + q].revents & POLLIN);
    if (kicked) {
      for (size_t i = 0; i < n; ++i) {
        if (!ring_broken_[i]) (void)ServeRing(i);
      }
    }
    for (uint16_t q = 0; q < 3; ++q) {
      if (pfds[kDoor + q].revents & POLLIN) {
        (void)doorbells_[q].TryConsume();
        net_->Kick(q);
      }
    }
    const short rev = pfds[kTap].revents;
    if ((rev & POLLOUT) || ((rev & (POLLERR | POLLHUP)) && net_->wants_backend_write())) {
      net_->BackendWritable();
    }
    if (rev & (POLLIN | POLLERR | POLLHUP)) net_->BackendReadable();
  }
  spdlog::info("stopping: served {}, replayed {}, malformed {}", served_.load(), replayed_.load(),
               malformed_.load());
}

}  // namespace bulkhead::net
