// SPDX-License-Identifier: Apache-2.0
// A forwarded path for proving an MSS clamp's effect, shared by both backends' root tests:
//
//   client ns  c0 10.1.0.2/24 fd00:1::2/64
//        |
//   router ns  r0 10.1.0.1/24 fd00:1::1/64   (forwarding on; the backend under test runs here)
//              r1 192.0.2.1/24 2001:db8:2::1/64
//        |
//   server ns  s0 192.0.2.2/24 2001:db8:2::2/64
//
// Every link has MTU 1500, so unclamped SYNs offer 1460 (IPv4) / 1440 (IPv6). TCP timestamps are
// off at both ends so TCP_MAXSEG of a connected socket is exactly the MSS the peer's SYN offered
// (or our own, if lower). All namespaces are the test's own and are deleted with it.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cstring>
#include <string>

#include "common/cidr.h"
#include "common/scoped_fd.h"
#include "tests/support/netns.h"

namespace dind::testing {

class ClampPath {
 public:
  static constexpr const char* kClientNetworkV4 = "10.1.0.0/24";
  static constexpr const char* kClientNetworkV6 = "fd00:1::/64";

  ClampPath() : client_("dind-clamp-c"), router_("dind-clamp-r"), server_("dind-clamp-s") {
    // No duplicate address detection, so addresses are usable at once; no timestamps.
    const std::string quiet =
        "sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 "
        "net.ipv4.tcp_timestamps=0";
    for (const ScopedNetns* netns : {&client_, &router_, &server_}) netns->MustExec(quiet);
    router_.MustExec(
        "sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 && "
        "ip link add r0 type veth peer name c0 netns " +
        client_.name() + " && ip link add r1 type veth peer name s0 netns " + server_.name() +
        " && ip addr add 10.1.0.1/24 dev r0 && ip addr add fd00:1::1/64 dev r0 nodad"
        " && ip addr add 192.0.2.1/24 dev r1 && ip addr add 2001:db8:2::1/64 dev r1 nodad"
        " && ip link set r0 up && ip link set r1 up");
    client_.MustExec(
        "ip addr add 10.1.0.2/24 dev c0 && ip addr add fd00:1::2/64 dev c0 nodad"
        " && ip link set c0 up && ip route add default via 10.1.0.1"
        " && ip -6 route add default via fd00:1::1");
    server_.MustExec(
        "ip addr add 192.0.2.2/24 dev s0 && ip addr add 2001:db8:2::2/64 dev s0 nodad"
        " && ip link set s0 up && ip route add default via 192.0.2.1"
        " && ip -6 route add default via 2001:db8:2::1");
  }

  const ScopedNetns& router() const { return router_; }

  // The MSS each end of one connection ended up with (TCP_MAXSEG), or -1 when the connection
  // failed (the test has then failed already).
  struct SeenMss {
    int server = -1;  // what the client's SYN offered, after the router
    int client = -1;  // what the server's SYN-ACK offered, after the router
  };

  SeenMss Connect(Family family) const {
    SeenMss seen;
    const bool v4 = family == Family::kIPv4;
    const int domain = v4 ? AF_INET : AF_INET6;
    sockaddr_storage address{};
    socklen_t length = 0;
    if (v4) {
      auto* in = reinterpret_cast<sockaddr_in*>(&address);
      in->sin_family = AF_INET;
      in->sin_port = htons(kPort);
      ::inet_pton(AF_INET, "192.0.2.2", &in->sin_addr);
      length = sizeof(sockaddr_in);
    } else {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&address);
      in6->sin6_family = AF_INET6;
      in6->sin6_port = htons(kPort);
      ::inet_pton(AF_INET6, "2001:db8:2::2", &in6->sin6_addr);
      length = sizeof(sockaddr_in6);
    }

    // A socket belongs to the namespace it was created in, whatever thread uses it later.
    ScopedFd listener;
    {
      EnterNetns inside(server_);
      listener.reset(::socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0));
    }
    ScopedFd client;
    {
      EnterNetns inside(client_);
      client.reset(::socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0));
    }
    const int one = 1;
    ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    const timeval timeout{5, 0};
    ::setsockopt(client.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    ::setsockopt(listener.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    if (!listener.valid() || !client.valid() ||
        ::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::listen(listener.get(), 1) != 0) {
      ADD_FAILURE() << "setting up the listener: " << std::strerror(errno);
      return seen;
    }
    // The handshake completes in the kernel, so a blocking connect returns before accept.
    if (::connect(client.get(), reinterpret_cast<sockaddr*>(&address), length) != 0) {
      ADD_FAILURE() << "connecting through the router: " << std::strerror(errno);
      return seen;
    }
    const ScopedFd accepted(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!accepted.valid()) {
      ADD_FAILURE() << "accepting: " << std::strerror(errno);
      return seen;
    }
    socklen_t size = sizeof(int);
    ::getsockopt(accepted.get(), IPPROTO_TCP, TCP_MAXSEG, &seen.server, &size);
    size = sizeof(int);
    ::getsockopt(client.get(), IPPROTO_TCP, TCP_MAXSEG, &seen.client, &size);
    return seen;
  }

 private:
  static constexpr std::uint16_t kPort = 8080;

  ScopedNetns client_;
  ScopedNetns router_;
  ScopedNetns server_;
};

}  // namespace dind::testing
