// SPDX-License-Identifier: Apache-2.0
// What the egress probes aim at, as values: parsed from flags and from the environment every
// pod has (the Kubernetes API service variables and resolv.conf), without any I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/cidr.h"
#include "common/result.h"

namespace dind::egress {

enum class ProbeKind {
  kTcpConnect,  // a TCP handshake with HOST:PORT
  kDnsUdp,      // one DNS query over UDP to a nameserver
  kPathMtu,     // ICMP echoes of the docker MTU with DF set, and a path-MTU search if they vanish
};

struct ProbeTarget {
  ProbeKind kind = ProbeKind::kTcpConnect;
  // An IPv4 or IPv6 address (without brackets), or a DNS name for TCP targets (resolved to IPv4
  // in the daemon's own namespace at every round, as names change).
  std::string host;
  std::uint16_t port = 0;  // unused for kPathMtu
  std::string origin;      // where the target came from, for logs: "--probe-target", "resolv.conf"
  // A default target the pod's environment suggested (an IPv6 nameserver): when the docker
  // bridge has no address of its family, its result is inconclusive, not failed. A target the
  // user gave fails then, since the nested containers cannot reach it.
  bool skip_without_family = false;

  // The family its probe uses: IPv6 for an IPv6 address, else IPv4 (names resolve to IPv4).
  Family family() const;
  // "10.96.0.1:443", "[2001:db8::1]:443": the host and port as written in messages.
  std::string HostPort() const;
  // Stable identity for the result of this target: "tcp 10.96.0.1:443", "dns 10.96.0.10:53",
  // "pmtu 10.96.0.10", "tcp [2001:db8::1]:443", "pmtu 2001:db8::1".
  std::string Key() const;
  bool operator==(const ProbeTarget&) const = default;
};

// `text` is HOST:PORT (the value of --probe-target), an IPv6 address in brackets
// ("[2001:db8::1]:443"). Errors are kBadInput and name `flag`.
Result<ProbeTarget> ParseProbeTarget(std::string_view text,
                                     std::string_view flag = "--probe-target");

// `text` is an IPv4 or IPv6 address (brackets allowed) that answers ICMP echo (the value of
// --probe-mtu-target).
Result<ProbeTarget> ParseMtuTarget(std::string_view text,
                                   std::string_view flag = "--probe-mtu-target");

// The first nameserver of `family` in resolv.conf that a nested container can reach: not
// loopback (dockerd drops loopback nameservers from containers' resolv.conf too, since
// 127.0.0.53 in the pod is not reachable from the bridge) and, for IPv6, not link-local (fe80::
// is the pod's own link). nullopt when there is none.
std::optional<std::string> FirstBridgeReachableNameserver(const std::string& resolv_conf,
                                                          Family family = Family::kIPv4);

struct DefaultTargetInputs {
  std::optional<std::string> kubernetes_service_host;  // $KUBERNETES_SERVICE_HOST
  std::optional<std::string> kubernetes_service_port;  // $KUBERNETES_SERVICE_PORT
  std::optional<std::string> resolv_conf;              // contents; nullopt when unreadable
};

struct DefaultTargets {
  std::vector<ProbeTarget> targets;
  // Why an expected default is missing, one line each, for the log: "KUBERNETES_SERVICE_HOST is
  // not set: not running in Kubernetes, no API service probe".
  std::vector<std::string> notes;
};

// The targets every pod has: the Kubernetes API service (TCP connect), the first nameserver
// (DNS over UDP) and the same nameserver for the path-MTU probe; with the first IPv6 nameserver
// too (DNS and path MTU), skipped without IPv6 on the bridge. An IPv6 API service is probed
// over IPv6, skipped likewise. A malformed KUBERNETES_SERVICE_PORT is kBadInput naming the
// variable.
Result<DefaultTargets> MakeDefaultTargets(const DefaultTargetInputs& inputs);

}  // namespace dind::egress
