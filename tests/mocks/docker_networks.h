// SPDX-License-Identifier: Apache-2.0
// Docker networks as the Engine API lists them, for tests of what the sidecar and the checks on
// docker's networks do with them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/cidr.h"
#include "common/mtu.h"
#include "daemon/docker/docker_api.h"

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

inline std::vector<std::string> CidrStrings(const std::vector<Cidr>& cidrs) {
  std::vector<std::string> out;
  for (const auto& cidr : cidrs) out.push_back(cidr.ToString());
  return out;
}

}  // namespace dind::testing
