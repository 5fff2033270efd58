// SPDX-License-Identifier: Apache-2.0
// The health endpoint's HTTP/1.1 server on the daemon's io_context (Boost.Beast). It serves
// GET and HEAD through a Handler and defends the loop: request heads are size-limited, every
// connection has a deadline for its next request and for each response, and the number of open
// connections is capped by closing the one that has waited longest, so thousands of idle or
// slow clients cannot keep the kubelet's probe from being answered.
//
// Not thread-safe: construct, use and destroy it on the thread that runs the io_context.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "common/result.h"
#include "daemon/http/listen_address.h"
#include "daemon/http/responder.h"

namespace dind::http {
namespace detail {
struct ServerState;  // shared with the connections, so it outlives the server while they close
}  // namespace detail

struct ServerStats {
  std::uint64_t accepted = 0;   // connections accepted
  std::uint64_t requests = 0;   // responses sent, errors included
  std::uint64_t evicted = 0;    // idle connections closed to make room for a new one
  std::uint64_t refused = 0;    // new connections closed because no open one was idle
  std::uint64_t timed_out = 0;  // connections closed by the request or write deadline
  std::size_t open_connections = 0;
};

class HealthServer {
 public:
  HealthServer(boost::asio::io_context& io, Handler handler, Limits limits = {});
  // Stops: the socket closes and every connection with it; no handler runs afterwards.
  ~HealthServer();
  HealthServer(const HealthServer&) = delete;
  HealthServer& operator=(const HealthServer&) = delete;

  // Binds and starts accepting. Errors name the address and say what to do (address in use,
  // not an address of this pod, privileged port).
  Status Listen(const ListenAddress& address);
  // The bound port (the chosen one after listening on port 0); 0 before Listen.
  std::uint16_t port() const;
  void Stop();
  ServerStats stats() const;

 private:
  std::shared_ptr<detail::ServerState> state_;
};

}  // namespace dind::http
