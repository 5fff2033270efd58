// SPDX-License-Identifier: Apache-2.0
// The I/O half of the Docker Engine API client: HTTP/1.1 over dockerd's unix socket on the
// daemon's io_context (Boost.Beast). Every request has a deadline that closes the socket, so a
// hung dockerd costs a timeout, never a stalled loop. Nothing here throws into the loop; errors
// arrive as values that name the socket and say what to check.
//
// Not thread-safe: use on the thread that runs the io_context. Callbacks run on that thread and
// are never called after the object that took them is destroyed or stopped.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/docker/docker_api.h"

namespace dind::docker {

struct ClientOptions {
  std::string socket_path{kDefaultSocketPath};
  // "" uses dockerd's own API version (every field we read exists since API 1.24); set e.g.
  // "/v1.41" to pin one.
  std::string api_prefix;
  // Connecting, sending and receiving the whole answer (for the event stream: its head).
  std::chrono::milliseconds request_timeout{5000};
  std::size_t max_response_bytes = 16 * 1024 * 1024;
};

namespace detail {
struct ClientState;
struct WatcherState;
}  // namespace detail

class DockerClient {
 public:
  DockerClient(boost::asio::io_context& io, ClientOptions options);
  // Cancels requests in flight; their callbacks are not called.
  ~DockerClient();
  DockerClient(const DockerClient&) = delete;
  DockerClient& operator=(const DockerClient&) = delete;

  using BodyCallback = std::function<void(Result<std::string>)>;
  using NetworksCallback = std::function<void(Result<std::vector<DockerNetwork>>)>;
  using InfoCallback = std::function<void(Result<DockerInfo>)>;

  // GET `target` (e.g. "/version"); the body of a 200 answer, an Error otherwise.
  void Get(std::string target, BodyCallback done);
  void ListNetworks(NetworksCallback done);
  void ReadInfo(InfoCallback done);  // GET /info

  const ClientOptions& options() const;

 private:
  std::shared_ptr<detail::ClientState> state_;
};

// GET /networks on an io_context of its own, for one-shot commands (`detect`): the networks, or
// the error, within options.request_timeout.
Result<std::vector<DockerNetwork>> ListNetworksNow(ClientOptions options);

struct WatchOptions {
  // Waits between attempts to (re)subscribe: doubling from the first to the last.
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{30000};
  // A subscription that lasted this long starts the waits over at initial_backoff.
  std::chrono::milliseconds stable_after{10000};
  std::size_t max_event_bytes = 1024 * 1024;
};

struct WatchCallbacks {
  // Subscribed (again). Events while not subscribed are lost: list the networks again now.
  std::function<void()> on_subscribed;
  // A network event: create, destroy, connect, disconnect, ...
  std::function<void(const NetworkEvent&)> on_event;
  // The subscription failed or ended; the next attempt follows after `retry_in`.
  std::function<void(const Error&, std::chrono::milliseconds retry_in)> on_disconnected;
};

// Follows GET /events for network events and resubscribes with backoff whenever the stream
// ends (dockerd restarted, the socket is missing, the answer is garbage or late).
class NetworkEventWatcher {
 public:
  NetworkEventWatcher(boost::asio::io_context& io, ClientOptions options, WatchOptions watch,
                      WatchCallbacks callbacks);
  ~NetworkEventWatcher();  // Stop()
  NetworkEventWatcher(const NetworkEventWatcher&) = delete;
  NetworkEventWatcher& operator=(const NetworkEventWatcher&) = delete;

  void Start();
  // Closes the stream; no callback runs afterwards.
  void Stop();

  struct Stats {
    std::uint64_t attempts = 0;       // connections tried
    std::uint64_t subscriptions = 0;  // streams that answered 200
    std::uint64_t events = 0;         // network events delivered
  };
  Stats stats() const;

 private:
  std::shared_ptr<detail::WatcherState> state_;
};

}  // namespace dind::docker
