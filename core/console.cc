#include "core/console.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cstring>

namespace bulkhead {
namespace {

constexpr uint8_t kEscape = 0x1D;  // Ctrl-]

// Writes all of buf to a blocking fd; false when the peer is gone.
bool WriteAll(int fd, const uint8_t* buf, size_t len) {
  while (len > 0) {
    const ssize_t n = ::write(fd, buf, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buf += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

Result<ConsoleSpec> ConsoleSpec::Parse(const std::string& text) {
  if (text == "stdio") return ConsoleSpec{Kind::kStdio, ""};
  if (text.rfind("file:", 0) == 0 && text.size() > 5) return ConsoleSpec{Kind::kFile, text.substr(5)};
  if (text.rfind("unix:", 0) == 0 && text.size() > 5) return ConsoleSpec{Kind::kUnix, text.substr(5)};
  return MakeError("--serial '{}': expected stdio, file:PATH or unix:PATH", text);
}

Result<std::unique_ptr<Console>> Console::Open(const ConsoleSpec& spec, UniqueFd* device_end) {
  std::unique_ptr<Console> c(new Console());
  c->spec_ = spec;
  switch (spec.kind) {
    case ConsoleSpec::Kind::kStdio:
      c->in_fd_.reset(::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3));
      c->out_fd_.reset(::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3));
      if (!c->in_fd_ || !c->out_fd_) return ErrnoError("--serial stdio: dup");
      if (::isatty(STDIN_FILENO)) {
        termios t{};
        if (::tcgetattr(STDIN_FILENO, &t) == 0) {
          c->saved_termios_ = t;
          ::cfmakeraw(&t);
          t.c_oflag |= OPOST | ONLCR;  // keep our own log lines readable
          ::tcsetattr(STDIN_FILENO, TCSANOW, &t);
        }
      }
      break;
    case ConsoleSpec::Kind::kFile:
      c->out_fd_.reset(::open(spec.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
      if (!c->out_fd_) return ErrnoError("--serial file:{}", spec.path);
      break;
    case ConsoleSpec::Kind::kUnix: {
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      if (spec.path.size() >= sizeof(addr.sun_path)) {
        return MakeError("--serial unix:{}: path too long", spec.path);
      }
      std::memcpy(addr.sun_path, spec.path.c_str(), spec.path.size());
      c->listen_fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
      if (!c->listen_fd_) return ErrnoError("--serial unix:{}: socket", spec.path);
      if (::bind(c->listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) {
        return ErrnoError("--serial unix:{}: bind", spec.path);
      }
      ::chmod(spec.path.c_str(), 0600);
      if (::listen(c->listen_fd_.get(), 1) < 0) return ErrnoError("--serial unix:{}: listen", spec.path);
      break;
    }
  }
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return ErrnoError("console socketpair");
  c->device_.reset(sv[0]);
  device_end->reset(sv[1]);
  auto stop = EventFd::Create(0, EFD_NONBLOCK);
  if (!stop) return tl::unexpected(stop.error());
  c->stop_ = std::move(*stop);
  return c;
}

void Console::Start(std::function<void()> on_quit) {
  on_quit_ = std::move(on_quit);
  thread_ = std::thread([this] { Relay(); });
}

void Console::Relay() {
  uint8_t buf[4096];
  bool escape_pending = false;
  for (;;) {
    const int in = in_fd_ ? in_fd_.get() : (listen_fd_ ? listen_fd_.get() : -1);
    pollfd fds[3] = {{device_.get(), POLLIN, 0}, {in, POLLIN, 0}, {stop_.fd(), POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[2].revents) return;
    if (fds[0].revents & (POLLIN | POLLHUP)) {
      const ssize_t n = ::read(device_.get(), buf, sizeof(buf));
      if (n <= 0) return;  // the core closed the device end: shutting down
      if (out_fd_ && !WriteAll(out_fd_.get(), buf, static_cast<size_t>(n)) &&
          spec_.kind == ConsoleSpec::Kind::kUnix) {
        in_fd_.reset();  // the client left; wait for the next one
        out_fd_.reset();
      }
    }
    if (fds[1].revents) {
      if (!in_fd_ && listen_fd_) {
        int client = ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
        if (client >= 0) {
          in_fd_.reset(client);
          out_fd_.reset(::fcntl(client, F_DUPFD_CLOEXEC, 3));
        }
        continue;
      }
      const ssize_t n = ::read(in_fd_.get(), buf, sizeof(buf));
      if (n <= 0) {
        if (spec_.kind == ConsoleSpec::Kind::kUnix) {
          in_fd_.reset();
          out_fd_.reset();
        } else {
          in_fd_.reset();  // stdin closed: the guest keeps running, output continues
        }
        continue;
      }
      size_t out = 0;
      for (ssize_t i = 0; i < n; ++i) {
        const uint8_t b = buf[i];
        if (spec_.kind == ConsoleSpec::Kind::kStdio && saved_termios_) {
          if (escape_pending) {
            escape_pending = false;
            if (b == 'q') {
              if (on_quit_) on_quit_();
              continue;
            }
            buf[out++] = kEscape;  // not a command: deliver both bytes
          } else if (b == kEscape) {
            escape_pending = true;
            continue;
          }
        }
        buf[out++] = b;
      }
      if (out > 0 && !WriteAll(device_.get(), buf, out)) return;
    }
  }
}

void Console::RestoreTerminal() {
  if (saved_termios_) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &*saved_termios_);
    saved_termios_.reset();
  }
}

void Console::Stop() {
  (void)stop_.Signal();
  if (thread_.joinable()) thread_.join();
  // What the device wrote last (a guest's final lines before poweroff) is
  // still in the socket: deliver it before the terminal is restored.
  if (device_ && out_fd_) {
    uint8_t buf[4096];
    ssize_t n;
    while ((n = ::recv(device_.get(), buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
      if (!WriteAll(out_fd_.get(), buf, static_cast<size_t>(n))) break;
    }
  }
  RestoreTerminal();
}

Console::~Console() {
  Stop();
  if (spec_.kind == ConsoleSpec::Kind::kUnix && listen_fd_) ::unlink(spec_.path.c_str());
}

}  // namespace bulkhead
