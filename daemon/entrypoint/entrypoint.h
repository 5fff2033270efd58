// SPDX-License-Identifier: Apache-2.0
// `entrypoint`: dind-netcfg as the dind container's PID 1, beside the dockerd it starts. In
// order, on one event loop:
//
//   cgroups nested (v2: init/dind split) → kernel modules (best effort) → dockerd's iptables in the
//   chosen backend → daemon.json → dockerd started, supervised, /_ping awaited → rules applied and
//   the sidecar's loop running in this process → nested egress verified → COMMAND run with
//   DOCKER_HOST → COMMAND's end → dockerd (and its containerd) stopped → empty cgroups removed →
//   exit with COMMAND's status
//
// Without a COMMAND it keeps dockerd running, as docker:dind does, until SIGTERM; dockerd
// ending on its own ends the entrypoint with a non-zero status, so the pod never hangs. Every
// decision about this container (its backend, its cgroup) is made here, in the container that
// runs dockerd, from this process's own view of the kernel.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "daemon/entrypoint/dockerd_command.h"
#include "daemon/sidecar/reconciler.h"
#include "daemon/sidecar/sidecar.h"
#include "netcfg/detect/detector.h"
#include "rules/masquerade.h"

namespace dind::entrypoint {

struct EntrypointOptions {
  std::string daemon_json;
  DockerdLaunch dockerd;  // daemon_json and socket are filled from the fields here
  // The private directory of dockerd's iptables links; empty: dockerd's iptables as the image
  // has it (--no-dockerd-iptables).
  std::string iptables_dir;
  bool load_modules = true;
  std::chrono::milliseconds ready_timeout{std::chrono::seconds(120)};
  std::chrono::milliseconds stop_timeout{std::chrono::seconds(10)};
  bool wait_egress = true;
  std::vector<std::string> command;  // empty: keep dockerd running until SIGTERM
  // How cgroup-parent is chosen (an explicit --cgroup-parent wins over the nesting's).
  netcfg::CgroupParentOptions cgroup;
  sidecar::SidecarOptions sidecar;  // its docker socket is the one dockerd serves
};

// What was decided in this container before dockerd starts.
struct Decided {
  // Its cgroup_nesting plan is carried out here, before dockerd starts, and the cgroup-parent
  // written follows what was done.
  netcfg::DetectionReport report;
  rules::BackendKind backend;  // for our rules and for dockerd's own iptables
};

// Runs the whole sequence; returns the exit code: COMMAND's status (128+N when signal N ended
// it), 0 after SIGTERM without a COMMAND, 1 when dockerd or nested egress failed, 2 for bad
// input found on the way (a COMMAND that does not exist). `reconciler` has not started.
int RunEntrypoint(const EntrypointOptions& options, sidecar::Reconciler& reconciler,
                  Decided decided);

}  // namespace dind::entrypoint
