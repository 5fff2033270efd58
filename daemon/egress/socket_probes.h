// SPDX-License-Identifier: Apache-2.0
// The TCP-connect and DNS-over-UDP probes. Each gets a socket already opened where the probe
// stands (the probe namespace; any namespace in unit tests) and drives it on the io_context.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "daemon/egress/dns_message.h"
#include "daemon/egress/netns_thread.h"
#include "daemon/egress/probe.h"
#include "daemon/egress/probe_lifecycle.h"

namespace dind::egress {

// Passes when the TCP handshake with host:port completes. `host` is an IPv4 or IPv6 address, or a
// name, resolved first (to IPv4) in the daemon's own namespace.
class TcpConnectProbe final : public Probe, public std::enable_shared_from_this<TcpConnectProbe> {
 public:
  // `socket_fd`: an unconnected stream socket of the host's family (AF_INET6 for an IPv6
  // address, else AF_INET). `from`: Vantage::From(family).
  TcpConnectProbe(boost::asio::io_context& io, ScopedFd socket_fd, std::string host,
                  std::uint16_t port, std::string from, std::chrono::milliseconds timeout);

  std::string Description() const override;
  std::chrono::milliseconds Timeout() const override { return timeout_; }
  std::string TimeoutHint() const override;
  void Start(ProbeDone done) override;
  void Cancel() override;

 private:
  void Connect(const boost::asio::ip::tcp::endpoint& endpoint);
  void Finish(ProbeReport report);
  void Release();

  boost::asio::io_context& io_;
  ScopedFd pending_fd_;  // handed to the asio socket when connecting
  boost::asio::ip::tcp::socket socket_;
  boost::asio::ip::tcp::resolver resolver_;
  std::string host_;
  std::uint16_t port_;
  Family family_;
  std::string from_;
  std::chrono::milliseconds timeout_;
  ProbeLifecycle lifecycle_;
};

// Passes when the nameserver sends a well-formed reply to the query (any rcode: NXDOMAIN
// proves the nameserver was reached). The query is sent again at half the timeout, so one lost
// datagram does not fail the round.
class DnsProbe final : public Probe, public std::enable_shared_from_this<DnsProbe> {
 public:
  // `socket_fd`: a datagram socket of the server's family (AF_INET or AF_INET6). `id`: the
  // query ID (random per probe).
  DnsProbe(boost::asio::io_context& io, ScopedFd socket_fd, boost::asio::ip::udp::endpoint server,
           DnsQuestion question, std::uint16_t id, std::string from,
           std::chrono::milliseconds timeout);

  std::string Description() const override;
  std::chrono::milliseconds Timeout() const override { return timeout_; }
  std::string TimeoutHint() const override;
  void Start(ProbeDone done) override;
  void Cancel() override;

 private:
  void Send();
  void Receive();
  void Finish(ProbeReport report);
  void Release();

  boost::asio::io_context& io_;
  ScopedFd pending_fd_;
  boost::asio::ip::udp::socket socket_;
  boost::asio::steady_timer resend_timer_;
  boost::asio::ip::udp::endpoint server_;
  DnsQuestion question_;
  std::uint16_t id_;
  std::string from_;
  std::chrono::milliseconds timeout_;
  std::vector<std::uint8_t> query_;
  std::vector<std::uint8_t> reply_buffer_;
  ProbeLifecycle lifecycle_;
};

}  // namespace dind::egress
