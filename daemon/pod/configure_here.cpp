// SPDX-License-Identifier: Apache-2.0
#include "daemon/pod/configure_here.h"

#include "common/log.h"
#include "netcfg/detect/daemon_json_plan.h"

namespace dind::pod {

Status CheckExistingDaemonJson(const std::string& path) {
  auto existing = netcfg::ReadDaemonJson(path);
  if (!existing) return existing.error();
  if (*existing) DIND_RETURN_IF_ERROR(netcfg::MergeDaemonJson(*existing, {}, path));
  return OkStatus();
}

Result<netcfg::DaemonJsonUpdate> WriteDaemonJson(const std::string& path,
                                                 const netcfg::DetectionReport& report) {
  auto update = netcfg::UpdateDaemonJsonFile(path, netcfg::PlanDaemonJson(report));
  if (!update) return update.error();
  // An unchanged file is the usual answer to a network change: not worth a line at info.
  (update->written ? log::Info : log::Debug)(
      update->written ? "daemon.json written" : "daemon.json already up to date",
      {{"path", path},
       {"mtu", std::to_string(report.mtu.docker)},
       {"changes", std::to_string(update->changes.size())},
       {"for_dockerd", report.dockerd.version.ToString()},
       {"version_from",
        report.dockerd.read_from.empty() ? report.dockerd.source : report.dockerd.read_from}});
  return update;
}

Result<Configured> ConfigureHere(const std::string& daemon_json_path,
                                 const netcfg::DetectionReport& report, const ChosenBackend* chosen,
                                 std::string_view skip_rules) {
  auto update = WriteDaemonJson(daemon_json_path, report);
  if (!update) return update.error();
  Configured configured{std::move(update).value(), SpecForReport(report), std::nullopt};
  if (chosen == nullptr) return configured;

  auto applied = ApplyInChosen(*chosen, configured.spec.spec);
  if (!applied) {
    configured.rules = applied.error().Wrap(
        "daemon.json " + daemon_json_path + " is written, but the masquerade rules are not" +
        (skip_rules.empty() ? "" : " (" + std::string(skip_rules) + " skips them)"));
    return configured;
  }
  log::Info("masquerade rules applied",
            {{"backend", std::string(rules::BackendName(chosen->decision.chosen))},
             {"rules", std::to_string(applied->state.rules.size())},
             {"out_interface", configured.spec.spec.out_interface}});
  configured.rules = std::move(applied);
  return configured;
}

Status Configured::status() const {
  if (rules && !rules->ok()) return rules->error();
  return OkStatus();
}

}  // namespace dind::pod
