// SPDX-License-Identifier: Apache-2.0
// Docker networks as the Engine API lists them, and docker's bridges as the kernel shows them,
// for tests of what the sidecar and the checks on docker's networks do with them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/cidr.h"
#include "common/mtu.h"
#include "daemon/docker/docker_api.h"
#include "netcfg/netlink/snapshot.h"

namespace dind::testing {

// A bridge network; `mtu` is its com.docker.network.driver.mtu option, when set.
inline docker::DockerNetwork BridgeNetwork(std::string name, const std::string& subnet,
                                           std::optional<Mtu> mtu, std::string bridge) {
  docker::DockerNetwork network;
  network.name = std::move(name);
  network.driver = "bridge";
  network.subnets = {Cidr::Parse(subnet).value()};
  network.mtu = mtu;
  network.bridge_name = std::move(bridge);
  return network;
}

// Any network, as the checks on docker's networks see it; a "bridge" one's Linux bridge is
// "br-" + its name.
inline docker::DockerNetwork Network(std::string name, std::string driver,
                                     const std::string& subnet, std::optional<Mtu> mtu,
                                     bool internal = false) {
  docker::DockerNetwork network;
  network.name = std::move(name);
  network.driver = std::move(driver);
  network.subnets = {Cidr::Parse(subnet).value()};
  network.mtu = mtu;
  network.internal = internal;
  network.bridge_name = network.driver == "bridge" ? "br-" + network.name : "";
  return network;
}

// An address on link `link`, as netlink lists it.
inline netcfg::AddressInfo LinkAddress(int link, const char* address, int prefix) {
  return {link, IpAddress::Parse(address).value(), prefix};
}

// The pod as the kernel shows it: its uplink, docker0 at 1500 (made before the MTU was fixed)
// with IPv4, IPv6 and a link-local address, a user network's bridge at the safe MTU, and a
// bridge that is not docker's.
inline netcfg::NetworkSnapshot PodWithBridges() {
  netcfg::NetworkSnapshot snapshot;
  snapshot.links = {{.index = 2, .name = "eth0", .kind = "veth", .mtu = 1450, .up = true},
                    {.index = 3, .name = "docker0", .kind = "bridge", .mtu = 1500, .up = true},
                    {.index = 4, .name = "br-0123456789ab", .kind = "bridge", .mtu = 1450},
                    {.index = 5, .name = "lxcbr0", .kind = "bridge", .mtu = 1500}};
  snapshot.addresses = {
      LinkAddress(2, "10.0.0.5", 24),       LinkAddress(3, "172.17.0.1", 16),
      LinkAddress(3, "fd00:d0c:e2::1", 64), LinkAddress(3, "fe80::42:acff:fe11:1", 64),
      LinkAddress(4, "172.30.0.1", 16),     LinkAddress(5, "10.0.3.1", 24)};
  return snapshot;
}

}  // namespace dind::testing
