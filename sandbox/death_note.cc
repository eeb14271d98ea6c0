#include "sandbox/death_note.h"

#include <fmt/format.h>
#include <seccomp.h>

#include <charconv>
#include <cstdlib>

namespace bulkhead {
namespace {

template <class T>
std::optional<T> ParseNumber(std::string_view s, int base) {
  T v{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::string SyscallName(int nr, uint32_t arch) {
  char* name = seccomp_syscall_resolve_num_arch(arch, nr);
  if (name == nullptr) return "unknown";
  std::string out(name);
  std::free(name);  // libseccomp returns a strdup()ed copy
  return out;
}

std::string BlockedSyscall::ToString() const {
  const std::string name = SyscallName(nr, arch);
  if (name == "unknown") return fmt::format("unknown syscall {} (arch {:#x})", nr, arch);
  if (arch == SCMP_ARCH_X86_64) return fmt::format("{} ({})", name, nr);
  return fmt::format("{} ({}, arch {:#x})", name, nr, arch);
}

std::optional<BlockedSyscall> ReadDeathNote(const DeathNote& note) {
  if (note.magic.load(std::memory_order_acquire) != DeathNote::kMagic) return std::nullopt;
  return BlockedSyscall{note.syscall_nr.load(std::memory_order_relaxed),
                        note.arch.load(std::memory_order_relaxed)};
}

std::optional<BlockedSyscall> ParseDeathNoteLine(std::string_view line) {
  if (!line.starts_with(kDeathNotePrefix)) return std::nullopt;
  line.remove_prefix(kDeathNotePrefix.size());
  const auto space = line.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const auto nr = ParseNumber<int>(line.substr(0, space), 10);
  line.remove_prefix(space);
  if (!line.starts_with(" arch 0x")) return std::nullopt;
  const auto arch = ParseNumber<uint32_t>(line.substr(8), 16);
  if (!nr || !arch) return std::nullopt;
  return BlockedSyscall{*nr, *arch};
}

}  // namespace bulkhead
