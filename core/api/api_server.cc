// The API server's thread: KJ event loop, accept loop, one Cap'n Proto RPC
// system per connection, shutdown on an eventfd.
#include "core/api/api_server.h"

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>
#include <kj/async-unix.h>
#include <spdlog/spdlog.h>

#include <set>

#include "core/api/api_service.h"

namespace bulkhead {

using api_internal::ApiReaderOptions;
using api_internal::VmService;

namespace {

// One client: its stream, its two-party network (with the API's reader
// limits) and its RPC system, whose bootstrap capability is a VmService.
struct Client {
  Client(kj::Own<kj::AsyncIoStream> s, VmControl& control)
      : stream(kj::mv(s)),
        network(*stream, capnp::rpc::twoparty::Side::SERVER, ApiReaderOptions()),
        rpc(capnp::makeRpcServer(network, kj::heap<VmService>(control))) {}

  kj::Own<kj::AsyncIoStream> stream;
  capnp::TwoPartyVatNetwork network;
  capnp::RpcSystem<capnp::rpc::twoparty::VatId> rpc;
};

// Every live connection. A connection lives as long as the task waiting for
// its disconnect (as in capnp::TwoPartyServer): a protocol error, a hang-up
// or destroying the set ends it.
class Clients final : private kj::TaskSet::ErrorHandler {
 public:
  explicit Clients(VmControl& control) : control_(control), tasks_(*this) {}

  void Add(kj::Own<kj::AsyncIoStream> stream) {
    if (live_.size() >= kMaxApiClients) {
      spdlog::warn("API: {} clients connected; closing a new connection", live_.size());
      return;  // `stream` closes here
    }
    auto client = kj::heap<Client>(kj::mv(stream), control_);
    Client* raw = client.get();
    live_.insert(raw);
    tasks_.add(raw->network.onDisconnect().attach(
        kj::defer([this, raw] { live_.erase(raw); }), kj::mv(client)));
  }

  [[nodiscard]] bool HasQueuedOutput() const {
    for (Client* c : live_) {
      if (c->network.getCurrentQueueCount() > 0) return true;
    }
    return false;
  }

 private:
  void taskFailed(kj::Exception&& e) override {
    // A client's own fault (garbage, oversized message, reset): it loses its
    // connection, the server goes on.
    spdlog::debug("API: connection ended: {}", e.getDescription().cStr());
  }

  VmControl& control_;
  std::set<Client*> live_;
  kj::TaskSet tasks_;  // last: destroying it ends every connection while live_ exists
};

kj::Promise<void> AcceptLoop(kj::ConnectionReceiver& listener, Clients& clients,
                             kj::Timer& timer) {
  return listener.accept()
      .then(
          [&clients](kj::Own<kj::AsyncIoStream> stream) -> kj::Promise<void> {
            clients.Add(kj::mv(stream));
            return kj::READY_NOW;
          },
            [&timer](kj::Exception&& e) {
              // EMFILE and the like: not the end of the server. Back off.
              spdlog::warn("API: accept failed: {}", e.getDescription().cStr());
              return timer.afterDelay(100 * kj::MILLISECONDS);
            })
      .then([&listener, &clients, &timer] { return AcceptLoop(listener, clients, timer); });
}

}  // namespace

ApiServer::ApiServer(ApiSocket socket, EventFd stop, VmControl& control)
    : socket_(std::move(socket)), stop_(std::move(stop)), control_(control) {}

Result<std::unique_ptr<ApiServer>> ApiServer::Start(const std::string& path, VmControl& control) {
  auto socket = ApiSocket::Listen(path);
  if (!socket) return tl::unexpected(socket.error());
  auto stop = EventFd::Create(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (!stop) return tl::unexpected(stop.error());
  UniqueFd listen_fd = socket->TakeFd();
  std::unique_ptr<ApiServer> server(
      new ApiServer(std::move(*socket), std::move(*stop), control));

  // The thread reports whether its loop came up; Start fails if it did not.
  std::promise<bulkhead::Status> ready;
  auto started = ready.get_future();
  server->thread_ = std::thread(&ApiServer::Serve, server.get(), std::move(listen_fd), &ready);
  if (auto st = started.get(); !st) {
    server->thread_.join();
    return tl::unexpected(st.error());
  }
  spdlog::info("management API on {}", path);
  return server;
}

void ApiServer::Serve(UniqueFd listen_fd, std::promise<bulkhead::Status>* ready) {
  bool reported = false;
  try {
    auto io = kj::setupAsyncIo();
    auto listener = io.lowLevelProvider->wrapListenSocketFd(
        listen_fd.release(), kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP |
                                 kj::LowLevelAsyncIoProvider::ALREADY_CLOEXEC |
                                 kj::LowLevelAsyncIoProvider::ALREADY_NONBLOCK);
    // The observer is edge-triggered: ask for readability before the loop
    // first polls, so a Stop() right after Start() is not missed.
    kj::UnixEventPort::FdObserver stop_observer(io.unixEventPort, stop_.fd(),
                                                kj::UnixEventPort::FdObserver::OBSERVE_READ);
    auto stopped = stop_observer.whenBecomesReadable();
    auto& timer = io.provider->getTimer();
    Clients clients(control_);
    auto accepting = AcceptLoop(*listener, clients, timer);
    ready->set_value({});
    reported = true;

    stopped.exclusiveJoin(kj::mv(accepting)).wait(io.waitScope);
    listener = nullptr;  // no new clients; the socket file goes in Stop()
    // Replies already produced (a powerOff's, typically) are flushed to the
    // kernel before the connections close; a client that does not read gets
    // half a second.
    for (int i = 0; i < 100 && clients.HasQueuedOutput(); ++i) {
      timer.afterDelay(5 * kj::MILLISECONDS).wait(io.waitScope);
    }
  } catch (const kj::Exception& e) {
    const std::string why = fmt::format("management API: {}", e.getDescription().cStr());
    if (!reported) {
      ready->set_value(tl::unexpected(Error{why, 0}));
    } else {
      spdlog::error("{}", why);
    }
  }
}

void ApiServer::Stop() {
  if (thread_.joinable()) {
    if (thread_.get_id() == std::this_thread::get_id()) {
      spdlog::critical("ApiServer::Stop called from a VmControl method; it would deadlock");
      std::abort();
    }
    if (auto st = stop_.Signal(); !st) {
      spdlog::error("stopping the management API: {}", st.error().message);
    }
    thread_.join();
  }
  socket_.Unlink();
}

ApiServer::~ApiServer() { Stop(); }

}  // namespace bulkhead
