// Result<T>: the return type of every fallible operation on a guest- or
// device-controlled path. Exceptions are reserved for start-up and
// configuration parsing; everything a guest or a device process can trigger
// returns an Error that the caller must look at ([[nodiscard]] by type).
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <tl/expected.hpp>

namespace bulkhead {

struct Error {
  std::string message;  // one line, names the thing that failed
  int errnum = 0;       // errno when the failure came from the kernel, else 0
};

template <class T>
using Result = tl::expected<T, Error>;

using Status = Result<void>;

// Builds an Error from errno, e.g. `return ErrnoError("open {}", path);`.
template <class... Args>
[[nodiscard]] tl::unexpected<Error> ErrnoError(fmt::format_string<Args...> fmt, Args&&... args) {
  const int e = errno;
  return tl::unexpected(Error{fmt::format("{}: {}", fmt::format(fmt, std::forward<Args>(args)...),
                                          std::strerror(e)),
                              e});
}

template <class... Args>
[[nodiscard]] tl::unexpected<Error> MakeError(fmt::format_string<Args...> fmt, Args&&... args) {
  return tl::unexpected(Error{fmt::format(fmt, std::forward<Args>(args)...), 0});
}

}  // namespace bulkhead
