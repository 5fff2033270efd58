// SPDX-License-Identifier: Apache-2.0
#include "daemon/sidecar/sidecar_metrics.h"

#include "common/mtu.h"
#include "daemon/doctor/check.h"

namespace dind::sidecar {
namespace {

// The state keeps totals; a counter goes up by what is new since the last scrape.
void CatchUp(metrics::Counter& counter, std::uint64_t total, std::uint64_t& counted) {
  counter.Increment({}, static_cast<double>(total - counted));  // 0 at first: the series exists
  counted = total;
}

}  // namespace

Result<SidecarMetrics> SidecarMetrics::Create(metrics::Registry& registry) {
  SidecarMetrics m;
  auto gauge = [&](metrics::Gauge*& out, std::string name, std::string help,
                   std::vector<std::string> labels = {}) -> Status {
    auto added = registry.AddGauge(std::move(name), std::move(help), std::move(labels));
    if (!added) return added.error();
    out = *added;
    return OkStatus();
  };
  auto counter = [&](metrics::Counter*& out, std::string name, std::string help) -> Status {
    auto added = registry.AddCounter(std::move(name), std::move(help));
    if (!added) return added.error();
    out = *added;
    return OkStatus();
  };
  DIND_RETURN_IF_ERROR(gauge(m.ready_, "dind_netcfg_ready", "1 when /readyz answers 200"));
  DIND_RETURN_IF_ERROR(
      gauge(m.uplink_mtu_, "dind_netcfg_uplink_mtu_bytes",
            "MTU of the pod's uplink the docker MTU was sized from (the narrower family's)"));
  DIND_RETURN_IF_ERROR(gauge(m.pod_families_, "dind_netcfg_pod_families_info",
                             "the pod's address families with egress", {"families"}));
  DIND_RETURN_IF_ERROR(gauge(m.nested_egress_, "dind_netcfg_nested_egress_possible",
                             "1 when nested containers' traffic of the family has a way out of "
                             "the pod (IPv4 in an IPv6-only pod has none)",
                             {"family"}));
  DIND_RETURN_IF_ERROR(gauge(m.docker_mtu_, "dind_netcfg_docker_mtu_bytes",
                             "MTU daemon.json gives nested docker networks"));
  DIND_RETURN_IF_ERROR(gauge(m.overlay_overhead_, "dind_netcfg_overlay_overhead_bytes",
                             "bytes the CNI overlay takes from each packet, as detected"));
  DIND_RETURN_IF_ERROR(gauge(m.daemon_json_written_, "dind_netcfg_daemon_json_written",
                             "1 when daemon.json holds what detection decided"));
  DIND_RETURN_IF_ERROR(counter(m.daemon_json_writes_, "dind_netcfg_daemon_json_writes_total",
                               "times daemon.json was rewritten"));
  DIND_RETURN_IF_ERROR(gauge(m.restart_required_, "dind_netcfg_dockerd_restart_required",
                             "1 when dockerd must be restarted to apply daemon.json"));
  DIND_RETURN_IF_ERROR(gauge(m.backend_, "dind_netcfg_masquerade_backend_info",
                             "the masquerade backend in use", {"backend"}));
  DIND_RETURN_IF_ERROR(gauge(m.rules_present_, "dind_netcfg_rules_present",
                             "1 when dind-netcfg's masquerade rules are all in place"));
  DIND_RETURN_IF_ERROR(counter(m.rule_checks_, "dind_netcfg_rule_checks_total",
                               "inspections of the masquerade rules"));
  DIND_RETURN_IF_ERROR(counter(m.rule_repairs_, "dind_netcfg_rule_repairs_total",
                               "times the masquerade rules were found drifted and re-applied"));
  DIND_RETURN_IF_ERROR(
      gauge(m.docker_api_up_, "dind_netcfg_docker_api_up", "1 while dockerd's API answers"));
  DIND_RETURN_IF_ERROR(gauge(m.network_mtu_, "dind_netcfg_docker_network_mtu_bytes",
                             "MTU of each docker bridge network (1500 when it sets none)",
                             {"network", "bridge"}));
  DIND_RETURN_IF_ERROR(gauge(m.networks_mtu_too_high_, "dind_netcfg_docker_networks_mtu_too_high",
                             "docker bridge networks whose MTU is above the safe MTU"));
  DIND_RETURN_IF_ERROR(gauge(m.docker_firewall_, "dind_netcfg_dockerd_firewall_backend_info",
                             "dockerd's own firewall backend, as GET /info states it", {"driver"}));
  DIND_RETURN_IF_ERROR(gauge(m.docker_firewall_warnings_, "dind_netcfg_dockerd_firewall_warnings",
                             "problems found in dockerd's firewall setup (see /status)"));
  DIND_RETURN_IF_ERROR(gauge(m.mss_clamp_, "dind_netcfg_mss_clamp_bytes",
                             "MSS nested TCP of the network is clamped to (--clamp-mss)",
                             {"network"}));
  DIND_RETURN_IF_ERROR(gauge(m.probe_success_, "dind_netcfg_probe_success",
                             "1 when the last egress probe of the target passed, 0 when it "
                             "failed, -1 when inconclusive",
                             {"target"}));
  DIND_RETURN_IF_ERROR(gauge(m.path_mtu_, "dind_netcfg_path_mtu_bytes",
                             "path MTU measured from the docker bridge", {"target"}));
  auto histogram = registry.AddHistogram("dind_netcfg_probe_latency_seconds",
                                         "time each egress probe took to its verdict",
                                         metrics::ProbeLatencyBuckets(), {"target"});
  if (!histogram) return histogram.error();
  m.probe_latency_ = *histogram;
  DIND_RETURN_IF_ERROR(gauge(m.last_reconcile_, "dind_netcfg_last_reconcile_timestamp_seconds",
                             "Unix time of the last reconcile"));
  // kube-state-metrics style: every check has a series per status, 1 for the one it is in and 0
  // for the others, so alerts compare with == 1 and no series vanishes when a status changes.
  DIND_RETURN_IF_ERROR(gauge(m.preflight_, "dind_netcfg_preflight",
                             "1 for the status (ok, warn, fail, unknown) of each preflight check "
                             "(`dind-netcfg doctor`'s checks) in the last round, 0 for the others",
                             {"check", "status"}));
  DIND_RETURN_IF_ERROR(gauge(m.preflight_last_run_,
                             "dind_netcfg_preflight_last_run_timestamp_seconds",
                             "Unix time the last preflight round ended"));
  return m;
}

void SidecarMetrics::Refresh(const SidecarState& state, const egress::ProberStatus* egress,
                             const http::Readiness& readiness) {
  ready_->Set(readiness.ready ? 1 : 0);
  if (state.report) {
    uplink_mtu_->Set(state.report->mtu.uplink);
    docker_mtu_->Set(state.report->mtu.docker);
    overlay_overhead_->Set(state.report->overlay.overhead_bytes);
    pod_families_->Set({std::string(netcfg::PodFamiliesName(state.report->families))}, 1);
    nested_egress_->Set({"ipv4"}, state.report->egress.ipv4 ? 1 : 0);
    nested_egress_->Set({"ipv6"}, state.report->ipv6.enabled && state.report->egress.ipv6 ? 1 : 0);
  }
  daemon_json_written_->Set(state.daemon_json.written ? 1 : 0);
  CatchUp(*daemon_json_writes_, state.daemon_json.writes, counted_writes_);
  restart_required_->Set(state.daemon_json.restart_required ? 1 : 0);
  if (state.rules.backend) {
    backend_->Set({std::string(rules::BackendName(*state.rules.backend))}, 1);
  }
  rules_present_->Set(state.rules.present ? 1 : 0);
  CatchUp(*rule_checks_, state.rules.checks, counted_checks_);
  CatchUp(*rule_repairs_, state.rules.repairs, counted_repairs_);
  docker_api_up_->Set(state.docker.api_up ? 1 : 0);

  std::set<metrics::LabelValues> networks;
  for (const auto& network : state.docker.networks) {
    if (network.driver != "bridge") continue;
    metrics::LabelValues labels{network.name, network.bridge_name};
    network_mtu_->Set(labels, network.mtu.value_or(kDockerDefaultMtu));
    networks.insert(std::move(labels));
  }
  for (const auto& gone : network_series_) {
    if (!networks.contains(gone)) network_mtu_->Remove(gone);
  }
  network_series_ = std::move(networks);
  networks_mtu_too_high_->Set(static_cast<double>(state.docker.mtu_too_high.size()));
  if (state.docker.firewall) {
    if (firewall_series_ && *firewall_series_ != state.docker.firewall->driver) {
      docker_firewall_->Remove({*firewall_series_});
    }
    firewall_series_ = state.docker.firewall->driver;
    docker_firewall_->Set({*firewall_series_}, 1);
    docker_firewall_warnings_->Set(static_cast<double>(state.docker.firewall->warnings.size()));
  }

  std::set<metrics::LabelValues> clamps;
  for (const auto& clamp : state.clamp.plan.clamps) {
    metrics::LabelValues labels{clamp.network.ToString()};
    mss_clamp_->Set(labels, clamp.mss);
    clamps.insert(std::move(labels));
  }
  for (const auto& gone : clamp_series_) {
    if (!clamps.contains(gone)) mss_clamp_->Remove(gone);
  }
  clamp_series_ = std::move(clamps);

  if (egress != nullptr) {
    for (const auto& result : egress->results) {
      const std::string key = result.target.Key();
      probe_success_->Set({key}, result.outcome == egress::Outcome::kPassed   ? 1
                                 : result.outcome == egress::Outcome::kFailed ? 0
                                                                              : -1);
      if (result.path_mtu) path_mtu_->Set({key}, *result.path_mtu);
    }
  }
  if (state.last_reconcile_at) {
    last_reconcile_->Set(
        std::chrono::duration<double>(state.last_reconcile_at->time_since_epoch()).count());
  }
  RefreshPreflight(state.preflight);
}

void SidecarMetrics::RefreshPreflight(const PreflightState& preflight) {
  static constexpr doctor::CheckStatus kStatuses[] = {
      doctor::CheckStatus::kOk, doctor::CheckStatus::kWarn, doctor::CheckStatus::kFail,
      doctor::CheckStatus::kUnknown};
  std::set<std::string> checks;
  for (const auto& check : preflight.checks) {
    for (const auto status : kStatuses) {
      preflight_->Set({check.id, std::string(doctor::CheckStatusName(status))},
                      check.status == status ? 1 : 0);
    }
    checks.insert(check.id);
  }
  for (const auto& gone : preflight_checks_) {
    if (checks.contains(gone)) continue;
    for (const auto status : kStatuses) {
      preflight_->Remove({gone, std::string(doctor::CheckStatusName(status))});
    }
  }
  preflight_checks_ = std::move(checks);
  if (preflight.ran_at) {
    preflight_last_run_->Set(
        std::chrono::duration<double>(preflight.ran_at->time_since_epoch()).count());
  }
}

void SidecarMetrics::ObserveRound(const egress::ProberStatus& egress) {
  for (const auto& result : egress.results) {
    // Results of earlier rounds stay in the status (a round without an attachment probes
    // nothing): observe each finished probe once.
    auto& observed = observed_until_[result.target.Key()];
    if (result.finished_at <= observed) continue;
    observed = result.finished_at;
    probe_latency_->Observe({result.target.Key()},
                            std::chrono::duration<double>(result.latency).count());
  }
}

}  // namespace dind::sidecar
