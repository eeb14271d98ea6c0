// How a device process tells the core which syscall its seccomp filter
// blocked, just before it dies of it.
//
// The filter answers a blocked syscall with SECCOMP_RET_TRAP. The jail's
// SIGSYS handler (sandbox/sigsys_reporter.h) then leaves a death note in two
// places, both written with async-signal-safe code only:
//   * a line on stderr, which the core reads from the device's log pipe:
//       "bulkhead-sandbox: blocked syscall 257 arch 0xc000003e"
//   * optionally a DeathNote struct in a shared page the core passed in,
//     which survives even if the log pipe is full.
// It then re-issues the syscall with the handler reset, so the kernel kills
// the process with SIGSYS and the core's waitid() sees "killed by SIGSYS".
// The device never resolves the name (that would allocate in a signal
// handler); the core does, with libseccomp.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bulkhead {

inline constexpr std::string_view kDeathNotePrefix = "bulkhead-sandbox: blocked syscall ";

struct BlockedSyscall {
  int nr = -1;
  uint32_t arch = 0;  // AUDIT_ARCH_* of the syscall ABI used
  bool operator==(const BlockedSyscall&) const = default;
  // "openat (257)" or "unknown syscall 999 (arch 0x...)".
  [[nodiscard]] std::string ToString() const;
};

// Fixed layout in shared memory; plain atomics so it is valid whatever
// instruction the writer died at. `magic` is stored last (release) and is
// the only thing a reader trusts first.
struct DeathNote {
  static constexpr uint32_t kMagic = 0x4e485442;  // "BTHN"
  std::atomic<uint32_t> magic;
  std::atomic<uint32_t> arch;
  std::atomic<int32_t> syscall_nr;
  std::atomic<uint32_t> reserved;
  std::atomic<uint64_t> instruction_pointer;
};
static_assert(std::atomic<uint32_t>::is_always_lock_free &&
              std::atomic<uint64_t>::is_always_lock_free);
static_assert(sizeof(DeathNote) == 24);

// Reads a note written by a device (maybe garbage: the device is untrusted).
[[nodiscard]] std::optional<BlockedSyscall> ReadDeathNote(const DeathNote& note);

// Parses one stderr line of a device; nullopt if it is not a death note.
[[nodiscard]] std::optional<BlockedSyscall> ParseDeathNoteLine(std::string_view line);

// Name of syscall `nr` in ABI `arch` (libseccomp's table), or "unknown".
[[nodiscard]] std::string SyscallName(int nr, uint32_t arch);

}  // namespace bulkhead
