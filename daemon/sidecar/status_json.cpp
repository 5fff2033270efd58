// SPDX-License-Identifier: Apache-2.0
#include "daemon/sidecar/status_json.h"

#include "daemon/doctor/preflight.h"
#include "daemon/doctor/report.h"
#include "daemon/pod/docker_report.h"
#include "netcfg/detect/detection_report.h"

namespace dind::sidecar {
namespace {

using Json = netcfg::OrderedJson;

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

// Before the first round ends: rounds 0, ran_at null, no checks (none is claimed to be ok).
Json PreflightToJson(const PreflightState& preflight) {
  if (!preflight.enabled) return {{"enabled", false}};
  const doctor::StatusCounts counts = doctor::CountStatuses(preflight.checks);
  return {{"enabled", true},
          {"rounds", preflight.rounds},
          {"ran_at", TimeOrNull(preflight.ran_at)},
          {"took_ms", preflight.took.count()},
          {"summary",
           {{"ok", counts.ok},
            {"warn", counts.warn},
            {"fail", counts.fail},
            {"unknown", counts.unknown}}},
          {"checks", doctor::PreflightChecksToJson(preflight.checks)}};
}

}  // namespace

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
  json["rules"] = {
      {"enabled", rules.enabled},
      {"backend", rules.backend ? Json(rules::BackendName(*rules.backend)) : Json(nullptr)},
      {"sources", CidrStrings(rules.spec.sources)},
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
  json["docker"] = pod::DockerStateToJson(state.docker);
  json["egress"] = EgressToJson(egress);
  json["preflight"] = PreflightToJson(state.preflight);
  return json;
}

}  // namespace dind::sidecar
