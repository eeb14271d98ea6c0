// The real bulkhead-ahci process, driven as the core drives it: spawned with
// sandbox Spawn (fd 3 = control socket), attached with a state region, one
// exit ring, the line irq with its resample fd, a memfd as guest RAM and two
// temp image files; then programmed through MMIO on the ring like libahci,
// with commands built in the guest-RAM memfd. No KVM: the test plays the vCPU.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "devproc/ahci/ahci_regs.h"
#include "devproc/ahci/ahci_state.h"
#include "devproc/ahci/fis.h"
#include "ipc/control.h"
#include "ipc/device_abi/ahci.h"
#include "ipc/exit_ring.h"
#include "sandbox/device_log.h"
#include "sandbox/exit_reason.h"
#include "sandbox/spawn.h"

namespace bulkhead::ahci {
namespace {

using ::testing::HasSubstr;

constexpr auto kTimeout = std::chrono::milliseconds(5000);
const WaitOptions kWait{.timeout = kTimeout};
constexpr uint64_t kRam = 16 << 20;
constexpr uint64_t kAbar = uint64_t{abi::ahci::kAbarBar} << 48;
constexpr uint64_t kClb = 0x1000, kFb = 0x2000, kTable = 0x10000, kData = 0x100000;

struct RunningDevice {
  Child child;
  std::unique_ptr<DeviceControlClient> client;
};

std::string ProcFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class AhciProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = ControlLoop::Create();
    ASSERT_TRUE(loop) << loop.error().message;
    loop_ = std::move(*loop);
    auto state = MemFd::Create("ahci-state", (sizeof(AhciStateRegion) + 4095) / 4096 * 4096);
    ASSERT_TRUE(state);
    ASSERT_TRUE(state->Seal());
    state_ = std::move(*state);
    auto ram = MemFd::Create("guest-ram", kRam);
    ASSERT_TRUE(ram);
    ASSERT_TRUE(ram->Seal());
    ram_ = std::move(*ram);
    auto map = Mapping::Map(ram_);
    ASSERT_TRUE(map);
    ram_map_ = std::move(*map);
    auto ring = CreateExitRing(64);
    ASSERT_TRUE(ring) << ring.error().message;
    auto dup = ring->Dup();
    ASSERT_TRUE(dup);
    auto producer = ExitRingProducer::Attach(std::move(*dup));
    ASSERT_TRUE(producer) << producer.error().message;
    ring_ = std::move(*ring);
    producer_.emplace(std::move(*producer));
    auto irq = EventFd::Create(0, EFD_NONBLOCK);
    auto resample = EventFd::Create(0, EFD_NONBLOCK);
    ASSERT_TRUE(irq && resample);
    irq_ = std::move(*irq);
    resample_ = std::move(*resample);
    disk_path_ = MakeImage("disk", 1 << 20);
    iso_path_ = MakeImage("iso", 2048 * 64);
  }

  void TearDown() override {
    for (auto& d : devices_) {
      if (d.child.pidfd) {
        (void)SignalChild(d.child, SIGKILL);
        (void)WaitForExit(d.child.pidfd);
      }
      if (d.child.stderr_pipe) {
        ::fcntl(d.child.stderr_pipe.get(), F_SETFL, O_NONBLOCK);
        DeviceLog log("ahci", [](std::string_view, std::string_view line) {
          std::cerr << "  [device] " << line << "\n";
        });
        while (true) {
          auto more = log.ReadFrom(d.child.stderr_pipe);
          if (!more || !*more) break;
        }
      }
    }
    ::unlink(disk_path_.c_str());
    ::unlink(iso_path_.c_str());
  }

  static std::string MakeImage(const char* tag, size_t bytes) {
    std::string path = std::string("/tmp/ahci-proc-") + tag + "-XXXXXX";
    const int fd = ::mkstemp(path.data());
    EXPECT_GE(fd, 0);
    std::vector<uint8_t> buf(bytes);
    for (size_t i = 0; i < bytes; i += 4) {
      const uint32_t v = static_cast<uint32_t>(i / 512 * 1000 + i % 512);
      std::memcpy(&buf[i], &v, 4);
    }
    EXPECT_EQ(::write(fd, buf.data(), bytes), static_cast<ssize_t>(bytes));
    ::close(fd);
    return path;
  }

  RunningDevice& StartDevice() {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    UniqueFd core_end(sv[0]), device_end(sv[1]);
    SpawnSpec spec;
    spec.name = "ahci";
    spec.binary = BULKHEAD_AHCI_DEVICE;
    spec.argv = {spec.binary};
    spec.fds = {{device_end.get(), 3}};
    auto child = Spawn(spec);
    EXPECT_TRUE(child) << child.error().message;
    auto client = DeviceControlClient::Connect(*loop_, std::move(core_end));
    EXPECT_TRUE(client) << client.error().message;
    devices_.push_back({std::move(*child), std::move(*client)});
    RunningDevice& d = devices_.back();

    DeviceAttachment a;
    a.kind = "ahci";
    a.state_region = std::move(*state_.Dup());
    a.rings.push_back({0, std::move(*ring_.Dup())});
    a.irqs.push_back({11, std::move(*irq_.Dup()), std::move(*resample_.Dup())});
    a.backend.push_back(UniqueFd(::open(disk_path_.c_str(), O_RDWR | O_CLOEXEC)));
    a.backend.push_back(UniqueFd(::open(iso_path_.c_str(), O_RDONLY | O_CLOEXEC)));
    a.guest_ram = std::move(*ram_.Dup());
    a.ram_regions.push_back({0, kRam, 0});
    abi::ahci::AhciConfigBlob blob{};
    blob.flags = abi::ahci::kHasDisk | abi::ahci::kHasCdrom;
    std::memcpy(blob.disk_serial, "PROCDISK0001        ", 20);
    std::memcpy(blob.cdrom_serial, "PROCCD0001          ", 20);
    a.config.resize(sizeof blob);
    std::memcpy(a.config.data(), &blob, sizeof blob);
    auto st = d.client->Attach(a);
    EXPECT_TRUE(st) << st.error().message;
    return d;
  }

  void W(uint32_t offset, uint32_t value) {
    ExitRequest r{.space = AccessSpace::kMmio, .size = 4, .is_write = true, .addr = kAbar | offset,
                  .data = value};
    auto st = producer_->Post(r, kWait);
    ASSERT_TRUE(st) << st.error().message;
  }
  uint32_t R(uint32_t offset) {
    auto v = producer_->Read(AccessSpace::kMmio, kAbar | offset, 4, kWait);
    EXPECT_TRUE(v) << v.error().message;
    return v ? static_cast<uint32_t>(*v) : 0xDEAD;
  }
  uint32_t P(uint32_t reg) { return R(kPortBase + reg); }
  void SetP(uint32_t reg, uint32_t v) { W(kPortBase + reg, v); }

  uint8_t* Ram(uint64_t gpa) { return reinterpret_cast<uint8_t*>(ram_map_.data()) + gpa; }

  // libahci's port 0 bring-up through the ring.
  void InitPort0() {
    W(kGhc, kGhcAe);
    SetP(kPxCmd, 0);
    SetP(kPxClb, kClb);
    SetP(kPxFb, kFb);
    SetP(kPxCmd, kCmdFre);
    SetP(kPxSctl, 0x301);
    SetP(kPxSctl, 0x300);
    SetP(kPxSerr, 0xFFFFFFFF);
    SetP(kPxIs, 0xFFFFFFFF);
    SetP(kPxIe, 0xFDC000FF);
    W(kGhc, kGhcAe | kGhcIe);
    SetP(kPxCmd, kCmdFre | kCmdSt);
    EXPECT_EQ(P(kPxSsts), 0x123u);
    EXPECT_EQ(P(kPxSig), kSigDisk);
  }

  // Builds slot 0 with `fis` and one PRD, issues it, waits for CI to clear.
  uint32_t RunCommand(const H2dFis& fis, uint32_t bytes) {
    const auto cfis = EncodeH2d(fis);
    std::memset(Ram(kTable), 0, 0x100);
    std::memcpy(Ram(kTable), cfis.data(), cfis.size());
    const uint32_t prd[4] = {static_cast<uint32_t>(kData), 0, 0, bytes - 1};
    std::memcpy(Ram(kTable + 0x80), prd, sizeof prd);
    const uint32_t hdr[8] = {5u | (1u << 16), 0, static_cast<uint32_t>(kTable), 0, 0, 0, 0, 0};
    std::memcpy(Ram(kClb), hdr, sizeof hdr);
    (void)irq_.TryConsume();
    SetP(kPxCi, 1);
    auto fired = irq_.WaitFor(kTimeout);
    EXPECT_TRUE(fired && fired->has_value()) << "no interrupt";
    uint32_t ci = 1;
    for (int i = 0; i < 500 && ci != 0; ++i) {
      ci = P(kPxCi);
      if (ci) ::usleep(1000);
    }
    EXPECT_EQ(ci, 0u);
    const uint32_t is = P(kPxIs);
    SetP(kPxIs, is);
    return P(kPxTfd);
  }

  static H2dFis Ata(uint8_t cmd, uint64_t lba, uint16_t count) {
    H2dFis f;
    f.command_update = true;
    f.command = cmd;
    f.lba = lba;
    f.count = count;
    f.device = 0x40;
    return f;
  }

  std::unique_ptr<ControlLoop> loop_;
  MemFd state_, ram_;
  Mapping ram_map_;
  ExitRingFds ring_;
  std::optional<ExitRingProducer> producer_;
  EventFd irq_, resample_;
  std::string disk_path_, iso_path_;
  std::deque<RunningDevice> devices_;
};

TEST_F(AhciProcessTest, IdentifyAndReadDmaThroughTheRingsJailed) {
  RunningDevice& d = StartDevice();
  InitPort0();
  EXPECT_EQ(RunCommand(Ata(0xEC, 0, 0), 512) & 0xFF, kStsGood);
  // Serial from the config blob, byte-swapped per ATA string rules.
  EXPECT_EQ(Ram(kData)[20], 'R');
  EXPECT_EQ(Ram(kData)[21], 'P');
  uint16_t w100;
  std::memcpy(&w100, Ram(kData + 200), 2);
  EXPECT_EQ(w100, 2048);  // 1 MiB of 512-byte sectors

  EXPECT_EQ(RunCommand(Ata(0xC8, 3, 2), 1024) & 0xFF, kStsGood);
  uint32_t v;
  std::memcpy(&v, Ram(kData), 4);
  EXPECT_EQ(v, 3000u);
  std::memcpy(&v, Ram(kData + 512), 4);
  EXPECT_EQ(v, 4000u);

  // A write inside the jail (RLIMIT_FSIZE must allow the whole image).
  for (int i = 0; i < 512; ++i) Ram(kData)[i] = static_cast<uint8_t>(i ^ 0x5A);
  EXPECT_EQ(RunCommand(Ata(0xCA, 2047, 1), 512) & 0xFF, kStsGood);
  EXPECT_EQ(RunCommand(Ata(0xE7, 0, 0), 1) & 0xFF, kStsGood);
  {
    std::vector<uint8_t> back(512);
    const int fd = ::open(disk_path_.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(::pread(fd, back.data(), 512, 2047 * 512), 512);
    ::close(fd);
    EXPECT_EQ(back[1], 1 ^ 0x5A);
    EXPECT_EQ(back[511], static_cast<uint8_t>(511 ^ 0x5A));
  }
  // TRIM inside the jail: fallocate is allowed with exactly PUNCH_HOLE|KEEP_SIZE.
  std::memset(Ram(kData), 0, 512);
  const uint64_t range = 1000 | (uint64_t{8} << 48);
  std::memcpy(Ram(kData), &range, 8);
  H2dFis trim = Ata(0x06, 0, 1);
  trim.features = 1;
  EXPECT_EQ(RunCommand(trim, 512) & 0xFF, kStsGood);

  // Out of range: IDNF, the process lives on.
  EXPECT_EQ((RunCommand(Ata(0x25, 4096, 1), 512) >> 8) & 0xFF, kErrIdnf);
  // A level line EOIed while still pending comes back through resample.
  EXPECT_EQ(RunCommand(Ata(0xE7, 0, 0), 1) & 0xFF, kStsGood);
  SetP(kPxCi, 0);  // no-op write, keeps order
  (void)irq_.TryConsume();

  const pid_t pid = d.child.pid;
  const std::string status = ProcFile("/proc/" + std::to_string(pid) + "/status");
  EXPECT_THAT(status, HasSubstr("Seccomp:\t2\n"));
  EXPECT_THAT(status, HasSubstr("NoNewPrivs:\t1\n"));
  int threads = 0;
  for (const auto& t : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    const std::string s = ProcFile(t.path() / "status");
    EXPECT_THAT(s, HasSubstr("Seccomp:\t2\n")) << t.path();
    EXPECT_THAT(s, HasSubstr("CapEff:\t0000000000000000\n")) << t.path();
    ++threads;
  }
  EXPECT_EQ(threads, 3);  // main (control), rings, I/O

  auto health = d.client->Health();
  ASSERT_TRUE(health) << health.error().message;
  EXPECT_EQ(health->malformed_requests, 0u);
  ASSERT_TRUE(d.client->Shutdown());
  auto reason = WaitForExit(d.child.pidfd);
  ASSERT_TRUE(reason);
  EXPECT_EQ(reason->kind, ExitReason::Kind::kExited);
  EXPECT_EQ(reason->code, 0);
  d.child.pidfd.reset();
}

TEST_F(AhciProcessTest, StateSurvivesSigkill) {
  RunningDevice& first = StartDevice();
  InitPort0();
  ASSERT_TRUE(SignalChild(first.child, SIGKILL));
  ASSERT_TRUE(WaitForExit(first.child.pidfd));
  first.child.pidfd.reset();
  // A posted write waits in the ring while no device runs.
  SetP(kPxIs, 0xFFFFFFFF);
  StartDevice();
  EXPECT_EQ(P(kPxClb), kClb);
  EXPECT_TRUE(P(kPxCmd) & kCmdCr);
  EXPECT_EQ(RunCommand(Ata(0x25, 7, 1), 512) & 0xFF, kStsGood);
  uint32_t v;
  std::memcpy(&v, Ram(kData), 4);
  EXPECT_EQ(v, 7000u);
}

// The worst moment to die: a command issued (journaled, PxCI set) and not
// completed. The test plays that process: it writes the journal entry into
// the state region itself, as Issue() would have. The successor must run
// the command from the journal and complete it with an interrupt.
TEST_F(AhciProcessTest, CommandInFlightAtSigkillRunsInTheSuccessor) {
  RunningDevice& first = StartDevice();
  InitPort0();
  ASSERT_TRUE(SignalChild(first.child, SIGKILL));
  ASSERT_TRUE(WaitForExit(first.child.pidfd));
  first.child.pidfd.reset();

  const auto cfis = EncodeH2d(Ata(0xC8, 9, 1));
  std::memset(Ram(kTable), 0, 0x100);
  std::memcpy(Ram(kTable), cfis.data(), cfis.size());
  const uint32_t prd[4] = {static_cast<uint32_t>(kData), 0, 0, 511};
  std::memcpy(Ram(kTable + 0x80), prd, sizeof prd);
  const uint32_t hdr[8] = {5u | (1u << 16), 0, static_cast<uint32_t>(kTable), 0, 0, 0, 0, 0};
  std::memcpy(Ram(kClb + 32 * 6), hdr, sizeof hdr);
  std::memset(Ram(kData), 0, 512);
  {
    auto map = Mapping::Map(state_);
    ASSERT_TRUE(map);
    auto region = map->as<AhciStateRegion>(0);
    ASSERT_TRUE(region);
    PortState& port = (*region)->ports[0];
    JournalEntry& e = port.journal[6];
    e.state = kSlotIssued;
    e.generation = port.generation;
    std::memcpy(e.header, hdr, sizeof e.header);
    std::memcpy(e.cfis, cfis.data(), sizeof e.cfis);
    port.ci |= 1u << 6;
  }
  (void)irq_.TryConsume();
  StartDevice();
  auto fired = irq_.WaitFor(kTimeout);
  EXPECT_TRUE(fired && fired->has_value()) << "no interrupt for the resumed command";
  EXPECT_EQ(P(kPxCi), 0u);
  EXPECT_TRUE(P(kPxIs) & kIsDhrs);
  uint32_t v;
  std::memcpy(&v, Ram(kData), 4);
  EXPECT_EQ(v, 9000u);
}

}  // namespace
}  // namespace bulkhead::ahci
