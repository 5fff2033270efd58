// SPDX-License-Identifier: Apache-2.0
// Makes the probe for a target, standing where the attachment put it: its socket is opened in
// the probe namespace, so the probe's packets take the nested containers' path.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <random>

#include "common/result.h"
#include "daemon/probe/dns_message.h"
#include "daemon/probe/probe.h"
#include "daemon/probe/probe_attachment.h"
#include "daemon/probe/probe_target.h"

namespace dind::probe {

struct ProbeSettings {
  std::chrono::milliseconds timeout{2000};      // TCP connect and DNS
  std::chrono::milliseconds echo_timeout{500};  // each ICMP echo of the path-MTU probe
  int echo_attempts = 2;                        // echoes per size before it counts as lost
  int mtu_floor = 576;                          // smallest size the path-MTU search tries
  // Answered by the cluster's DNS itself (no upstream needed); NXDOMAIN outside Kubernetes
  // still proves the nameserver was reached.
  DnsQuestion dns_question{"kubernetes.default.svc.cluster.local.", kDnsTypeA};
};

class ProbeFactory {
 public:
  virtual ~ProbeFactory() = default;
  // The probe of `target` from `vantage`; an error when it cannot even be set up (its socket
  // was refused), naming the probe and what to do.
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

}  // namespace dind::probe
