// SPDX-License-Identifier: Apache-2.0
#include "daemon/doctor/preflight.h"

#include <algorithm>
#include <utility>

#include "daemon/doctor/doctor_facts.h"
#include "daemon/doctor/report.h"

namespace dind::doctor {
namespace {

log::Level LevelOf(CheckStatus status) {
  switch (status) {
    case CheckStatus::kFail:
      return log::Level::kError;
    case CheckStatus::kWarn:
      return log::Level::kWarn;
    case CheckStatus::kUnknown:
    case CheckStatus::kOk:
      return log::Level::kInfo;
  }
  return log::Level::kInfo;
}

}  // namespace

std::string_view PreflightForName(PreflightFor command) {
  switch (command) {
    case PreflightFor::kInit:
      return "init";
    case PreflightFor::kRun:
      return "run";
    case PreflightFor::kEntrypoint:
      return "entrypoint";
  }
  return "run";
}

bool PreflightConcerns(PreflightFor command, std::string_view id) {
  if (command != PreflightFor::kInit) return true;
  return std::find(std::begin(kRunningDockerdOnly), std::end(kRunningDockerdOnly), id) ==
         std::end(kRunningDockerdOnly);
}

std::vector<CheckResult> SelectPreflight(PreflightFor command, std::vector<CheckResult> results) {
  std::erase_if(results, [command](const CheckResult& result) {
    return !PreflightConcerns(command, result.id);
  });
  return results;
}

std::vector<CheckResult> RunPreflight(PreflightFor command, const std::string& daemon_json,
                                      const std::string& docker_socket,
                                      std::optional<netcfg::DockerVersion> told_dockerd,
                                      PreflightFeed feed) {
  const HostFiles files;
  DoctorContext context{files};
  context.daemon_json = daemon_json;
  context.docker_socket = docker_socket;
  context.told_dockerd = told_dockerd;
  context.dns_fallback_probes = std::move(feed.dns_fallback);
  // run is a sidecar beside dockerd: the container facts are its container's (FactsProcess);
  // init sees no dockerd and reads its own, entrypoint finds its child.
  if (auto process = ChooseFactsProcess(files, "auto", docker_socket)) {
    context.process = std::move(process).value();
  }
  return SelectPreflight(command, RunAllChecks(context));
}

PreflightLog::PreflightLog(PreflightFor command, Sink sink)
    : command_(command), sink_(std::move(sink)) {}

void PreflightLog::Record(const std::vector<CheckResult>& results) {
  bool changed = false;
  for (const auto& result : results) {
    const auto last = last_.find(result.id);
    const bool first = last == last_.end();
    if (!first && last->second == result.status) continue;
    changed = true;
    log::Fields fields = {{"check", result.id},
                          {"status", std::string(CheckStatusName(result.status))},
                          {"summary", result.summary},
                          {"source", result.source}};
    if (result.status != CheckStatus::kOk && !result.fix.empty()) {
      fields.emplace_back("fix", result.fix);
    }
    if (!first) fields.emplace_back("was", std::string(CheckStatusName(last->second)));
    // An ok at the first round is what is expected: only a debug line. Once something was
    // wrong, its clearing is news.
    const log::Level level =
        result.status == CheckStatus::kOk && first ? log::Level::kDebug : LevelOf(result.status);
    const std::string message =
        result.status == CheckStatus::kUnknown
            ? "preflight: " + result.id + " could not be checked"
            : "preflight: " + result.id + " " + std::string(CheckStatusName(result.status));
    sink_(level, message, fields);
    last_[result.id] = result.status;
  }
  if (!changed) return;
  const StatusCounts counts = CountStatuses(results);
  sink_(log::Level::kInfo, "preflight checks",
        {{"command", std::string(PreflightForName(command_))},
         {"checks", std::to_string(results.size())},
         {"ok", std::to_string(counts.ok)},
         {"warn", std::to_string(counts.warn)},
         {"fail", std::to_string(counts.fail)},
         {"unknown", std::to_string(counts.unknown)}});
}

nlohmann::ordered_json PreflightChecksToJson(const std::vector<CheckResult>& results) {
  return RenderJson(results, "")["checks"];
}

}  // namespace dind::doctor
