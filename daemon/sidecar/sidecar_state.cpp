// SPDX-License-Identifier: Apache-2.0
#include "daemon/sidecar/sidecar_state.h"

#include <algorithm>

namespace dind::sidecar {
namespace {

using Json = netcfg::OrderedJson;

constexpr std::uint32_t kDockerDefaultMtu = 1500;

double UnixSeconds(Clock::time_point at) {
  return std::chrono::duration<double>(at.time_since_epoch()).count();
}

Json TimeOrNull(const std::optional<Clock::time_point>& at) {
  return at ? Json(UnixSeconds(*at)) : Json(nullptr);
}

Json StringsToJson(const std::vector<std::string>& items) {
  Json json = Json::array();
  for (const auto& item : items) json.push_back(item);
  return json;
}

Json CidrsToJson(const std::vector<Cidr>& cidrs) {
  Json json = Json::array();
  for (const auto& cidr : cidrs) json.push_back(cidr.ToString());
  return json;
}

const char* AttachmentName(egress::AttachStatus::State state) {
  switch (state) {
    case egress::AttachStatus::State::kAttached:
      return "attached";
    case egress::AttachStatus::State::kSettling:
      return "settling";
    case egress::AttachStatus::State::kNoBridge:
      return "no-bridge";
    case egress::AttachStatus::State::kFailed:
      return "failed";
  }
  return "unknown";
}

Json EgressToJson(const egress::ProberStatus* egress) {
  if (egress == nullptr) return {{"enabled", false}};
  Json results = Json::array();
  for (const auto& result : egress->results) {
    results.push_back({{"target", result.target.Key()},
                       {"origin", result.target.origin},
                       {"outcome", std::string(egress::OutcomeName(result.outcome))},
                       {"detail", result.detail},
                       {"latency_ms", static_cast<double>(result.latency.count()) / 1000.0},
                       {"path_mtu", result.path_mtu ? Json(*result.path_mtu) : Json(nullptr)},
                       {"family", result.family == Family::kIPv4 ? "ipv4" : "ipv6"},
                       {"finished_at", UnixSeconds(result.finished_at)}});
  }
  Json vantage = nullptr;
  if (egress->vantage) {
    vantage = {
        {"bridge", egress->vantage->bridge.name},
        {"bridge_network", egress->vantage->bridge.network.ToString()},
        {"port", egress->vantage->host_link},
        {"address", egress->vantage->address.ToString()},
        {"bridge_network_v6", egress->vantage->bridge.ipv6
                                  ? Json(egress->vantage->bridge.ipv6->network.ToString())
                                  : Json(nullptr)},
        {"address_v6", egress->vantage->address_v6 ? Json(egress->vantage->address_v6->ToString())
                                                   : Json(nullptr)},
        {"suggested_fixed_cidr", egress->vantage->suggested_fixed_cidr.ToString()}};
  }
  return {{"enabled", true},
          {"attachment", AttachmentName(egress->attachment)},
          {"attachment_reason", egress->attachment_reason},
          {"vantage", vantage},
          {"rounds", egress->rounds},
          {"results", results}};
}

}  // namespace

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
                                                std::uint32_t safe_mtu) {
  std::vector<NetworkMtuFinding> findings;
  for (const auto& network : networks) {
    if (network.driver != "bridge") continue;
    const std::uint32_t mtu = network.mtu.value_or(kDockerDefaultMtu);
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

http::Readiness ReadinessOf(const SidecarState& state, const egress::ProberStatus* egress) {
  const DaemonJsonState& file = state.daemon_json;
  if (!file.written) {
    return {false, "daemon.json " + file.path + " is not written" +
                       (file.error.empty() ? "" : ": " + file.error)};
  }
  const RulesState& rules = state.rules;
  if (rules.enabled && !rules.present) {
    std::string reason = "masquerade rules are not in place";
    if (rules.backend) reason += " (" + std::string(rules::BackendName(*rules.backend)) + ")";
    if (!rules.missing.empty()) reason += ": " + rules.missing.front();
    if (!rules.error.empty()) reason += "; last repair failed: " + rules.error;
    return {false, reason};
  }
  if (egress != nullptr && state.report &&
      state.report->families == netcfg::PodFamilies::kIPv6Only && egress->vantage &&
      !egress->vantage->Has(Family::kIPv6)) {
    // Its default IPv6 targets are skipped as inconclusive there: nothing would prove egress.
    return {false, "the pod is IPv6-only but docker bridge " + egress->vantage->bridge.name +
                       " has no IPv6 address, so nested containers cannot get out: give them "
                       "IPv6 (daemon.json from dind-netcfg init --ipv6 auto or on, then restart "
                       "dockerd)"};
  }
  if (egress != nullptr) {
    if (auto reason = egress::EgressNotReadyReason(HealedByClamp(*egress, state.clamp))) {
      return {false, *reason};
    }
  }
  return {true, ""};
}

egress::ProberStatus HealedByClamp(const egress::ProberStatus& egress, const ClampState& clamp) {
  egress::ProberStatus healed = egress;
  for (auto& result : healed.results) {
    if (result.outcome != egress::Outcome::kFailed || !result.path_mtu) continue;
    const Family family = result.family;
    const bool clamped = std::any_of(clamp.plan.clamps.begin(), clamp.plan.clamps.end(),
                                     [family](const sidecar::PlannedClamp& planned) {
                                       return planned.network.family() == family;
                                     });
    if (!clamped) continue;
    result.outcome = egress::Outcome::kPassed;
    result.detail += "; nested TCP is MSS-clamped to fit (UDP is not)";
  }
  return healed;
}

std::optional<std::uint32_t> LowestPathMtu(const egress::ProberStatus& egress, Family family) {
  std::optional<std::uint32_t> lowest;
  for (const auto& result : egress.results) {
    if (result.family != family || !result.path_mtu || *result.path_mtu <= 0) continue;
    const auto mtu = static_cast<std::uint32_t>(*result.path_mtu);
    if (!lowest || mtu < *lowest) lowest = mtu;
  }
  return lowest;
}

Json DockerStateToJson(const DockerState& docker) {
  Json networks = Json::array();
  for (const auto& network : docker.networks) {
    networks.push_back({{"name", network.name},
                        {"driver", network.driver},
                        {"bridge", network.bridge_name},
                        {"subnets", CidrsToJson(network.subnets)},
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

Json StatusToJson(const SidecarState& state, const egress::ProberStatus* egress,
                  const http::Readiness& readiness) {
  Json json;
  json["ready"] = readiness.ready;
  json["reason"] = readiness.reason;
  json["last_reconcile_at"] = TimeOrNull(state.last_reconcile_at);
  json["detection"] = state.report ? netcfg::ReportToJson(*state.report) : Json(nullptr);

  const DaemonJsonState& file = state.daemon_json;
  json["daemon_json"] = {{"path", file.path},
                         {"written", file.written},
                         {"error", file.error},
                         {"writes", file.writes},
                         {"mtu", file.mtu},
                         {"dockerd_restart_required", file.restart_required},
                         {"restart_reason", file.restart_reason}};

  const RulesState& rules = state.rules;
  json["rules"] = {{"enabled", rules.enabled},
                   {"backend", rules.backend ? Json(std::string(rules::BackendName(*rules.backend)))
                                             : Json(nullptr)},
                   {"sources", CidrsToJson(rules.spec.sources)},
                   {"out_interface", rules.spec.out_interface},
                   {"present", rules.present},
                   {"missing", StringsToJson(rules.missing)},
                   {"error", rules.error},
                   {"checks", rules.checks},
                   {"repairs", rules.repairs},
                   {"last_repair_at", TimeOrNull(rules.last_repair_at)}};

  const ClampState& clamp = state.clamp;
  Json clamps = Json::array();
  for (const auto& planned : clamp.plan.clamps) {
    clamps.push_back({{"network", planned.network.ToString()},
                      {"mss", planned.mss},
                      {"reason", planned.reason}});
  }
  const auto optional_number = [](const std::optional<std::uint32_t>& value) {
    return value ? Json(*value) : Json(nullptr);
  };
  json["clamp"] = {{"setting", sidecar::ClampMssSettingName(clamp.setting)},
                   {"path_mtu",
                    {{"ipv4", optional_number(clamp.path_mtu_ipv4)},
                     {"ipv6", optional_number(clamp.path_mtu_ipv6)}}},
                   {"clamps", clamps},
                   {"not_covered", StringsToJson(clamp.plan.not_covered)},
                   {"avoiding_docker_mtu", optional_number(clamp.plan.avoiding_docker_mtu)}};
  json["docker"] = DockerStateToJson(state.docker);
  json["egress"] = EgressToJson(egress);
  return json;
}

}  // namespace dind::sidecar
