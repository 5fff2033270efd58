// SPDX-License-Identifier: Apache-2.0
// What `rules` masquerades: the docker networks (sources) and the interface they leave by.
// Pure functions over daemon.json text and a netlink snapshot, so every rule is unit-tested.
//
// Sources, first found wins:
//   1. --source CIDR... (explicit, overrides everything);
//   2. the daemon.json `init` wrote (--daemon-json, default /etc/docker/daemon.json): the network
//      of "bip" and the base of every "default-address-pools" entry;
//   3. the networks of the docker bridges present (links docker0 and br-*), link-local excluded.
// The out-interface is --out-interface (it must exist) or the IPv4 uplink (default route).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/cidr.h"
#include "common/result.h"
#include "netcfg/detect/decide.h"
#include "netcfg/netlink/snapshot.h"
#include "rules/masquerade.h"

namespace dind::cli {

inline constexpr std::string_view kDefaultDaemonJsonPath = "/etc/docker/daemon.json";

struct SourcesRequest {
  std::vector<Cidr> explicit_sources;  // --source
  std::string out_interface;           // --out-interface; "" for the IPv4 uplink
  std::string daemon_json_path;
  bool daemon_json_explicit = false;            // given by flag or environment
  std::optional<std::string> daemon_json_text;  // nullopt: the file does not exist
};

struct ResolvedSpec {
  rules::MasqueradeSpec spec;
  std::string sources_from;        // "--source", "daemon.json <path>", "docker bridges docker0"
  std::string out_interface_from;  // "--out-interface" or "IPv4 uplink (default route)"
};

// The bip network and the default-address-pools bases; empty when the file sets neither.
// kBadInput naming `path` and the key when the text or a value is malformed.
Result<std::vector<Cidr>> DockerNetworksFromDaemonJson(std::string_view text,
                                                       std::string_view path);

// Networks of the links named docker0 or br-*, in link order; `bridges` gets their names.
std::vector<Cidr> DockerBridgeNetworks(const netcfg::NetworkSnapshot& network,
                                       std::vector<std::string>& bridges);

// What `init` just decided: the default bridge's network and the pool bases.
std::vector<Cidr> NetworksFromPools(const netcfg::PoolDecision& pools);

// `requested` when it is a link here (else kBadInput naming it and the links there are),
// otherwise the IPv4 uplink (kEnvironment when there is no IPv4 default route).
Result<std::string> ResolveOutInterface(const std::string& requested,
                                        const netcfg::NetworkSnapshot& network);

Result<ResolvedSpec> ResolveMasqueradeSpec(const SourcesRequest& request,
                                           const netcfg::NetworkSnapshot& network);

}  // namespace dind::cli
