// SPDX-License-Identifier: Apache-2.0
#include "daemon/sidecar/readiness.h"

#include <algorithm>

namespace dind::sidecar {

http::Readiness ReadinessOf(const SidecarState& state, const egress::ProberStatus* egress) {
  const DaemonJsonState& file = state.daemon_json;
  if (!file.written) {
    return {false, "daemon.json " + file.path + " is not written" +
                       (file.error.empty() ? "" : ": " + file.error)};
  }
  const RulesState& rules = state.rules;
  if (rules.enabled && !rules.present) {
    std::string reason = "masquerade rules are not in place";
    if (rules.backend) reason += " (" + rules::BackendName(*rules.backend) + ")";
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

std::optional<Mtu> LowestPathMtu(const egress::ProberStatus& egress, Family family) {
  std::optional<Mtu> lowest;
  for (const auto& result : egress.results) {
    if (result.family != family || !result.path_mtu || *result.path_mtu == 0) continue;
    const Mtu mtu = *result.path_mtu;
    if (!lowest || mtu < *lowest) lowest = mtu;
  }
  return lowest;
}

}  // namespace dind::sidecar
