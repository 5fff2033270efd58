// SPDX-License-Identifier: Apache-2.0
#include "netcfg/detect/pools.h"

#include <sstream>

namespace dind::netcfg {
namespace {

// Bridges dockerd made: their ranges are docker's own, not something to avoid, or a second
// run of init beside a running dockerd would move the pools every time.
bool IsDockerBridge(const LinkInfo* link) {
  if (link == nullptr) return false;
  if (link->name == "docker0") return true;
  return link->kind == "bridge" && link->name.starts_with("br-") && link->name.size() == 15;
}

bool IsIrrelevant(const Cidr& cidr) {
  static const Cidr kIgnored[] = {*Cidr::Parse("127.0.0.0/8"), *Cidr::Parse("169.254.0.0/16"),
                                  *Cidr::Parse("::1/128"),     *Cidr::Parse("fe80::/10"),
                                  *Cidr::Parse("224.0.0.0/4"), *Cidr::Parse("ff00::/8")};
  for (const auto& ignored : kIgnored) {
    if (ignored.Contains(cidr)) return true;
  }
  return cidr.prefix_length() == 0;
}

// Docker's own defaults first (172.17-31), then the rest of RFC 1918 space that CNIs use least.
std::vector<Cidr> CandidateNetworks() {
  std::vector<Cidr> candidates;
  for (std::uint32_t octet = 17; octet <= 31; ++octet) {
    candidates.push_back(Cidr::Of(IpAddress::V4((172u << 24) | (octet << 16)), 16));
  }
  candidates.push_back(*Cidr::Parse("192.168.0.0/16"));
  for (std::uint32_t octet = 200; octet <= 254; ++octet) {
    candidates.push_back(Cidr::Of(IpAddress::V4((10u << 24) | (octet << 16)), 16));
  }
  return candidates;
}

constexpr size_t kPoolCount = 2;  // two /16 bases of /24 networks: 512 user-defined networks

}  // namespace

std::vector<IpAddress> ParseNameservers(const std::string& resolv_conf) {
  std::vector<IpAddress> nameservers;
  std::istringstream lines(resolv_conf);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string keyword, value;
    if (!(words >> keyword >> value) || keyword != "nameserver") continue;
    // A scoped IPv6 nameserver ("fe80::1%eth0") is link-local and never collides.
    if (auto address = IpAddress::Parse(value.substr(0, value.find('%')))) {
      nameservers.push_back(*address);
    }
  }
  return nameservers;
}

Result<PoolDecision> DecideAddressPools(const SystemFacts& facts, const std::vector<Cidr>& avoid) {
  PoolDecision decision;
  const auto add = [&decision](const Cidr& cidr, std::string reason) {
    if (IsIrrelevant(cidr)) return;
    for (const auto& existing : decision.avoided) {
      if (existing.cidr == cidr) return;
    }
    decision.avoided.push_back({cidr, std::move(reason)});
  };
  for (const auto& address : facts.network.addresses) {
    const LinkInfo* link = facts.network.FindLink(address.link_index);
    if (IsDockerBridge(link)) continue;
    add(address.network(), "address on " + (link ? link->name : std::string("?")));
  }
  for (const auto& route : facts.network.routes) {
    const LinkInfo* link = facts.network.FindLink(route.out_link_index);
    if (IsDockerBridge(link) || route.table == 255) continue;  // 255: the kernel's local table
    add(route.destination, "route via " + (link ? link->name : std::string("?")));
  }
  if (facts.kubernetes_service_host) {
    if (auto address = IpAddress::Parse(*facts.kubernetes_service_host)) {
      add(Cidr::Of(*address, address->max_prefix()), "KUBERNETES_SERVICE_HOST");
    }
  }
  if (facts.resolv_conf) {
    for (const auto& nameserver : ParseNameservers(*facts.resolv_conf)) {
      add(Cidr::Of(nameserver, nameserver.max_prefix()), "nameserver in resolv.conf");
    }
  }
  for (const auto& cidr : avoid) add(cidr, "--avoid");

  std::vector<Cidr> free_networks;
  for (const auto& candidate : CandidateNetworks()) {
    bool collides = false;
    for (const auto& avoided : decision.avoided)
      collides = collides || avoided.cidr.Overlaps(candidate);
    if (!collides) free_networks.push_back(candidate);
    if (free_networks.size() == 1 + kPoolCount) break;
  }
  if (free_networks.size() < 1 + kPoolCount) {
    return Error::Environment(
        "no free private /16 for docker's networks: every candidate in 172.17-31.0.0/16, "
        "192.168.0.0/16 and 10.200-254.0.0/16 overlaps an address, route, nameserver or --avoid",
        "narrow the --avoid ranges");
  }
  decision.bridge_network = free_networks[0];
  decision.bip = free_networks[0].Host(1).ToString() + "/16";
  decision.fixed_cidr = free_networks[0].LowerHalf();
  for (size_t i = 1; i < free_networks.size(); ++i) {
    decision.default_address_pools.push_back({free_networks[i], 24});
  }
  decision.reason = decision.bridge_network.ToString() == "172.17.0.0/16"
                        ? "docker's default ranges collide with nothing the pod can reach"
                        : "docker's default 172.17.0.0/16 collides; first free ranges chosen";
  return decision;
}

}  // namespace dind::netcfg
