#include "sandbox/seccomp_program.h"

namespace bulkhead {

Result<std::span<const sock_filter>> FindSeccompProgram(std::string_view kind) {
  for (size_t i = 0; i < kSeccompProgramCount; ++i) {
    if (kind == kSeccompPrograms[i].name) {
      return std::span<const sock_filter>(kSeccompPrograms[i].filter, kSeccompPrograms[i].length);
    }
  }
  return MakeError("no seccomp policy compiled for device kind '{}'", kind);
}

std::vector<std::string_view> SeccompProgramNames() {
  std::vector<std::string_view> names;
  for (size_t i = 0; i < kSeccompProgramCount; ++i) names.emplace_back(kSeccompPrograms[i].name);
  return names;
}

}  // namespace bulkhead
