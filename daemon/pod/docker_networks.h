// SPDX-License-Identifier: Apache-2.0
// docker's networks as this pod sees them, and what is wrong with them: the networks above the
// docker MTU, the bridges read from the kernel when the API is silent, dockerd's firewall driver
// against the backend chosen here, and which networks need masquerading. Pure, so `detect` and
// the sidecar judge them the same way and each check is unit-tested.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/cidr.h"
#include "common/mtu.h"
#include "daemon/docker/docker_api.h"
#include "netcfg/netlink/snapshot.h"
#include "rules/masquerade.h"

namespace dind::pod {

// A docker network whose MTU is above the safe MTU: its containers' big packets are lost.
struct NetworkMtuFinding {
  std::string network;
  std::string bridge;
  Mtu mtu = 0;
  bool mtu_from_option = false;  // false: no option, dockerd's default (kDockerDefaultMtu)
};

// dockerd's own packet filtering, as its GET /info states it, checked against the backend
// dind-netcfg chose for this pod's kernel.
struct DockerFirewall {
  std::string driver;     // "iptables", "nftables", "iptables+firewalld"
  std::string read_from;  // "GET /info FirewallBackend", or why dockerd was taken to use iptables
  std::vector<std::string> warnings;  // each says what is wrong, where, and what to do

  bool operator==(const DockerFirewall&) const = default;
};

struct DockerState {
  std::string socket;
  bool api_up = false;
  std::string error;  // why the API cannot be read; empty while it answers
  std::vector<docker::DockerNetwork> networks;
  // Where `networks` came from: "docker API /var/run/docker.sock", or "netlink (docker API
  // unavailable: …)" when the bridges were read from the kernel instead; empty: not yet known.
  std::string networks_from;
  std::vector<NetworkMtuFinding> mtu_too_high;
  std::optional<DockerFirewall> firewall;  // once GET /info answered
};

// Bridge networks whose MTU (option, or dockerd's default kDockerDefaultMtu) is above `safe_mtu`.
std::vector<NetworkMtuFinding> NetworksAboveMtu(const std::vector<docker::DockerNetwork>& networks,
                                                Mtu safe_mtu);

// docker's bridges as the kernel shows them, for when the Engine API cannot be read: docker0
// and every br-* bridge, each a "bridge" network named by its link, with its MTU and the
// networks of its IPv4 and global IPv6 addresses. Whether one is internal is not visible here.
std::vector<docker::DockerNetwork> BridgesFromSnapshot(const netcfg::NetworkSnapshot& snapshot);

// What dockerd's firewall driver means here. `ours` is the backend chosen for the pod's kernel
// (nullopt with --no-rules); `ipv6_forwarding` is read only when a docker network has IPv6.
//   - Driver nftables (Docker 29's firewall-backend) while the kernel honours only ip_tables:
//     dockerd's own NAT for nested containers goes where the kernel ignores it.
//   - IPv4 (IPv6) forwarding off: the nftables driver does not turn it on and Docker 29 refuses
//     to run without it; with iptables dockerd turns it on itself, so off means it was told not
//     to (--ip-forward=false) and nested containers cannot get out.
DockerFirewall CheckDockerFirewall(const docker::DockerInfo& info,
                                   std::optional<rules::BackendKind> ours,
                                   std::optional<bool> ipv6_forwarding);

// What to masquerade: the networks of the pools daemon.json sets, plus the subnets of docker's
// bridge networks (KIND's `kind` network, CI job networks) that those do not already cover.
// Internal networks have no way out and are left alone.
std::vector<Cidr> MasqueradeSources(const std::vector<Cidr>& pool_networks,
                                    const std::vector<docker::DockerNetwork>& networks);

}  // namespace dind::pod
