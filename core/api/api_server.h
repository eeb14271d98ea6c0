// ApiServer: serves the management API (ipc/schema/api.capnp) on a unix
// socket for `bulkhead ctl` and other clients.
//
// It runs one thread with its own KJ event loop (KJ allows one loop per
// thread; the core's device control loop lives elsewhere), accepts up to
// kMaxApiClients concurrent connections and serves each with Cap'n Proto RPC
// under tight ReaderOptions, so garbage, truncated or oversized messages end
// that connection only. Every VmControl call happens on the server thread,
// one at a time.
//
// Usage (Machine):
//   auto api = ApiServer::Start(config.api_socket, *this);  // Result<unique_ptr>
//   ...
//   api->Stop();  // or destroy it: joins the thread, removes the socket file
#pragma once

#include <future>
#include <memory>
#include <string>
#include <thread>

#include "core/api/api_socket.h"
#include "core/vm_control.h"
#include "ipc/event_fd.h"
#include "ipc/result.h"

namespace bulkhead {

// Connections beyond this are accepted and closed at once: a client that
// hangs on to its connection cannot make the server hold unbounded state.
inline constexpr size_t kMaxApiClients = 16;

class ApiServer {
 public:
  // Creates the socket at `path` (see ApiSocket for the rules) and starts
  // serving. `control` must outlive the server.
  [[nodiscard]] static Result<std::unique_ptr<ApiServer>> Start(const std::string& path,
                                                                VmControl& control);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Stops accepting, lets replies already queued reach their clients (up to
  // half a second), closes every connection, joins the thread and removes
  // the socket file. Idempotent. Must not be called from a VmControl method
  // (the server thread would wait for itself): a PowerOff implementation
  // signals its Run() loop, whose owner stops the server.
  void Stop();

  [[nodiscard]] const std::string& path() const { return socket_.path(); }

 private:
  ApiServer(ApiSocket socket, EventFd stop, VmControl& control);
  void Serve(UniqueFd listen_fd, std::promise<bulkhead::Status>* ready);

  ApiSocket socket_;
  EventFd stop_;
  VmControl& control_;
  std::thread thread_;
};

}  // namespace bulkhead
