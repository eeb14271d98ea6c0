// Test device that misbehaves after entering the jail. argv[1] picks the
// attack; the test expects the process to die by SIGSYS, and (for trapped
// syscalls) a death note naming the syscall.
//
// fds: 3 = a one-page memfd for the DeathNote.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "sandbox/jail.h"
#include "sandbox/seccomp_program.h"

// Sanitizer builds: LeakSanitizer's exit-time check starts a tracer (prctl,
// clone, ptrace), which no device policy allows. Leak checking of the test
// devices is not what these tests are about; without ASan this is unused.
extern "C" const char* __asan_default_options() { return "detect_leaks=0"; }

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  void* page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 3, 0);
  if (page == MAP_FAILED) return 3;
  auto program = bulkhead::FindSeccompProgram("serial");
  if (!program) return 4;
  bulkhead::JailSpec spec;
  spec.seccomp = *program;
  // SAFETY: the page is 4096 bytes, mapped for the process lifetime, and
  // only ever accessed through DeathNote's atomics.
  spec.death_note = static_cast<bulkhead::DeathNote*>(page);
  if (auto st = bulkhead::EnterJail(spec); !st) {
    std::fprintf(stderr, "malicious: %s\n", st.error().message.c_str());
    return 5;
  }
  const char* attack = argv[1];
  if (std::strcmp(attack, "openat") == 0) {
    openat(AT_FDCWD, "/etc/passwd", O_RDONLY);
  } else if (std::strcmp(attack, "socket") == 0) {
    syscall(SYS_socket, 2 /* AF_INET */, 1 /* SOCK_STREAM */, 0);
  } else if (std::strcmp(attack, "mmap-exec") == 0) {
    mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  } else if (std::strcmp(attack, "x32") == 0) {
    // getpid through the x32 ABI: allowed number, wrong ABI.
    syscall(0x40000000 | SYS_getpid);
  }
  return 6;  // still alive: the filter failed
}
