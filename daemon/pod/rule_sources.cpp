// SPDX-License-Identifier: Apache-2.0
#include "daemon/pod/rule_sources.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/strings.h"

namespace dind::pod {
namespace {

std::vector<Cidr> Unique(const std::vector<Cidr>& cidrs) {
  std::vector<Cidr> unique;
  for (const auto& cidr : cidrs) {
    if (std::find(unique.begin(), unique.end(), cidr) == unique.end()) unique.push_back(cidr);
  }
  return unique;
}

bool IsDockerBridgeName(const std::string& name) {
  return name == "docker0" || name.starts_with("br-");
}

Result<Cidr> ParseDaemonJsonCidr(const nlohmann::json& value, const std::string& key,
                                 std::string_view path, const SourceInputNames& names) {
  const std::string where = "daemon.json " + std::string(path) + ": \"" + key + "\"";
  if (!value.is_string()) {
    return Error::BadInput(
        where + " is " + value.dump() + ", not a CIDR string",
        "write it like \"172.17.0.1/16\", or pass " + names.sources.name + " CIDR");
  }
  auto cidr = Cidr::Parse(value.get<std::string>());
  if (!cidr) return cidr.error().Wrap(where);
  return *cidr;
}

std::string_view UplinkName(const netcfg::DetectionReport& report) {
  return report.uplinks.ipv4 ? "IPv4 uplink (default route)" : "IPv6 uplink (default route)";
}

}  // namespace

Result<std::vector<Cidr>> DockerNetworksFromDaemonJson(std::string_view text, std::string_view path,
                                                       const SourceInputNames& names) {
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return Error::BadInput("daemon.json " + std::string(path) + " is not a JSON object",
                           "fix the file, point " + names.daemon_json.name +
                               " at the file init wrote, or pass " + names.sources.name + " CIDR");
  }
  std::vector<Cidr> networks;
  if (json.contains("bip")) {
    auto bip = ParseDaemonJsonCidr(json["bip"], "bip", path, names);
    if (!bip) return bip.error();
    networks.push_back(*bip);
  }
  if (json.contains("fixed-cidr-v6")) {
    auto fixed = ParseDaemonJsonCidr(json["fixed-cidr-v6"], "fixed-cidr-v6", path, names);
    if (!fixed) return fixed.error();
    networks.push_back(*fixed);
  }
  if (json.contains("default-address-pools")) {
    const auto& pools = json["default-address-pools"];
    if (!pools.is_array()) {
      return Error::BadInput(
          "daemon.json " + std::string(path) + ": \"default-address-pools\" is not an array",
          "write it like [{\"base\": \"172.18.0.0/16\", \"size\": 24}]");
    }
    for (std::size_t i = 0; i < pools.size(); ++i) {
      const std::string key = "default-address-pools[" + std::to_string(i) + "].base";
      if (!pools[i].is_object() || !pools[i].contains("base")) {
        return Error::BadInput("daemon.json " + std::string(path) + ": \"" + key + "\" is missing",
                               "every pool needs a \"base\" CIDR");
      }
      auto base = ParseDaemonJsonCidr(pools[i]["base"], key, path, names);
      if (!base) return base.error();
      networks.push_back(*base);
    }
  }
  return Unique(networks);
}

std::vector<Cidr> DockerBridgeNetworks(const netcfg::NetworkSnapshot& network,
                                       std::vector<std::string>& bridges) {
  std::vector<Cidr> networks;
  for (const auto& link : network.links) {
    if (!IsDockerBridgeName(link.name)) continue;
    bool any = false;
    for (const auto& address : network.addresses) {
      if (address.link_index != link.index || address.address.is_ipv6_link_local()) continue;
      networks.push_back(address.network());
      any = true;
    }
    if (any) bridges.push_back(link.name);
  }
  return Unique(networks);
}

std::vector<Cidr> NetworksFromPools(const netcfg::PoolDecision& pools) {
  std::vector<Cidr> networks{pools.bridge_network};
  for (const auto& pool : pools.default_address_pools) networks.push_back(pool.base);
  return Unique(networks);
}

std::vector<Cidr> NetworksFromReport(const netcfg::DetectionReport& report) {
  std::vector<Cidr> networks = NetworksFromPools(report.pools);
  if (report.ipv6.fixed_cidr_v6) networks.push_back(*report.ipv6.fixed_cidr_v6);
  if (report.ipv6.pool) networks.push_back(report.ipv6.pool->base);
  return networks;
}

ResolvedSpec SpecForReport(const netcfg::DetectionReport& report) {
  return {{NetworksFromReport(report), report.primary_uplink().interface},
          report.ipv6.enabled ? "init's bip network, fixed-cidr-v6 and default-address-pools"
                              : "init's bip network and default-address-pools",
          std::string(UplinkName(report))};
}

Result<std::string> ResolveOutInterface(const std::string& requested,
                                        const netcfg::NetworkSnapshot& network,
                                        const InputName& name) {
  if (!requested.empty()) {
    if (network.FindLink(requested) != nullptr) return requested;
    std::vector<std::string> names;
    for (const auto& link : network.links) names.push_back(link.name);
    return Error::BadInput(
        name.Full() + " '" + requested + "' is not a link in this network namespace",
        "name one of: " + Join(names, ", ") + "; or leave it out to use the IPv4 uplink");
  }
  const netcfg::Uplinks uplinks = netcfg::FindUplinks(network);
  if (!uplinks.ipv4 && !uplinks.ipv6) {
    return Error::Environment(
        "no default route (IPv4 or IPv6) in this network namespace, so there is no uplink to "
        "masquerade nested containers out of",
        "run dind-netcfg in the DinD pod's network namespace, or name the interface with " +
            name.name);
  }
  // An IPv6-only pod masquerades out of its IPv6 uplink.
  return uplinks.ipv4 ? uplinks.ipv4->interface : uplinks.ipv6->interface;
}

Result<ResolvedSpec> ResolveMasqueradeSpec(const SourcesRequest& request,
                                           const netcfg::NetworkSnapshot& network) {
  ResolvedSpec resolved;
  auto out_interface =
      ResolveOutInterface(request.out_interface, network, request.names.out_interface);
  if (!out_interface) return out_interface.error();
  resolved.spec.out_interface = *out_interface;
  resolved.out_interface_from = !request.out_interface.empty() ? request.names.out_interface.name
                                : netcfg::FindUplinks(network).ipv4 ? "IPv4 uplink (default route)"
                                                                    : "IPv6 uplink (default route)";

  if (!request.explicit_sources.empty()) {
    resolved.spec.sources = Unique(request.explicit_sources);
    resolved.sources_from = request.names.sources.name;
    return resolved;
  }
  if (request.daemon_json_text) {
    auto networks = DockerNetworksFromDaemonJson(*request.daemon_json_text,
                                                 request.daemon_json_path, request.names);
    if (!networks) return networks.error();
    if (!networks->empty()) {
      resolved.spec.sources = std::move(networks).value();
      resolved.sources_from = "daemon.json " + request.daemon_json_path;
      return resolved;
    }
  } else if (request.daemon_json_explicit) {
    return Error::BadInput(
        request.names.daemon_json.Full() + " " + request.daemon_json_path + " does not exist",
        "give the path init wrote (init --daemon-json), or name the networks "
        "with " +
            request.names.sources.name + " CIDR");
  }
  std::vector<std::string> bridges;
  resolved.spec.sources = DockerBridgeNetworks(network, bridges);
  if (resolved.spec.sources.empty()) {
    return Error::BadInput(
        "nothing to masquerade: " +
            (request.daemon_json_text ? "daemon.json " + request.daemon_json_path +
                                            " sets neither bip nor "
                                            "default-address-pools"
                                      : "there is no daemon.json at " + request.daemon_json_path) +
            ", and no docker bridge (docker0, br-*) with an address exists here",
        "run dind-netcfg init first, point " + request.names.daemon_json.name +
            " at its file, or pass " + request.names.sources.name + " CIDR");
  }
  resolved.sources_from = "docker bridges " + Join(bridges, ", ");
  return resolved;
}

}  // namespace dind::pod
