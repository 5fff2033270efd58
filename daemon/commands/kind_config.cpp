// SPDX-License-Identifier: Apache-2.0
// `kind-config`: prints a KIND Cluster config for a cluster nested in this pod, from a detection
// made here (daemon/kind/kind_config.h says why each value), and logs what KIND needs of the pod
// that is missing (doctor's kind-* checks).
#include "daemon/kind/kind_config.h"

#include <iostream>
#include <memory>

#include "common/log.h"
#include "daemon/commands/commands.h"
#include "daemon/commands/detection_flags.h"
#include "daemon/commands/flags.h"
#include "daemon/docker/docker_api.h"
#include "daemon/doctor/check.h"
#include "daemon/doctor/doctor_facts.h"
#include "daemon/doctor/file_checks.h"
#include "netcfg/netlink/rtnl_reader.h"

namespace dind::cli {
namespace {

struct KindConfigFlags {
  DetectionFlags detection;
  std::string nodes = "1";
};

// doctor's kind-* checks (doctor --for kind), in the container of the dockerd serving
// `docker_socket` when this process namespace shows it, else here: each that warns or fails is
// logged once on stderr with its fix, so the config on stdout stays what kind reads.
void LogKindChecks(const std::string& docker_socket) {
  const doctor::HostFiles files;
  doctor::DoctorContext context{files};
  context.for_kind = true;
  context.docker_socket = docker_socket;
  if (auto process = doctor::ChooseFactsProcess(files, "auto", docker_socket)) {
    context.process = std::move(process).value();
  }
  if (context.process.pid == 0) context.process.name = "kind-config";
  for (const doctor::CheckResult& result : doctor::FileChecks(context)) {
    if (!result.id.starts_with("kind-")) continue;
    if (result.status != doctor::CheckStatus::kWarn &&
        result.status != doctor::CheckStatus::kFail) {
      continue;
    }
    log::Warn("kind-config: " + result.id + " " +
                  std::string(doctor::CheckStatusName(result.status)) + ": " + result.summary,
              {{"check", result.id},
               {"status", std::string(doctor::CheckStatusName(result.status))},
               {"source", result.source},
               {"fix", result.fix}});
  }
}

int KindConfigCommand(const KindConfigFlags& flags) {
  const auto fail = [](const Error& error) { return ReportFailure(error.Wrap("kind-config")); };
  auto nodes = ParseNumber("--nodes", flags.nodes);
  if (!nodes) return fail(nodes.error());
  if (*nodes < 1 || *nodes > kind::kMaxKindNodes) {
    return fail(Error::BadInput("--nodes (" + EnvName("--nodes") + ") " + flags.nodes +
                                    " is not a node count from 1 to " +
                                    std::to_string(kind::kMaxKindNodes),
                                "give 1 for a control plane alone, or more for workers beside it"));
  }
  netcfg::RtnlReader netlink;
  auto report = RunDetection(flags.detection, netlink);
  if (!report) return fail(report.error());
  auto plan = kind::PlanKindCluster(*report, *nodes);
  if (!plan) return fail(plan.error());
  std::cout << kind::RenderKindConfig(*plan);
  LogKindChecks(flags.detection.sources.docker_socket);
  return 0;
}

}  // namespace

Runner AddKindConfigCommand(CLI::App& app) {
  auto* command = app.add_subcommand(
      "kind-config",
      "Print a KIND Cluster config for a cluster nested in this pod: the nested kubelet under "
      "its own cgroup root, pod and service subnets outside everything the pod and docker use; "
      "logs the kind-* checks of doctor --for kind that warn or fail");
  auto flags = std::make_shared<KindConfigFlags>();
  AddOption(*command, "--nodes", "N", flags->nodes,
            "nodes of the cluster: one control plane, the rest workers")
      ->default_str(flags->nodes);
  AddDetectionFlags(*command, flags->detection);
  // The serving dockerd's version decides what KIND can be given (default-network-opts from
  // 24.0), not the binary that happens to be on this PATH.
  flags->detection.sources.docker_socket = std::string(docker::kDefaultSocketPath);
  AddOption(*command, "--docker-socket", "PATH", flags->detection.sources.docker_socket,
            "dockerd's API socket, asked for its version (GET /version) before its binary is "
            "read; '' asks no socket")
      ->default_str(flags->detection.sources.docker_socket);
  return [flags]() { return KindConfigCommand(*flags); };
}

}  // namespace dind::cli
