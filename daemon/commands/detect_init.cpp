// SPDX-License-Identifier: Apache-2.0
// `detect` and `init`: the one-shot jobs of an init container.
#include <algorithm>
#include <iostream>
#include <memory>

#include "common/log.h"
#include "common/mtu.h"
#include "common/text_report.h"
#include "daemon/commands/commands.h"
#include "daemon/commands/detection_flags.h"
#include "daemon/commands/flags.h"
#include "daemon/commands/rules_command.h"
#include "daemon/docker/docker_api.h"
#include "daemon/doctor/preflight.h"
#include "daemon/pod/configure_here.h"
#include "daemon/pod/docker_networks.h"
#include "daemon/pod/docker_report.h"
#include "daemon/privileges/process_capabilities.h"
#include "netcfg/detect/detection_report.h"
#include "netcfg/netlink/rtnl_reader.h"

namespace dind::cli {
namespace {

netcfg::OrderedJson ChangesToJson(const std::vector<netcfg::KeyChange>& changes) {
  netcfg::OrderedJson json = netcfg::OrderedJson::array();
  for (const auto& change : changes) {
    json.push_back({{"key", change.key},
                    {"before", change.before.value_or(nullptr)},
                    {"after", change.after.value_or(nullptr)}});
  }
  return json;
}

std::string DescribeChange(const netcfg::KeyChange& change) {
  const auto show = [](const std::optional<netcfg::OrderedJson>& value) {
    return value ? value->dump() : std::string("(absent)");
  };
  return change.key + ": " + show(change.before) + " -> " + show(change.after);
}

std::string DockerToText(const pod::DockerState& docker, Mtu safe_mtu) {
  if (!docker.api_up) {
    return ReportLine("docker", "API at " + docker.socket + " not answering: " + docker.error);
  }
  std::string text = ReportLine("docker", "API at " + docker.socket + " answers; " +
                                              std::to_string(docker.networks.size()) + " networks");
  for (const auto& network : docker.networks) {
    if (network.driver != "bridge") continue;
    const auto finding = std::find_if(
        docker.mtu_too_high.begin(), docker.mtu_too_high.end(),
        [&](const pod::NetworkMtuFinding& high) { return high.network == network.name; });
    text +=
        "  " + network.name + " (" + network.bridge_name + ") MTU " +
        (network.mtu ? std::to_string(*network.mtu)
                     : std::to_string(kDockerDefaultMtu) + " (no MTU option: dockerd's default)");
    if (finding != docker.mtu_too_high.end()) {
      text += ": above the docker MTU " + std::to_string(safe_mtu) +
              ", its big packets are lost; recreate it with --opt com.docker.network.driver.mtu=" +
              std::to_string(safe_mtu);
    }
    text += "\n";
  }
  return text;
}

}  // namespace

int ReportFailure(const Error& error) {
  log::Error(error.Message(), {{"exit_code", std::to_string(error.ExitCode())}});
  return error.ExitCode();
}

Runner AddDetectCommand(CLI::App& app) {
  auto* command = app.add_subcommand(
      "detect", "Print what dind-netcfg sees in this network namespace and what it would decide");
  auto flags = std::make_shared<DetectionFlags>();
  auto json = std::make_shared<bool>(false);
  AddFlag(*command, "--json", *json, "print one JSON object");
  AddDetectionFlags(*command, *flags);
  auto backend = std::make_shared<BackendFlags>();
  AddBackendFlags(*command, *backend);
  auto docker_socket = std::make_shared<std::string>(docker::kDefaultSocketPath);
  AddOption(*command, "--docker-socket", "PATH", *docker_socket,
            "dockerd's API socket, asked for its networks (KIND's `kind` included) and their MTUs "
            "when it answers")
      ->default_str(*docker_socket);
  return [flags, json, backend, docker_socket]() {
    auto requested = ParseBackendFlags(*backend);
    if (!requested) return ReportFailure(requested.error().Wrap("detect"));
    netcfg::RtnlReader netlink;
    flags->sources.docker_socket = *docker_socket;  // dockerd's version from its API first
    auto report = RunDetection(*flags, netlink);
    if (!report) return ReportFailure(report.error().Wrap("detect"));
    // Read-only here: the census only reads, the proof runs in throwaway namespaces.
    auto decision = DescribeBackendDecision(report->kernel, *requested);
    if (!decision) return ReportFailure(decision.error().Wrap("detect"));
    const auto docker = pod::ReadDockerHere(*docker_socket, report->mtu.docker);
    if (*json) {
      auto output = netcfg::ReportToJson(*report);
      output["backend"] = decision->json;
      output["docker"] = pod::DockerStateToJson(docker);
      std::cout << output.dump(2) << "\n";
    } else {
      std::cout << netcfg::ReportToText(*report) << decision->text
                << DockerToText(docker, report->mtu.docker);
    }
    return 0;
  };
}

Runner AddInitCommand(CLI::App& app) {
  auto* command = app.add_subcommand(
      "init", "Detect the pod's network and write a daemon.json that makes nested Docker work");
  struct InitFlags {
    DetectionFlags detection;
    std::string daemon_json;
    bool json = false;
    BackendFlags backend;
    bool apply_rules = true;
    bool no_rules = false;
  };
  auto flags = std::make_shared<InitFlags>();
  AddOption(*command, "--daemon-json", "PATH", flags->daemon_json,
            "daemon.json to create or merge into (keys dind-netcfg does not own are kept)")
      ->required();
  AddFlag(*command, "--json", flags->json, "print one JSON object");
  AddDetectionFlags(*command, flags->detection);
  AddApplyRulesFlags(*command, flags->apply_rules, flags->no_rules);
  AddBackendFlags(*command, flags->backend);

  return [flags]() {
    const std::string& path = flags->daemon_json;
    auto requested = ParseBackendFlags(flags->backend);
    if (!requested) return ReportFailure(requested.error().Wrap("init"));
    if (auto valid = pod::CheckExistingDaemonJson(path); !valid) {
      return ReportFailure(valid.error().Wrap("init"));
    }

    // What init will do, checked before it starts: a missing capability is named with its fix
    // rather than surfacing as EPERM halfway. A non-root user's file capabilities are
    // permitted-only; this raises them.
    const bool with_rules = flags->apply_rules && !flags->no_rules;
    auto needs = with_rules ? privileges::RulesNeeds(flags->backend.kind == "auto", "--no-rules")
                            : privileges::Needs();
    const auto access = privileges::ReadDaemonJsonAccess(path);
    privileges::AddDaemonJsonNeeds(needs, access.other_owner, access.not_writable);
    if (auto raised = privileges::RequireEffective(needs); !raised) {
      return ReportFailure(raised.error().Wrap("init"));
    }

    netcfg::RtnlReader netlink;
    auto report = RunDetection(flags->detection, netlink);
    if (!report) return ReportFailure(report.error().Wrap("init"));
    // init runs in its own container: cgroup-parent only from --cgroup-parent. None is the
    // usual case, said in the report's cgroup section; the log line is for debugging.
    (report->cgroup.parent ? log::Info : log::Debug)(
        report->cgroup.parent ? "cgroup-parent for daemon.json: " + *report->cgroup.parent
                              : std::string("no cgroup-parent for daemon.json"),
        {{"source", report->cgroup.parent_source},
         {"reason", report->cgroup.reason},
         {"read_from", report->cgroup.read_from}});
    // The masquerade for the networks written, so one init container does both.
    std::optional<pod::ChosenBackend> chosen;
    if (with_rules) {
      auto made = pod::ChooseBackendHere(report->kernel, *requested);
      if (!made) return ReportFailure(made.error().Wrap("init"));
      chosen = std::move(made).value();
    }
    auto configured = pod::ConfigureHere(path, *report, chosen ? &*chosen : nullptr, "--no-rules");
    if (!configured) return ReportFailure(configured.error().Wrap("init"));
    if (auto status = configured->status(); !status) {
      return ReportFailure(status.error().Wrap("init"));
    }
    // doctor's checks that concern a dockerd not yet running, on the daemon.json just written:
    // each fail and warn logged once, with its fix (stderr; the report below is unchanged).
    doctor::PreflightLog(doctor::PreflightFor::kInit)
        .Record(doctor::RunPreflight(doctor::PreflightFor::kInit, path,
                                     std::string(docker::kDefaultSocketPath),
                                     ToldDockerdVersion(flags->detection)));
    const netcfg::DaemonJsonUpdate& update = configured->daemon_json;
    const bool write = update.written;
    std::optional<RulesOutput> rules;
    if (configured->rules) {
      rules = DescribeApplied(configured->spec, chosen->decision, configured->rules->value());
    }

    if (flags->json) {
      auto json = netcfg::ReportToJson(*report);
      json["daemon_json"] = {
          {"path", path}, {"written", write}, {"changes", ChangesToJson(update.changes)}};
      json["rules"] = rules ? rules->json : netcfg::OrderedJson(nullptr);
      std::cout << json.dump(2) << "\n";
    } else {
      std::cout << netcfg::ReportToText(*report);
      std::cout << ReportLine("daemon.json", path + (write ? " written" : " unchanged"));
      for (const auto& change : update.changes) {
        std::cout << ReportLine("  changed", DescribeChange(change));
      }
      std::cout << (rules ? rules->text : ReportLine("rules", "not applied (--no-rules)"));
    }
    return 0;
  };
}

Runner AddVersionCommand(CLI::App& app) {
  static constexpr const char* kVersionLine = "dind-netcfg " DIND_NETCFG_VERSION;
  // `dind-netcfg --version` prints the same line, as users of most tools expect.
  app.set_version_flag("--version", kVersionLine, "Print the version and exit");
  app.add_subcommand("version", "Print the version");
  return []() {
    std::cout << kVersionLine << "\n";
    return 0;
  };
}

}  // namespace dind::cli
