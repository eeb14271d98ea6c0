// Exit-ring latency microbenchmark (not a test): a consumer thread serves a
// producer thread; reports ns per posted write and per synchronous read.
//   exit_ring_bench [iterations] [spin_ns]
// With the default spin 0 both sides sleep on eventfds whenever idle, which is
// the configuration the core runs with (see DESIGN.md on 2-core machines).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "ipc/exit_ring.h"

namespace {

using bulkhead::AccessSpace;
using bulkhead::ExitRequest;
using Clock = std::chrono::steady_clock;

double NsPer(Clock::duration d, long n) {
  return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()) /
         static_cast<double>(n);
}

}  // namespace

int main(int argc, char** argv) {
  const long iterations = argc > 1 ? std::atol(argv[1]) : 20000;
  const auto spin = std::chrono::nanoseconds(argc > 2 ? std::atol(argv[2]) : 0);
  const bulkhead::WaitOptions wait{.spin = spin};

  auto fds = bulkhead::CreateExitRing(64);
  if (!fds) return std::fprintf(stderr, "%s\n", fds.error().message.c_str()), 1;
  auto producer = bulkhead::ExitRingProducer::Attach(fds->Dup().value());
  auto consumer = bulkhead::ExitRingConsumer::Attach(fds->Dup().value());
  if (!producer || !consumer) return std::fprintf(stderr, "attach failed\n"), 1;

  std::atomic<bool> stop{false};
  std::thread server([&] {
    while (!stop.load()) {
      auto woke = consumer->WaitForWork(
          bulkhead::WaitOptions{.spin = spin, .timeout = std::chrono::milliseconds(50)});
      if (!woke) return;
      while (auto r = consumer->Peek()) {
        if (!*r) break;
        if (!consumer->Complete((*r)->addr)) return;
      }
    }
  });

  const ExitRequest write{.space = AccessSpace::kPio, .size = 1, .is_write = true, .addr = 0x3f8};
  auto t0 = Clock::now();
  for (long i = 0; i < iterations; ++i) {
    if (!producer->Post(write, wait)) return std::fprintf(stderr, "post failed\n"), 1;
  }
  // Drain so the read timing starts from an idle ring.
  if (!producer->Read(AccessSpace::kPio, 0, 1, wait)) return 1;
  auto t1 = Clock::now();
  for (long i = 0; i < iterations; ++i) {
    if (!producer->Read(AccessSpace::kPio, 0x3fd, 1, wait))
      return std::fprintf(stderr, "read failed\n"), 1;
  }
  auto t2 = Clock::now();
  stop.store(true);
  server.join();
  std::printf("spin %lld ns: posted write %.0f ns, synchronous read %.0f ns (%ld each)\n",
              static_cast<long long>(spin.count()), NsPer(t1 - t0, iterations),
              NsPer(t2 - t1, iterations), iterations);
  return 0;
}
