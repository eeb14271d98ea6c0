#include "devproc/ahci/ahci_worker.h"

#include <poll.h>
#include <sys/prctl.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "ipc/device_abi/ahci.h"
#include "ipc/device_abi/pci_device.h"
#include "sandbox/jail.h"

namespace bulkhead::ahci {
namespace {

constexpr int kBatch = 64;  // requests per ring per pass: fairness between vCPUs
constexpr uint64_t kMalformedLogLimit = 16;

std::string Field(const char (&f)[20]) {
  std::string s(f, strnlen(f, sizeof f));
  while (!s.empty() && s.back() == ' ') s.pop_back();
  // Only printable ASCII reaches IDENTIFY strings.
  for (char& c : s) {
    if (c < 0x20 || c > 0x7E) c = ' ';
  }
  return s;
}

}  // namespace

void AhciWorker::Irq::Raise() {
  if (auto s = fd_.Signal(); !s && !logged_) {
    logged_ = true;
    spdlog::error("irq trigger write failed (interrupts may be lost): {}", s.error().message);
  }
}

Result<std::unique_ptr<AhciWorker>> AhciWorker::Create(DeviceAttachment a) {
  using namespace abi::ahci;
  if (a.kind != "ahci") return MakeError("attach: kind '{}' is not ahci", a.kind);
  if (!a.state_region) return MakeError("attach: no state region");
  if (a.rings.empty() || a.rings.size() > kMaxRings) {
    return MakeError("attach: {} rings (need 1 to {})", a.rings.size(), kMaxRings);
  }
  if (a.irqs.size() != 1) return MakeError("attach: {} irqs (need exactly 1)", a.irqs.size());
  if (!a.guest_ram || a.ram_regions.empty()) return MakeError("attach: no guest RAM");
  if (a.config.size() < sizeof(AhciConfigBlob)) {
    return MakeError("attach: config of {} bytes, need {}", a.config.size(),
                     sizeof(AhciConfigBlob));
  }
  AhciConfigBlob config;
  std::memcpy(&config, a.config.data(), sizeof config);
  const uint32_t flags = config.flags & (kHasDisk | kDiskReadOnly | kHasCdrom);
  const size_t want = ((flags & kHasDisk) ? 1 : 0) + ((flags & kHasCdrom) ? 1 : 0);
  if (a.backend.size() != want) {
    return MakeError("attach: {} backend fds for flags {:#x} (need {})", a.backend.size(), flags,
                     want);
  }

  std::unique_ptr<AhciWorker> w(new AhciWorker());
  w->state_fd_ = std::move(*a.state_region);
  if (auto s = w->state_fd_.RequireSeals(); !s) return tl::unexpected(s.error());
  if (w->state_fd_.size() < sizeof(AhciStateRegion)) {
    return MakeError("attach: state region of {} bytes is smaller than {}", w->state_fd_.size(),
                     sizeof(AhciStateRegion));
  }
  auto map = Mapping::Map(w->state_fd_);
  if (!map) return tl::unexpected(map.error());
  w->state_map_ = std::move(*map);
  auto region = w->state_map_.as<AhciStateRegion>(0);
  if (!region) return tl::unexpected(region.error());
  // SAFETY: `as` checked size and alignment; the mapping lives as long as the
  // worker; AttachAhciState validates what the model indexes with.
  w->region_ = *region;
  if (AttachAhciState(*w->region_, flags)) {
    spdlog::info("state region was blank or foreign: controller starts at power-on");
  } else {
    spdlog::info("state region: resuming the previous controller state");
  }

  w->ram_fd_ = std::move(*a.guest_ram);
  if (auto s = w->ram_fd_->RequireSeals(); !s) return tl::unexpected(s.error());
  std::vector<RamRegion> regions;
  for (const auto& r : a.ram_regions) regions.push_back({r.gpa, r.size, r.offset});
  auto mem = GuestMemory::Map(w->ram_fd_->fd(), std::move(regions));
  if (!mem) return tl::unexpected(mem.error());
  w->mem_ = std::move(*mem);

  size_t next = 0;
  DiskDevice disk;
  CdromDevice cd;
  if (flags & kHasDisk) {
    w->fds_.push_back(a.backend[next].get());
    auto b = BlockBackend::Open(std::move(a.backend[next++]), (flags & kDiskReadOnly) != 0);
    if (!b) return MakeError("disk image: {}", b.error().message);
    w->disk_ = std::move(*b);
    disk.backend = &w->disk_;
    disk.identity = {Field(config.disk_serial), "BULKHEAD HARDDISK", "1.0"};
    spdlog::info("disk: {} sectors{}{}", w->disk_.size() / 512,
                 w->disk_.read_only() ? ", read-only" : "",
                 w->disk_.can_punch() ? ", TRIM" : "");
  }
  if (flags & kHasCdrom) {
    w->fds_.push_back(a.backend[next].get());
    auto b = BlockBackend::Open(std::move(a.backend[next++]), true);
    if (!b) return MakeError("CD-ROM image: {}", b.error().message);
    w->cdrom_ = std::move(*b);
    cd.backend = &w->cdrom_;
    cd.identity = {Field(config.cdrom_serial), "BULKHEAD DVD-ROM", "1.0"};
  }

  for (auto& r : a.rings) {
    w->fds_.insert(w->fds_.end(), {r.fds.memory.fd(), r.fds.kick.fd(), r.fds.done.fd()});
    auto c = ExitRingConsumer::Attach(std::move(r.fds));
    if (!c) return MakeError("ring of vcpu {}: {}", r.vcpu, c.error().message);
    w->rings_.push_back(std::move(*c));
  }
  w->ring_broken_.assign(w->rings_.size(), false);
  w->irq_fd_ = std::move(a.irqs[0].trigger);
  if (a.irqs[0].resample) w->resample_ = std::move(*a.irqs[0].resample);
  auto stop = EventFd::Create(0, EFD_NONBLOCK);
  if (!stop) return tl::unexpected(stop.error());
  w->stop_ = std::move(*stop);

  w->irq_ = std::make_unique<Irq>(w->irq_fd_);
  w->hba_ = std::make_unique<AhciController>(*w->region_, w->mem_, disk, cd, flags, *w->irq_);

  w->ring_thread_ = std::thread([p = w.get()] { p->RunRings(); });
  w->io_thread_ = std::thread([p = w.get()] { p->RunIo(); });
  std::unique_lock lock(w->mu_);
  w->cv_.wait(lock, [&] { return w->threads_ready_ + w->threads_failed_ == 2; });
  if (w->threads_failed_ != 0) {
    lock.unlock();
    w->Stop();
    return MakeError("a worker thread could not drop its capabilities");
  }
  return w;
}

AhciWorker::~AhciWorker() { Stop(); }

std::vector<int> AhciWorker::fds() const {
  std::vector<int> out = fds_;
  out.insert(out.end(), {state_fd_.fd(), ram_fd_->fd(), irq_fd_.fd(), stop_.fd()});
  if (resample_) out.push_back(resample_->fd());
  return out;
}

void AhciWorker::Start() {
  std::lock_guard lock(mu_);
  started_ = true;
  cv_.notify_all();
}

void AhciWorker::Stop() {
  {
    std::lock_guard lock(mu_);
    abort_start_ = true;
    cv_.notify_all();
  }
  if (stop_.valid()) (void)stop_.Signal();
  if (hba_) hba_->Shutdown();
  if (ring_thread_.joinable()) ring_thread_.join();
  if (io_thread_.joinable()) io_thread_.join();
}

DeviceHealth AhciWorker::Health() const {
  const ControllerStats s = hba_->stats();
  return {served_.load(),
          s.replayed_writes,
          malformed_.load() + s.bad_accesses,
          {{"commands", s.commands},
           {"command_errors", s.command_errors},
           {"host_bus_errors", s.host_bus_errors},
           {"cancelled", s.cancelled}}};
}

Status AhciWorker::Reset() {
  hba_->Reset();  // thread-safe; a command still running completes into nothing
  return {};
}

bool AhciWorker::EnterThread() {
  Status dropped = DropAllCapabilities();
  if (dropped && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    dropped = ErrnoError("PR_SET_NO_NEW_PRIVS");
  }
  if (!dropped) spdlog::error("worker thread: {}", dropped.error().message);
  std::unique_lock lock(mu_);
  (dropped ? threads_ready_ : threads_failed_) += 1;
  cv_.notify_all();
  cv_.wait(lock, [&] { return started_ || abort_start_; });
  return started_ && !abort_start_ && dropped;
}

void AhciWorker::RunIo() {
  if (!EnterThread()) return;
  while (auto item = hba_->WaitForWork()) hba_->Execute(*item);
}

void AhciWorker::Serve(size_t ring, const ExitRequest& req) {
  uint64_t reply = 0;
  const bool ours = req.space == AccessSpace::kMmio &&
                    abi::RegionOf(req.addr) == abi::ahci::kAbarBar &&
                    abi::OffsetOf(req.addr) < abi::ahci::kAbarSize;
  if (!ours) {
    const uint64_t n = malformed_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (n <= kMalformedLogLimit) {
      spdlog::warn("request outside the ABAR on ring {}: space {} size {} addr {:#x}", ring,
                   static_cast<int>(req.space), req.size, req.addr);
    }
    reply = req.is_write ? 0 : ~uint64_t{0};
  } else if (req.is_write) {
    (void)hba_->WriteOnce(static_cast<uint32_t>(ring), req.seq, abi::OffsetOf(req.addr), req.size,
                          req.data);
    served_.fetch_add(1, std::memory_order_relaxed);
  } else {
    reply = hba_->Read(abi::OffsetOf(req.addr), req.size);
    served_.fetch_add(1, std::memory_order_relaxed);
  }
  if (auto s = rings_[ring].Complete(reply); !s) {
    spdlog::error("ring {}: complete failed, ring abandoned: {}", ring, s.error().message);
    ring_broken_[ring] = true;
  }
}

bool AhciWorker::ServeRing(size_t i) {
  for (int n = 0; n < kBatch && !ring_broken_[i]; ++n) {
    auto r = rings_[i].Peek();
    if (!r) {
      const uint64_t m = malformed_.fetch_add(1, std::memory_order_relaxed) + 1;
      if (m <= kMalformedLogLimit) spdlog::warn("ring {}: {}", i, r.error().message);
      if (auto s = rings_[i].Complete(~uint64_t{0}); !s) {
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

void AhciWorker::RunRings() {
  if (!EnterThread()) return;
  const size_t resumed = hba_->Recover();
  spdlog::info("serving {} ring(s); {} command(s) resumed from the journal", rings_.size(),
               resumed);
  const size_t n = rings_.size();
  std::vector<pollfd> pfds(n + 2);
  std::vector<bool> armed(n);
  for (;;) {
    bool work = false;
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
    pfds[n] = {resample_ ? resample_->fd() : -1, POLLIN, 0};
    pfds[n + 1] = {stop_.fd(), POLLIN, 0};
    const int rc = ::poll(pfds.data(), pfds.size(), work ? 0 : -1);
    for (size_t i = 0; i < n; ++i) {
      if (armed[i]) rings_[i].DisarmSleep();
    }
    if (rc < 0) {
      if (errno == EINTR) continue;
      spdlog::critical("poll failed: {}", std::strerror(errno));
      break;
    }
    for (size_t i = 0; i < n; ++i) {
      if (pfds[i].revents & POLLIN) (void)rings_[i].kick().TryConsume();
    }
    if (pfds[n + 1].revents) break;
    if (pfds[n].revents & POLLIN) {
      (void)resample_->TryConsume();
      hba_->Resample();
    }
  }
  const ControllerStats s = hba_->stats();
  spdlog::info("stopping: served {}, commands {} ({} failed, {} host bus errors), bad accesses {}",
               served_.load(), s.commands, s.command_errors, s.host_bus_errors, s.bad_accesses);
}

uint64_t AhciWorker::max_file_size() const { return std::max(disk_.size(), cdrom_.size()); }

}  // namespace bulkhead::ahci
