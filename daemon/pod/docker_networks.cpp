// SPDX-License-Identifier: Apache-2.0
#include "daemon/pod/docker_networks.h"

#include <algorithm>

namespace dind::pod {

DockerFirewall CheckDockerFirewall(const docker::DockerInfo& info,
                                   std::optional<rules::BackendKind> ours,
                                   std::optional<bool> ipv6_forwarding) {
  DockerFirewall firewall;
  if (info.firewall_driver) {
    firewall.driver = *info.firewall_driver;
    firewall.read_from = "GET /info FirewallBackend";
  } else {
    firewall.driver = "iptables";
    firewall.read_from = "GET /info has no FirewallBackend (dockerd " + info.server_version +
                         ", before 28.2): it always calls iptables";
  }
  const bool nftables = firewall.driver.starts_with("nftables");
  if (nftables && ours == rules::BackendKind::kLegacy) {
    firewall.warnings.push_back(
        "dockerd writes its own rules with nftables (FirewallBackend " + firewall.driver +
        "), but this pod's kernel honours only ip_tables (the legacy backend dind-netcfg "
        "chose): dockerd's NAT and filtering for nested containers do not take effect. Remove "
        "\"firewall-backend\": \"nftables\" from daemon.json (or DOCKER_FIREWALL_BACKEND) so "
        "that dockerd calls iptables, which `dind-netcfg entrypoint` points at the legacy "
        "backend");
  }
  if (!info.ipv4_forwarding) {
    firewall.warnings.push_back(
        nftables ? "IPv4 forwarding is off in the pod (GET /info IPv4Forwarding false) and "
                   "dockerd's nftables backend does not turn it on: Docker 29 refuses to create "
                   "networks and nested containers cannot get out. Set net.ipv4.ip_forward=1 in "
                   "the pod's network namespace before dockerd starts"
                 : "IPv4 forwarding is off in the pod (GET /info IPv4Forwarding false) although "
                   "dockerd's iptables backend turns it on: dockerd runs with --ip-forward=false "
                   "(or \"ip-forward\": false), so nested containers cannot get out. Remove it, "
                   "or set net.ipv4.ip_forward=1 in the pod");
  }
  if (nftables && ipv6_forwarding == false) {
    firewall.warnings.push_back(
        "a docker network has IPv6, and IPv6 forwarding is off in the pod "
        "(/proc/sys/net/ipv6/conf/all/forwarding is 0): dockerd's nftables backend does not turn "
        "it on and Docker 29 refuses IPv6 networks then. Set net.ipv6.conf.all.forwarding=1 in "
        "the pod's network namespace before dockerd starts");
  }
  return firewall;
}

std::vector<NetworkMtuFinding> NetworksAboveMtu(const std::vector<docker::DockerNetwork>& networks,
                                                Mtu safe_mtu) {
  std::vector<NetworkMtuFinding> findings;
  for (const auto& network : networks) {
    if (network.driver != "bridge") continue;
    const Mtu mtu = network.mtu.value_or(kDockerDefaultMtu);
    if (mtu > safe_mtu) {
      findings.push_back({network.name, network.bridge_name, mtu, network.mtu.has_value()});
    }
  }
  return findings;
}

std::vector<docker::DockerNetwork> BridgesFromSnapshot(const netcfg::NetworkSnapshot& snapshot) {
  std::vector<docker::DockerNetwork> bridges;
  for (const auto& link : snapshot.links) {
    const bool docker_named = link.name == "docker0" || link.name.starts_with("br-");
    if (!docker_named || link.kind != "bridge") continue;
    docker::DockerNetwork network;
    network.name = link.name;
    network.driver = "bridge";
    network.bridge_name = link.name;
    network.mtu = link.mtu;
    for (const auto& address : snapshot.addresses) {
      if (address.link_index != link.index || address.address.is_ipv6_link_local()) continue;
      const Cidr subnet = address.network();
      if (std::find(network.subnets.begin(), network.subnets.end(), subnet) !=
          network.subnets.end()) {
        continue;
      }
      network.subnets.push_back(subnet);
      network.gateways.push_back(address.address);
      if (!address.address.is_v4()) network.enable_ipv6 = true;
    }
    bridges.push_back(std::move(network));
  }
  return bridges;
}

std::vector<Cidr> MasqueradeSources(const std::vector<Cidr>& pool_networks,
                                    const std::vector<docker::DockerNetwork>& networks) {
  std::vector<Cidr> sources = pool_networks;
  for (const auto& network : networks) {
    if (network.driver != "bridge" || network.internal) continue;
    for (const auto& subnet : network.subnets) {
      const bool covered = std::any_of(sources.begin(), sources.end(), [&](const Cidr& source) {
        return source.family() == subnet.family() && source.Contains(subnet);
      });
      if (!covered) sources.push_back(subnet);
    }
  }
  return sources;
}

}  // namespace dind::pod
