// SPDX-License-Identifier: Apache-2.0
// Makes the probe for a target, standing where the attachment put it: its socket is opened in
// the probe namespace, so the probe's packets take the nested containers' path. An IPv6 target
// gets an IPv6 probe (AF_INET6 sockets, ICMPv6 for the path MTU), from the probe's IPv6 address;
// only when the bridge has IPv6 (Vantage::Has).
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <random>

#include "common/result.h"
#include "daemon/egress/dns_message.h"
#include "daemon/egress/mtu_search.h"
#include "daemon/egress/probe.h"
#include "daemon/egress/probe_attachment.h"
#include "daemon/egress/probe_target.h"

namespace dind::egress {

struct ProbeSettings {
  std::chrono::milliseconds timeout{2000};      // TCP connect and DNS
  std::chrono::milliseconds echo_timeout{500};  // each ICMP echo of the path-MTU probe
  int echo_attempts = 2;                        // echoes per size before it counts as lost
  Mtu mtu_floor = kIpv4MtuFloor;                // smallest size the IPv4 path-MTU search tries
  Mtu mtu_floor_v6 = kIpv6MtuFloor;             // and the IPv6 one
  // Answered by the cluster's DNS itself (no upstream needed); NXDOMAIN outside Kubernetes
  // still proves the nameserver was reached.
  DnsQuestion dns_question{"kubernetes.default.svc.cluster.local.", kDnsTypeA};
};

// "TCP connect to [2001:db8::1]:443 from the docker bridge (probe fd00:db8:1::…)": what the
// probe of `target` does from `vantage`, as its Description() says it.
std::string DescribeProbe(const ProbeTarget& target, const Vantage& vantage);

// Why `target` cannot be probed from `vantage`, when its family is one the probe namespace
// does not have (an IPv6 target, a bridge without IPv6): a report saying so and how to give
// nested networks IPv6, kInconclusive for a target with skip_without_family, else kFailed.
// nullopt when the probe can run.
std::optional<ProbeReport> FamilyUnavailable(const ProbeTarget& target, const Vantage& vantage);

class ProbeFactory {
 public:
  virtual ~ProbeFactory() = default;
  // The probe of `target` from `vantage`; an error when it cannot even be set up (its socket
  // was refused, or FamilyUnavailable), naming the probe and what to do.
  virtual Result<std::shared_ptr<Probe>> Make(const ProbeTarget& target,
                                              const Vantage& vantage) = 0;
};

class NamespaceProbeFactory final : public ProbeFactory {
 public:
  NamespaceProbeFactory(boost::asio::io_context& io, ProbeSettings settings);
  Result<std::shared_ptr<Probe>> Make(const ProbeTarget& target, const Vantage& vantage) override;

 private:
  boost::asio::io_context& io_;
  ProbeSettings settings_;
  std::mt19937 random_;  // query and echo IDs
};

}  // namespace dind::egress
