// SPDX-License-Identifier: Apache-2.0
// What `rules` masquerades: the docker networks (sources) and the interface they leave by.
// Pure functions over daemon.json text and a netlink snapshot, so every rule is unit-tested.
//
// Sources, first found wins:
//   1. the sources named explicitly (`rules --source CIDR...`), overriding everything;
//   2. the daemon.json `init` wrote (default /etc/docker/daemon.json): the network of "bip",
//      "fixed-cidr-v6" and the base of every "default-address-pools" entry;
//   3. the networks of the docker bridges present (links docker0 and br-*), link-local excluded.
// The out-interface is the one named (it must exist) or the IPv4 uplink (default route); the
// IPv6 uplink in an IPv6-only pod.
// Messages name each input as the caller calls it (SourceInputNames), never a flag of their own.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/cidr.h"
#include "common/result.h"
#include "netcfg/detect/detector.h"
#include "netcfg/detect/pools.h"
#include "netcfg/netlink/snapshot.h"
#include "rules/masquerade.h"

namespace dind::pod {

inline constexpr std::string_view kDefaultDaemonJsonPath = "/etc/docker/daemon.json";

// What the user calls an input: the `rules` command passes {"--out-interface",
// "DIND_NETCFG_OUT_INTERFACE"}.
struct InputName {
  std::string name;
  std::string env;  // "" when it has no environment variable
  // "--out-interface (DIND_NETCFG_OUT_INTERFACE)"
  std::string Full() const { return env.empty() ? name : name + " (" + env + ")"; }
};

struct SourceInputNames {
  InputName sources;        // the explicit source networks
  InputName out_interface;  // the interface to masquerade out of
  InputName daemon_json;    // the daemon.json path
};

struct SourcesRequest {
  std::vector<Cidr> explicit_sources;
  std::string out_interface;  // "" for the IPv4 uplink
  std::string daemon_json_path;
  bool daemon_json_explicit = false;            // named by the user, not the default path
  std::optional<std::string> daemon_json_text;  // nullopt: the file does not exist
  SourceInputNames names;
};

struct ResolvedSpec {
  rules::MasqueradeSpec spec;
  std::string sources_from;  // names.sources.name, "daemon.json <path>", "docker bridges docker0"
  std::string out_interface_from;  // names.out_interface.name or "IPv4 uplink (default route)"
};

// The bip network and the default-address-pools bases; empty when the file sets neither.
// kBadInput naming `path` and the key when the text or a value is malformed.
Result<std::vector<Cidr>> DockerNetworksFromDaemonJson(std::string_view text, std::string_view path,
                                                       const SourceInputNames& names);

// Networks of the links named docker0 or br-*, in link order; `bridges` gets their names.
std::vector<Cidr> DockerBridgeNetworks(const netcfg::NetworkSnapshot& network,
                                       std::vector<std::string>& bridges);

// What `init` just decided: the default bridge's network and the pool bases.
std::vector<Cidr> NetworksFromPools(const netcfg::PoolDecision& pools);
// The same and, when IPv6 is given to nested networks, fixed-cidr-v6 and the IPv6 pool base.
std::vector<Cidr> NetworksFromReport(const netcfg::DetectionReport& report);

// What init and run's start install: the networks `report` decided, out of its primary uplink
// (IPv4's, or IPv6's in an IPv6-only pod).
ResolvedSpec SpecForReport(const netcfg::DetectionReport& report);

// `requested` when it is a link here (else kBadInput naming `name` and the links there are),
// otherwise the IPv4 uplink (kEnvironment when there is no IPv4 default route).
Result<std::string> ResolveOutInterface(const std::string& requested,
                                        const netcfg::NetworkSnapshot& network,
                                        const InputName& name);

Result<ResolvedSpec> ResolveMasqueradeSpec(const SourcesRequest& request,
                                           const netcfg::NetworkSnapshot& network);

}  // namespace dind::pod
