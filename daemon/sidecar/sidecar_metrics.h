// SPDX-License-Identifier: Apache-2.0
// The sidecar's Prometheus metrics. Gauges and totals are read from the state at every scrape,
// so they can never disagree with /status; probe latencies are observed once per finished round.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "common/result.h"
#include "daemon/egress/prober.h"
#include "daemon/http/health_routes.h"
#include "daemon/metrics/registry.h"
#include "daemon/sidecar/sidecar_state.h"

namespace dind::sidecar {

class SidecarMetrics {
 public:
  static Result<SidecarMetrics> Create(metrics::Registry& registry);

  // Sets every gauge and total from the state; call right before rendering.
  void Refresh(const SidecarState& state, const egress::ProberStatus* egress,
               const http::Readiness& readiness);
  // Observes the latency of each result the round just finished.
  void ObserveRound(const egress::ProberStatus& egress);

 private:
  SidecarMetrics() = default;
  void RefreshPreflight(const PreflightState& preflight);

  metrics::Gauge* ready_ = nullptr;
  metrics::Gauge* uplink_mtu_ = nullptr;
  metrics::Gauge* docker_mtu_ = nullptr;
  metrics::Gauge* overlay_overhead_ = nullptr;
  metrics::Gauge* pod_families_ = nullptr;
  metrics::Gauge* nested_egress_ = nullptr;
  metrics::Gauge* daemon_json_written_ = nullptr;
  metrics::Counter* daemon_json_writes_ = nullptr;
  metrics::Gauge* restart_required_ = nullptr;
  metrics::Gauge* backend_ = nullptr;
  metrics::Gauge* rules_present_ = nullptr;
  metrics::Counter* rule_checks_ = nullptr;
  metrics::Counter* rule_repairs_ = nullptr;
  metrics::Gauge* docker_api_up_ = nullptr;
  metrics::Gauge* network_mtu_ = nullptr;
  metrics::Gauge* networks_mtu_too_high_ = nullptr;
  metrics::Gauge* docker_firewall_ = nullptr;
  metrics::Gauge* docker_firewall_warnings_ = nullptr;
  metrics::Gauge* mss_clamp_ = nullptr;
  metrics::Gauge* probe_success_ = nullptr;
  metrics::Gauge* path_mtu_ = nullptr;
  metrics::Histogram* probe_latency_ = nullptr;
  metrics::Gauge* last_reconcile_ = nullptr;
  metrics::Gauge* preflight_ = nullptr;
  metrics::Gauge* preflight_last_run_ = nullptr;
  std::set<std::string> preflight_checks_;         // the checks exported, to forget those gone
  std::set<metrics::LabelValues> network_series_;  // to forget networks that are gone
  std::set<metrics::LabelValues> clamp_series_;    // to forget clamps taken away
  std::optional<std::string> firewall_series_;     // the driver exported, replaced when it changes
  std::map<std::string, Clock::time_point> observed_until_;  // per probe target
  std::uint64_t counted_writes_ = 0;
  std::uint64_t counted_checks_ = 0;
  std::uint64_t counted_repairs_ = 0;
};

}  // namespace dind::sidecar
