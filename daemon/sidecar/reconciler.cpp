// SPDX-License-Identifier: Apache-2.0
#include "daemon/sidecar/reconciler.h"

#include <algorithm>
#include <chrono>

#include "common/log.h"
#include "common/strings.h"
#include "daemon/pod/configure_here.h"
#include "daemon/pod/rules_verdict.h"

namespace dind::sidecar {
namespace {

std::string BackendName(const rules::MasqueradeBackend& backend) {
  return std::string(rules::BackendName(backend.kind()));
}

std::vector<sidecar::NetworkMtu> BridgeNetworkMtus(
    const std::vector<docker::DockerNetwork>& networks) {
  std::vector<sidecar::NetworkMtu> mtus;
  for (const auto& network : networks) {
    if (network.driver != "bridge" || network.internal) continue;
    mtus.push_back({network.name, network.subnets, network.mtu.value_or(kDockerDefaultMtu)});
  }
  return mtus;
}

}  // namespace

Reconciler::Reconciler(std::string daemon_json_path, pod::NetworkDetector& detector,
                       const PodSysctls& sysctls, const pod::ChosenBackend* rules,
                       netcfg::NetlinkReader* bridges)
    : daemon_json_path_(std::move(daemon_json_path)),
      detector_(detector),
      sysctls_(sysctls),
      chosen_(rules),
      bridges_(bridges) {
  state_.daemon_json.path = daemon_json_path_;
  state_.rules.enabled = backend() != nullptr;
  if (backend() != nullptr) state_.rules.backend = backend()->kind();
}

Status Reconciler::Start() {
  auto report = detector_.Detect();
  if (!report) return report.error();
  return Start(std::move(report).value());
}

Status Reconciler::Start(netcfg::DetectionReport report) {
  auto configured = pod::ConfigureHere(daemon_json_path_, report, chosen_, "");
  if (!configured) return configured.error();
  pool_networks_ = configured->spec.spec.sources;
  state_.report = std::move(report);
  RecordDaemonJson(*state_.report, configured->daemon_json);
  if (configured->rules) {
    state_.rules.spec = configured->spec.spec;
    state_.rules.present = configured->rules->ok();
    state_.rules.error = configured->rules->ok() ? "" : configured->rules->error().Message();
  }
  state_.last_reconcile_at = Clock::now();
  DIND_RETURN_IF_ERROR(configured->status());
  // A fixed --clamp-mss needs no measurement: in force from the start.
  UpdateRules("--clamp-mss " + sidecar::ClampMssSettingName(state_.clamp.setting));
  return OkStatus();
}

void Reconciler::RecordDaemonJson(const netcfg::DetectionReport& report,
                                  const Result<netcfg::DaemonJsonUpdate>& update) {
  DaemonJsonState& file = state_.daemon_json;
  if (!update) {
    file.written = false;
    file.error = update.error().Message();
    return;
  }
  const Mtu before = file.mtu;
  file.written = true;
  file.error.clear();
  file.mtu = report.mtu.docker;
  if (update->written) ++file.writes;
  if (file.mtu != before && docker_mtu_listener_) docker_mtu_listener_->SetDockerMtu(file.mtu);
  // At start dockerd may not have read the file yet; the docker API tells (OnDockerNetworks).
  if (before != 0 && before != file.mtu) {
    file.restart_required = true;
    file.restart_reason = "the docker MTU changed from " + std::to_string(before) + " to " +
                          std::to_string(file.mtu) + " (uplink MTU " +
                          std::to_string(report.mtu.uplink) + "); daemon.json " +
                          daemon_json_path_ + " says so now: restart dockerd to apply it";
    log::Warn("dockerd must be restarted", {{"reason", file.restart_reason}});
  }
}

void Reconciler::set_docker_mtu_listener(egress::DockerMtuListener* listener) {
  docker_mtu_listener_ = listener;
  if (listener && state_.daemon_json.mtu != 0) listener->SetDockerMtu(state_.daemon_json.mtu);
}

void Reconciler::OnNetworkChanged() {
  auto report = detector_.Detect();
  if (!report) {
    log::Warn("detection after a network change failed; keeping the last decision",
              {{"error", report.error().Message()}});
    return;
  }
  // dockerd runs on the pools and cgroup decided at start; moving them under it would break it.
  report->pools = state_.report->pools;
  report->cgroup = state_.report->cgroup;
  state_.report = std::move(report).value();
  auto update = pod::WriteDaemonJson(daemon_json_path_, *state_.report);
  if (!update)
    log::Error("daemon.json could not be updated", {{"error", update.error().Message()}});
  RecordDaemonJson(*state_.report, update);
  // Without the API, a bridge dockerd made or changed shows only here.
  if (!bridges_why_.empty()) LearnBridgesFromNetlink(bridges_why_);
  UpdateRules("the uplink changed");
  state_.last_reconcile_at = Clock::now();
}

rules::MasqueradeSpec Reconciler::WantedSpec(std::vector<Cidr> sources) const {
  rules::MasqueradeSpec spec{std::move(sources), state_.report->primary_uplink().interface, {}};
  for (const auto& clamp : state_.clamp.plan.clamps)
    spec.clamps.push_back({clamp.network, clamp.mss});
  return spec;
}

void Reconciler::PlanClamps(const std::vector<Cidr>& sources) {
  ClampState& clamp = state_.clamp;
  sidecar::ClampPlan plan =
      sidecar::PlanMssClamps({.setting = clamp.setting,
                              .docker_mtu = state_.daemon_json.mtu,
                              .path_mtu_ipv4 = clamp.path_mtu_ipv4,
                              .path_mtu_ipv6 = clamp.path_mtu_ipv6,
                              .sources = sources,
                              .networks = BridgeNetworkMtus(state_.docker.networks)});
  for (const auto& planned : plan.clamps) {
    const bool known = std::find(clamp.plan.clamps.begin(), clamp.plan.clamps.end(), planned) !=
                       clamp.plan.clamps.end();
    if (!known) log::Warn("MSS clamp: " + sidecar::DescribeClamp(planned));
  }
  for (const auto& old : clamp.plan.clamps) {
    const bool kept = std::any_of(plan.clamps.begin(), plan.clamps.end(), [&](const auto& planned) {
      return planned.network == old.network;
    });
    if (!kept)
      log::Info("MSS clamp taken away: nothing calls for it now",
                {{"network", old.network.ToString()}});
  }
  for (const auto& sentence : plan.not_covered) {
    const auto& before = clamp.plan.not_covered;
    if (std::find(before.begin(), before.end(), sentence) == before.end()) log::Warn(sentence);
  }
  if (plan.avoiding_docker_mtu && plan.avoiding_docker_mtu != clamp.plan.avoiding_docker_mtu) {
    log::Warn(
        "the path beyond the pod is narrower than the docker MTU: TCP is clamped, UDP is not",
        {{"docker_mtu_that_avoids_the_clamp", std::to_string(*plan.avoiding_docker_mtu)},
         {"fix", "dind-netcfg init --mtu " + std::to_string(*plan.avoiding_docker_mtu) +
                     " (or --reserve), then restart dockerd; dind-netcfg never restarts it"}});
  }
  clamp.plan = std::move(plan);
}

void Reconciler::OnPathMtu(std::optional<Mtu> ipv4, std::optional<Mtu> ipv6) {
  ClampState& clamp = state_.clamp;
  if (ipv4 == clamp.path_mtu_ipv4 && ipv6 == clamp.path_mtu_ipv6) return;
  clamp.path_mtu_ipv4 = ipv4;
  clamp.path_mtu_ipv6 = ipv6;
  UpdateRules("the measured path MTU changed");
}

Status Reconciler::ApplyRules() {
  RulesState& rules = state_.rules;
  if (auto applied = backend()->Apply(rules.spec); !applied) {
    rules.present = false;
    rules.error = applied.error().Message();
    return applied.error();
  }
  rules.present = true;
  rules.missing.clear();
  rules.error.clear();
  return OkStatus();
}

void Reconciler::UpdateRules(const std::string& why) {
  if (backend() == nullptr) return;
  std::vector<Cidr> networks = pod::MasqueradeSources(pool_networks_, state_.docker.networks);
  PlanClamps(networks);
  rules::MasqueradeSpec wanted = WantedSpec(std::move(networks));
  if (wanted.sources == state_.rules.spec.sources &&
      wanted.out_interface == state_.rules.spec.out_interface &&
      wanted.clamps == state_.rules.spec.clamps) {
    return;
  }
  state_.rules.spec = std::move(wanted);
  if (auto applied = ApplyRules(); !applied) {
    log::Error("masquerade rules could not be updated",
               {{"why", why}, {"error", applied.error().Message()}});
    return;
  }
  std::vector<std::string> clamps;
  for (const auto& clamp : state_.rules.spec.clamps) {
    clamps.push_back(clamp.network.ToString() + " MSS " + std::to_string(clamp.mss));
  }
  log::Info("masquerade rules updated",
            {{"why", why},
             {"sources", Join(CidrStrings(state_.rules.spec.sources), "; ")},
             {"out_interface", state_.rules.spec.out_interface},
             {"mss_clamps", clamps.empty() ? "none" : Join(clamps, "; ")}});
}

bool Reconciler::PollRules(int full_every) {
  if (backend() == nullptr) return false;
  if (stamp_in_place_ && ++polls_since_check_ < full_every &&
      backend()->ChangeStamp() == stamp_in_place_) {
    return false;
  }
  return CheckRules();
}

bool Reconciler::CheckRules() {
  if (backend() == nullptr) return false;
  RulesState& rules = state_.rules;
  ++rules.checks;
  polls_since_check_ = 0;
  // Taken before reading: a change between the two makes the next poll look again.
  const std::optional<std::uint64_t> stamp = backend()->ChangeStamp();
  stamp_in_place_.reset();
  auto found = backend()->InspectOurs();
  if (!found) {
    rules.error = found.error().Message();
    log::Warn("masquerade rules could not be read", {{"error", rules.error}});
    return false;
  }
  const pod::RulesVerdict verdict =
      pod::CheckPresence(backend()->kind(), rules.spec, *found, false);
  if (verdict.present && verdict.stale.empty()) {
    rules.present = true;
    rules.missing.clear();
    stamp_in_place_ = stamp;
    return false;
  }
  rules.present = false;
  rules.missing = verdict.missing;
  for (const auto& stale : verdict.stale) rules.missing.push_back("unwanted rule " + stale);
  const auto started = std::chrono::steady_clock::now();
  if (auto applied = ApplyRules(); !applied) {
    log::Error("masquerade rules drifted and could not be repaired",
               {{"backend", BackendName(*backend())},
                {"found", Join(verdict.missing, "; ")},
                {"error", applied.error().Message()}});
    return false;
  }
  ++rules.repairs;
  rules.last_repair_at = Clock::now();
  stamp_in_place_ = backend()->ChangeStamp();
  const auto took = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - started);
  log::Warn("masquerade rules drifted; repaired",
            {{"backend", BackendName(*backend())},
             {"found", Join(verdict.missing.empty() ? verdict.stale : verdict.missing, "; ")},
             {"repair_ms", std::to_string(static_cast<double>(took.count()) / 1000.0)},
             {"repairs", std::to_string(rules.repairs)}});
  return true;
}

void Reconciler::OnDockerNetworks(std::vector<docker::DockerNetwork> networks) {
  pod::DockerState& docker = state_.docker;
  if (!docker.api_up) log::Info("docker API answers", {{"socket", docker.socket}});
  docker.api_up = true;
  docker.error.clear();
  docker.networks_from = "docker API " + docker.socket;
  bridges_why_.clear();
  AdoptNetworks(std::move(networks));
}

void Reconciler::LearnBridgesFromNetlink(const std::string& why) {
  if (bridges_ == nullptr) return;
  bridges_why_ = why;
  auto snapshot = bridges_->ReadSnapshot();
  if (!snapshot) {
    log::Warn("docker's bridges could not be read from netlink either",
              {{"why", why}, {"error", snapshot.error().Message()}});
    return;
  }
  std::vector<docker::DockerNetwork> bridges = pod::BridgesFromSnapshot(*snapshot);
  pod::DockerState& docker = state_.docker;
  const std::string from = "netlink (" + why + ")";
  if (bridges != docker.networks || from != docker.networks_from) {
    std::vector<std::string> found;
    for (const auto& bridge : bridges) {
      const std::vector<std::string> subnets = CidrStrings(bridge.subnets);
      found.push_back(bridge.bridge_name + " MTU " + std::to_string(bridge.mtu.value_or(0)) +
                      (subnets.empty() ? "" : " " + Join(subnets, ",")));
    }
    log::Info("docker's networks read from netlink: the docker API cannot be read",
              {{"networks_from", from}, {"bridges", found.empty() ? "none" : Join(found, "; ")}});
  }
  docker.networks_from = from;
  AdoptNetworks(std::move(bridges));
}

void Reconciler::AdoptNetworks(std::vector<docker::DockerNetwork> networks) {
  pod::DockerState& docker = state_.docker;
  docker.networks = std::move(networks);

  const Mtu safe_mtu = state_.daemon_json.mtu;
  auto too_high = pod::NetworksAboveMtu(docker.networks, safe_mtu);
  for (const auto& finding : too_high) {
    const bool known = std::any_of(
        docker.mtu_too_high.begin(), docker.mtu_too_high.end(),
        [&](const pod::NetworkMtuFinding& old) { return old.network == finding.network; });
    if (known) continue;
    log::Warn("docker network MTU above the safe MTU: big packets of its containers are lost",
              {{"network", finding.network},
               {"bridge", finding.bridge},
               {"mtu", std::to_string(finding.mtu) +
                           (finding.mtu_from_option ? "" : " (no MTU option: dockerd's default)")},
               {"safe_mtu", std::to_string(safe_mtu)},
               {"networks_from", docker.networks_from},
               {"fix", "recreate it with --opt com.docker.network.driver.mtu=" +
                           std::to_string(safe_mtu)}});
  }
  docker.mtu_too_high = std::move(too_high);
  RecheckDockerFirewall();  // a network with IPv6 brings IPv6 forwarding into it

  // The default bridge's MTU option is the MTU dockerd itself runs with.
  DaemonJsonState& file = state_.daemon_json;
  for (const auto& network : docker.networks) {
    if (network.name != "bridge" || network.driver != "bridge" || !network.mtu) continue;
    const bool stale = *network.mtu != file.mtu;
    if (stale && !file.restart_required) {
      file.restart_reason = "dockerd runs its default bridge with MTU " +
                            std::to_string(*network.mtu) + " but daemon.json " + file.path +
                            " says " + std::to_string(file.mtu) +
                            ": restart dockerd to apply the file";
      log::Warn("dockerd must be restarted", {{"reason", file.restart_reason}});
    } else if (!stale && file.restart_required) {
      file.restart_reason.clear();
      log::Info("dockerd runs with the MTU daemon.json sets", {{"mtu", std::to_string(file.mtu)}});
    }
    file.restart_required = stale;
  }
  UpdateRules("docker's networks changed");
  state_.last_reconcile_at = Clock::now();
}

void Reconciler::OnDockerInfo(docker::DockerInfo info) {
  docker_info_ = std::move(info);
  RecheckDockerFirewall();
}

void Reconciler::RecheckDockerFirewall() {
  if (!docker_info_) return;
  const auto& networks = state_.docker.networks;
  std::optional<bool> ipv6_forwarding;
  if (std::any_of(networks.begin(), networks.end(), [](const auto& n) { return n.enable_ipv6; })) {
    ipv6_forwarding = sysctls_.Ipv6Forwarding();  // the pod's namespace is dockerd's
  }
  pod::DockerFirewall firewall =
      pod::CheckDockerFirewall(*docker_info_, state_.rules.backend, ipv6_forwarding);
  const auto& before = state_.docker.firewall;
  if (!before || before->driver != firewall.driver) {
    log::Info(
        "dockerd's firewall backend: " + firewall.driver,
        {{"read_from", firewall.read_from},
         {"ours", state_.rules.backend ? std::string(rules::BackendName(*state_.rules.backend))
                                       : std::string("none (--no-rules)")}});
  }
  for (const auto& warning : firewall.warnings) {
    const bool known = before && std::find(before->warnings.begin(), before->warnings.end(),
                                           warning) != before->warnings.end();
    if (!known) log::Warn("dockerd's firewall: " + warning);
  }
  state_.docker.firewall = std::move(firewall);
}

void Reconciler::OnDockerUnavailable(const std::string& error) {
  pod::DockerState& docker = state_.docker;
  if (docker.api_up || docker.error != error) {
    log::Warn("docker API unavailable; masquerading the pools daemon.json sets",
              {{"error", error}});
  }
  docker.api_up = false;
  docker.error = error;
  LearnBridgesFromNetlink("docker API unavailable: " + error);
}

void Reconciler::OnDockerNotFollowed() {
  state_.docker.error = "not followed (--docker-socket \"\")";
  LearnBridgesFromNetlink("docker API not followed: --docker-socket \"\"");
}

Status Reconciler::RemoveRules() {
  if (backend() == nullptr) return OkStatus();
  DIND_RETURN_IF_ERROR(backend()->Remove());
  state_.rules.present = false;
  log::Info("masquerade rules removed (--cleanup-on-exit)", {{"backend", BackendName(*backend())}});
  return OkStatus();
}

}  // namespace dind::sidecar
