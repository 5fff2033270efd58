// SPDX-License-Identifier: Apache-2.0
// `kind-config`: prints a KIND Cluster config for a cluster nested in this pod, from a detection
// made here (daemon/kind/kind_config.h says why each value).
#include "daemon/kind/kind_config.h"

#include <iostream>
#include <memory>

#include "daemon/commands/commands.h"
#include "daemon/commands/detection_flags.h"
#include "daemon/commands/flags.h"
#include "daemon/docker/docker_api.h"
#include "netcfg/netlink/rtnl_reader.h"

namespace dind::cli {
namespace {

struct KindConfigFlags {
  DetectionFlags detection;
  std::string nodes = "1";
};

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
  return 0;
}

}  // namespace

Runner AddKindConfigCommand(CLI::App& app) {
  auto* command = app.add_subcommand(
      "kind-config",
      "Print a KIND Cluster config for a cluster nested in this pod: the nested kubelet under "
      "its own cgroup root, pod and service subnets outside everything the pod and docker use");
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
