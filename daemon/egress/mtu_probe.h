// SPDX-License-Identifier: Apache-2.0
// The path-MTU probe: ICMP echoes with DF set, sized by MtuSearch, sent through an EchoSender.
// RawEchoSender is the real one (a raw ICMP or ICMPv6 socket in the probe namespace,
// CAP_NET_RAW); unit tests drive PathMtuProbe with a simulated path. IPv6 has no DF bit: its
// routers never fragment and answer an oversized packet with an ICMPv6 "Packet Too Big", the
// counterpart of IPv4's "fragmentation needed", which the same search reads.
#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/icmp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/cidr.h"
#include "common/mtu.h"
#include "common/result.h"
#include "daemon/egress/mtu_search.h"
#include "daemon/egress/netns_thread.h"
#include "daemon/egress/probe.h"
#include "daemon/egress/probe_lifecycle.h"

namespace dind::egress {

class EchoSender {
 public:
  virtual ~EchoSender() = default;
  // Sends one echo request whose IP packet is `packet_size` bytes (headers included), with DF
  // set (IPv6: never fragmented). `done` runs once, later, on the io_context, unless Cancel()
  // comes first. One echo at a time.
  virtual void Send(Mtu packet_size, std::function<void(EchoResult)> done) = 0;
  virtual void Cancel() = 0;
};

class RawEchoSender final : public EchoSender, public std::enable_shared_from_this<RawEchoSender> {
 public:
  // `raw_fd`: socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) from the probe namespace, or
  // socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6) for an IPv6 `target`. Sets DF without the
  // kernel's path-MTU cache in the way (IP_PMTUDISC_PROBE; IPV6_PMTUDISC_PROBE), asks for ICMP
  // errors (IP_RECVERR; IPV6_RECVERR), lets only echo replies through (ICMP6_FILTER) and
  // connects to `target` so only its packets are read.
  static Result<std::shared_ptr<RawEchoSender>> Create(boost::asio::io_context& io, ScopedFd raw_fd,
                                                       const IpAddress& target, std::uint16_t id,
                                                       std::chrono::milliseconds echo_timeout);

  RawEchoSender(boost::asio::io_context& io, Family family, std::uint16_t id,
                std::chrono::milliseconds echo_timeout);
  void Send(Mtu packet_size, std::function<void(EchoResult)> done) override;
  void Cancel() override;

 private:
  void Receive();
  void WatchErrors();
  // Reads the error queue; the next-hop MTU of a "fragmentation needed" (ICMPv6: "Packet Too
  // Big") for the echo in flight.
  std::optional<Mtu> DrainErrors();
  void Complete(std::uint16_t sequence, EchoResult result);

  boost::asio::io_context& io_;
  Family family_;
  boost::asio::ip::icmp::socket socket_;
  boost::asio::steady_timer timer_;
  std::uint16_t id_;
  std::chrono::milliseconds echo_timeout_;
  std::uint16_t sequence_ = 0;
  std::function<void(EchoResult)> pending_;  // the echo in flight has sequence_
  bool receiving_ = false;
  bool watching_errors_ = false;
  bool cancelled_ = false;
  std::array<std::uint8_t, 65536> buffer_{};
};

class PathMtuProbe final : public Probe, public std::enable_shared_from_this<PathMtuProbe> {
 public:
  // `target`: the address echoed ("10.96.0.10", "2001:db8::53"), whose family words the report
  // ("ICMPv6 echo …", "Packet Too Big"); `from`: Vantage::From(family).
  PathMtuProbe(boost::asio::io_context& io, std::shared_ptr<EchoSender> sender,
               MtuSearchConfig config, std::string target, std::string from,
               std::chrono::milliseconds echo_timeout);

  std::string Description() const override;
  // Enough for the longest search (every echo timing out) plus a second.
  std::chrono::milliseconds Timeout() const override;
  void Start(ProbeDone done) override;
  void Cancel() override;

 private:
  void Next();

  boost::asio::io_context& io_;
  std::shared_ptr<EchoSender> sender_;
  MtuSearch search_;
  std::string target_;
  Family family_;
  std::string from_;
  std::chrono::milliseconds echo_timeout_;
  ProbeLifecycle lifecycle_;
};

}  // namespace dind::egress
