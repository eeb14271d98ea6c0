// Test device that behaves: jails itself with the serial policy, proves a
// few allowed syscalls still work, reports on its pipe and waits.
//
// fds: 3 = report pipe (write end), 4 = hold pipe (read end): first a token
// line to echo back on 3, then EOF = exit 0.
// The test inspects this process from outside (/proc/<pid>/...) while it
// waits, so everything is checked against the real jail.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <string>

#include "sandbox/jail.h"
#include "sandbox/seccomp_program.h"

namespace {

bool Report(const std::string& line) {
  const std::string l = line + "\n";
  return write(3, l.data(), l.size()) == static_cast<ssize_t>(l.size());
}

}  // namespace

// Sanitizer builds: LeakSanitizer's exit-time check starts a tracer (prctl,
// clone, ptrace), which no device policy allows. Leak checking of the test
// devices is not what these tests are about; without ASan this is unused.
extern "C" const char* __asan_default_options() { return "detect_leaks=0"; }

int main() {
  auto program = bulkhead::FindSeccompProgram("serial");
  if (!program) {
    std::fprintf(stderr, "harmless: %s\n", program.error().message.c_str());
    return 2;
  }
  bulkhead::JailSpec spec;
  spec.keep_fds = {3, 4};
  spec.seccomp = *program;
  if (auto st = bulkhead::EnterJail(spec); !st) {
    std::fprintf(stderr, "harmless: %s\n", st.error().message.c_str());
    Report("jail-failed " + st.error().message);
    return 3;
  }
  // What KJ's event loop needs must still work inside the jail.
  const int ev = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ev < 0 || ep < 0) return 4;
  epoll_event e{};
  e.events = EPOLLIN;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e) != 0) return 5;
  uint64_t one = 1;
  if (write(ev, &one, sizeof one) != sizeof one) return 6;
  if (epoll_wait(ep, &e, 1, 1000) != 1) return 7;
  close(ev);
  close(ep);
  // Local time formatting (every spdlog line) must not reach for a file.
  const time_t now = time(nullptr);
  tm local{};
  if (localtime_r(&now, &local) == nullptr) return 9;
  // Echo the token the core wrote into the hold pipe: proves fd 4 and fd 3
  // are the pipes the core meant, not swapped or clobbered.
  std::string token;
  for (char c; read(4, &c, 1) == 1 && c != '\n' && token.size() < 64;) token += c;
  std::fprintf(stderr, "harmless: jailed and serving\n");
  if (!Report("jailed " + token)) return 8;

  char buf[16];
  while (read(4, buf, sizeof buf) > 0) {
  }
  return 0;
}
