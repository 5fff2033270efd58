// SPDX-License-Identifier: Apache-2.0
// Docker's address pools (bip, fixed-cidr, default-address-pools) chosen outside every range the
// pod can reach: its addresses and routes, the Kubernetes service, the nameservers, --avoid.
#pragma once

#include <string>
#include <vector>

#include "common/cidr.h"
#include "common/result.h"
#include "netcfg/detect/facts.h"

namespace dind::netcfg {

struct AvoidedRange {
  Cidr cidr;
  std::string reason;  // "address on eth0", "route via eth0", "KUBERNETES_SERVICE_HOST", …
};

struct AddressPool {
  Cidr base;
  int size = 24;
};

struct PoolDecision {
  std::vector<AvoidedRange> avoided;
  Cidr bridge_network;  // the default bridge's network
  std::string bip;      // gateway address with prefix: "172.17.0.1/16"
  // daemon.json "fixed-cidr": containers on the default bridge get addresses from its lower
  // half only, so the top (the egress probe's reserved address) is never handed out.
  Cidr fixed_cidr;
  std::vector<AddressPool> default_address_pools;
  std::string reason;
};

// Fails (kEnvironment) only when every candidate range collides.
Result<PoolDecision> DecideAddressPools(const SystemFacts& facts, const std::vector<Cidr>& avoid);

// Nameserver addresses from resolv.conf text.
std::vector<IpAddress> ParseNameservers(const std::string& resolv_conf);

}  // namespace dind::netcfg
