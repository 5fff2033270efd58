// SPDX-License-Identifier: Apache-2.0
#include "daemon/pod/docker_report.h"

#include <algorithm>
#include <chrono>

#include "daemon/docker/docker_client.h"

namespace dind::pod {
namespace {

using Json = netcfg::OrderedJson;

}  // namespace

Json DockerStateToJson(const DockerState& docker) {
  Json networks = Json::array();
  for (const auto& network : docker.networks) {
    networks.push_back({{"name", network.name},
                        {"driver", network.driver},
                        {"bridge", network.bridge_name},
                        {"subnets", CidrStrings(network.subnets)},
                        {"mtu", network.mtu ? Json(*network.mtu) : Json(nullptr)},
                        {"internal", network.internal}});
  }
  Json too_high = Json::array();
  for (const auto& finding : docker.mtu_too_high) {
    too_high.push_back({{"network", finding.network},
                        {"bridge", finding.bridge},
                        {"mtu", finding.mtu},
                        {"mtu_from_option", finding.mtu_from_option}});
  }
  Json kind = nullptr;
  const auto kind_network =
      std::find_if(docker.networks.begin(), docker.networks.end(),
                   [](const auto& network) { return network.name == "kind"; });
  if (kind_network != docker.networks.end()) {
    const bool above = std::any_of(docker.mtu_too_high.begin(), docker.mtu_too_high.end(),
                                   [](const auto& finding) { return finding.network == "kind"; });
    kind = {{"bridge", kind_network->bridge_name},
            {"mtu", kind_network->mtu.value_or(kDockerDefaultMtu)},
            {"mtu_from_option", kind_network->mtu.has_value()},
            {"above_safe_mtu", above}};
  }
  Json firewall = nullptr;
  if (docker.firewall) {
    firewall = {{"driver", docker.firewall->driver},
                {"read_from", docker.firewall->read_from},
                {"warnings", docker.firewall->warnings}};
  }
  return {{"socket", docker.socket}, {"api_up", docker.api_up},
          {"error", docker.error},   {"networks_from", docker.networks_from},
          {"networks", networks},    {"mtu_too_high", too_high},
          {"kind_network", kind},    {"firewall", firewall}};
}

DockerState ReadDockerHere(const std::string& socket, Mtu safe_mtu) {
  DockerState docker;
  docker.socket = socket;
  docker::ClientOptions options;
  options.socket_path = socket;
  options.request_timeout = std::chrono::milliseconds(2000);
  auto networks = docker::ListNetworksNow(options);
  if (!networks) {
    docker.error = networks.error().Message();
    return docker;
  }
  docker.api_up = true;
  docker.networks = std::move(*networks);
  docker.mtu_too_high = NetworksAboveMtu(docker.networks, safe_mtu);
  return docker;
}

}  // namespace dind::pod
