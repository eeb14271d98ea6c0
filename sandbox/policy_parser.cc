#include "sandbox/policy_parser.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <linux/if_tun.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

namespace bulkhead {
namespace {

// Names a policy may use instead of numbers. Kept deliberately small: a new
// entry is part of the policy review.
constexpr std::pair<std::string_view, uint64_t> kPolicyConstants[] = {
    {"AT_EMPTY_PATH", AT_EMPTY_PATH},
    {"PROT_READ", PROT_READ},
    {"PROT_WRITE", PROT_WRITE},
    {"PROT_EXEC", PROT_EXEC},
    {"F_GETFD", F_GETFD},
    {"F_SETFD", F_SETFD},
    {"F_GETFL", F_GETFL},
    {"F_SETFL", F_SETFL},
    {"F_DUPFD_CLOEXEC", F_DUPFD_CLOEXEC},
    {"F_GET_SEALS", F_GET_SEALS},
    {"FIONBIO", FIONBIO},
    {"FIOCLEX", FIOCLEX},
    {"FIONREAD", FIONREAD},
    {"TCGETS", TCGETS},
    {"TIOCGWINSZ", TIOCGWINSZ},
    {"TUNSETOFFLOAD", TUNSETOFFLOAD},
    {"TUNSETVNETHDRSZ", TUNSETVNETHDRSZ},
    {"FUTEX_CMD_MASK", FUTEX_CMD_MASK},
    {"FUTEX_WAIT", FUTEX_WAIT},
    {"FUTEX_WAKE", FUTEX_WAKE},
};

// Reaching a path, a socket or a new program is what the jail exists to
// prevent; refuse them here so that no reviewed file can slip one in.
constexpr std::string_view kForbidden[] = {
    "open",
    "openat",
    "openat2",
    "creat",
    "socket",
    "socketpair",
    "connect",
    "bind",
    "execve",
    "execveat",
    "ptrace",
    "mount",
    "umount2",
    "chroot",
    "pivot_root",
    "setns",
    "unshare",
    "kexec_load",
    "bpf",
    "perf_event_open",
    "process_vm_writev",
    "open_by_handle_at",
    "name_to_handle_at",
    "userfaultfd",
    "io_uring_setup",
    "memfd_create",
};

std::string_view Trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r");
  return s.substr(first, last - first + 1);
}

// Splits on a multi-character separator.
std::vector<std::string_view> Split(std::string_view s, std::string_view sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t pos; (pos = s.find(sep, start)) != std::string_view::npos; start = pos + sep.size()) {
    out.push_back(Trim(s.substr(start, pos - start)));
  }
  out.push_back(Trim(s.substr(start)));
  return out;
}

Result<uint64_t> ParseValue(std::string_view token) {
  if (auto named = LookupPolicyConstant(token)) return *named;
  int base = 10;
  if (token.starts_with("0x") || token.starts_with("0X")) {
    token.remove_prefix(2);
    base = 16;
  }
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), v, base);
  if (token.empty() || ec != std::errc() || end != token.data() + token.size()) {
    return MakeError("unknown value '{}' (not a number nor a known constant)", token);
  }
  return v;
}

// "argN == V" or "argN & M == V".
Result<ArgCompare> ParseCompare(std::string_view text) {
  const auto eq = text.find("==");
  if (eq == std::string_view::npos) {
    return MakeError("comparison '{}' has no '==' (only == and masked == are supported)", text);
  }
  std::string_view lhs = Trim(text.substr(0, eq));
  const std::string_view rhs = Trim(text.substr(eq + 2));
  ArgCompare cmp;
  cmp.mask = 0xffffffffULL;  // see the header: int arguments compare 32 bits
  if (const auto amp = lhs.find('&'); amp != std::string_view::npos) {
    auto mask = ParseValue(Trim(lhs.substr(amp + 1)));
    if (!mask) return tl::unexpected(mask.error());
    cmp.mask = *mask;
    lhs = Trim(lhs.substr(0, amp));
  }
  if (lhs.size() != 4 || !lhs.starts_with("arg") || lhs[3] < '0' || lhs[3] > '5') {
    return MakeError("'{}' is not an argument (arg0..arg5)", lhs);
  }
  cmp.arg = static_cast<unsigned>(lhs[3] - '0');
  auto value = ParseValue(rhs);
  if (!value) return tl::unexpected(value.error());
  if ((*value & ~cmp.mask) != 0) {
    return MakeError("value {:#x} has bits outside mask {:#x}: the rule could never match", *value,
                     cmp.mask);
  }
  cmp.value = *value;
  return cmp;
}

class Parser {
 public:
  explicit Parser(const PolicyLoader& loader) : loader_(loader) {}

  Status Parse(std::string_view source, std::string_view text) {
    if (!active_.insert(std::string(source)).second) {
      return MakeError("{}: include cycle", source);
    }
    int line_no = 0;
    std::istringstream in{std::string(text)};
    for (std::string raw; std::getline(in, raw);) {
      ++line_no;
      std::string_view line = raw;
      if (const auto hash = line.find('#'); hash != std::string_view::npos) {
        line = line.substr(0, hash);
      }
      line = Trim(line);
      if (line.empty()) continue;
      const std::string origin = fmt::format("{}:{}", source, line_no);
      if (auto st = ParseLine(origin, line); !st) {
        return MakeError("{}: {}", origin, st.error().message);
      }
    }
    active_.erase(std::string(source));
    return {};
  }

  Policy Take() { return std::move(policy_); }

 private:
  Status ParseLine(const std::string& origin, std::string_view line) {
    if (line.starts_with("@include")) {
      const std::string_view name = Trim(line.substr(8));
      if (name.empty()) return MakeError("@include needs a policy name");
      auto text = loader_(name);
      if (!text) return tl::unexpected(text.error());
      return Parse(name, *text);
    }
    std::string_view name = line;
    std::string_view conditions;
    if (const auto colon = line.find(':'); colon != std::string_view::npos) {
      name = Trim(line.substr(0, colon));
      conditions = Trim(line.substr(colon + 1));
      if (conditions.empty()) return MakeError("'{}:' has an empty condition", name);
    }
    if (IsForbiddenSyscall(name)) {
      return MakeError("syscall '{}' is forbidden in every device policy", name);
    }
    const int nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, std::string(name).c_str());
    if (nr == __NR_SCMP_ERROR || nr < 0) return MakeError("unknown syscall '{}'", name);
    SyscallRule rule{std::string(name), nr, {}, origin};
    if (!conditions.empty()) {
      for (std::string_view alt : Split(conditions, "||")) {
        Alternative a;
        for (std::string_view term : Split(alt, "&&")) {
          auto cmp = ParseCompare(term);
          if (!cmp) return tl::unexpected(cmp.error());
          a.push_back(*cmp);
        }
        rule.alternatives.push_back(std::move(a));
      }
    }
    return Merge(std::move(rule));
  }

  // A device policy may add argument alternatives to a conditional rule of
  // an included file (e.g. more ioctl commands). Anything else that names a
  // syscall twice is a mistake: a duplicate within a file, or a rule that
  // silently turns a conditional one unconditional (or the reverse).
  Status Merge(SyscallRule rule) {
    SyscallRule* prev = nullptr;
    for (SyscallRule& r : policy_.rules) {
      if (r.name == rule.name) prev = &r;
    }
    if (prev == nullptr) {
      policy_.rules.push_back(std::move(rule));
      return {};
    }
    const auto file = [](const std::string& origin) { return origin.substr(0, origin.rfind(':')); };
    if (file(prev->origin) == file(rule.origin)) {
      return MakeError("syscall '{}' already has a rule at {}", rule.name, prev->origin);
    }
    if (prev->alternatives.empty() || rule.alternatives.empty()) {
      return MakeError("syscall '{}' is also listed at {}; only two conditional rules can merge",
                       rule.name, prev->origin);
    }
    for (Alternative& a : rule.alternatives) prev->alternatives.push_back(std::move(a));
    prev->origin += ", " + rule.origin;
    return {};
  }

  const PolicyLoader& loader_;
  std::set<std::string> active_;
  Policy policy_;
};

}  // namespace

const SyscallRule* Policy::Find(std::string_view name) const {
  const auto it = std::find_if(rules.begin(), rules.end(),
                               [&](const SyscallRule& r) { return r.name == name; });
  return it == rules.end() ? nullptr : &*it;
}

bool IsForbiddenSyscall(std::string_view name) {
  return std::find(std::begin(kForbidden), std::end(kForbidden), name) != std::end(kForbidden);
}

std::optional<uint64_t> LookupPolicyConstant(std::string_view name) {
  for (const auto& [n, v] : kPolicyConstants) {
    if (n == name) return v;
  }
  return std::nullopt;
}

Result<Policy> ParsePolicy(std::string_view source, std::string_view text,
                           const PolicyLoader& loader) {
  Parser parser(loader);
  if (auto st = parser.Parse(source, text); !st) return tl::unexpected(st.error());
  return parser.Take();
}

Result<Policy> ParsePolicyFile(const std::string& path) {
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  auto read = [](const std::string& p) -> Result<std::string> {
    std::ifstream f(p);
    if (!f) return ErrnoError("cannot read policy {}", p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  };
  PolicyLoader loader = [&](std::string_view name) {
    return read(fmt::format("{}/{}.policy", dir, name));
  };
  auto text = read(path);
  if (!text) return tl::unexpected(text.error());
  return ParsePolicy(path, *text, loader);
}

}  // namespace bulkhead
