// SPDX-License-Identifier: Apache-2.0
// The flags `run` and `entrypoint` share. PodFlags is all of them: where daemon.json is, the
// detection and backend flags, --no-rules, and the sidecar's (the health endpoint, dockerd's API
// socket, the egress probes, the legacy rule poll and --cleanup-on-exit), parsed into the pod
// session's options and the sidecar's.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/commands/backend_flags.h"
#include "daemon/commands/detection_flags.h"
#include "daemon/docker/docker_api.h"
#include "daemon/http/listen_address.h"
#include "daemon/pod/rule_sources.h"
#include "daemon/session/pod_session.h"
#include "daemon/sidecar/sidecar.h"

namespace dind::cli {

struct SidecarFlags {
  std::string listen = std::string(http::kDefaultListenAddress);
  std::string docker_socket = std::string(docker::kDefaultSocketPath);
  std::string bridge = "docker0";
  std::vector<std::string> probe_targets;
  std::string probe_mtu_target;
  bool no_probes = false;
  std::string probe_interval = "10s";
  std::string probe_timeout = "2s";
  std::string poll_interval = "1s";
  std::string clamp_mss = "auto";
  bool cleanup_on_exit = false;
};

// `docker_socket_help` says what the command does with the socket (follows it, or serves it).
void AddSidecarFlags(CLI::App& command, SidecarFlags& flags, const std::string& docker_socket_help);

// `resolv_conf` is where the default DNS probe target is read (the detection flags' file).
// Every value is checked here: kBadInput names the flag and what it takes.
Result<sidecar::SidecarOptions> ParseSidecarFlags(const SidecarFlags& flags,
                                                  const std::string& resolv_conf);

struct PodFlags {
  std::string daemon_json = std::string(pod::kDefaultDaemonJsonPath);
  DetectionFlags detection;
  BackendFlags backend;
  bool no_rules = false;
  SidecarFlags sidecar;
};

// What --help says of the flags whose meaning differs between the two commands.
struct PodFlagsHelp {
  std::string daemon_json;
  std::string no_rules;
  std::string docker_socket;
};

// --daemon-json, the detection flags, the backend flags, --no-rules and the sidecar's, in the
// order --help lists them.
void AddPodFlags(CLI::App& command, PodFlags& flags, const PodFlagsHelp& help);

struct ParsedPodFlags {
  // The entrypoint sets its own differences (choose_backend_without_rules, …) on it.
  session::PodSessionOptions session;
  sidecar::SidecarOptions sidecar;
};
// Checks the backend, detection and sidecar flags, in that order (the first bad one is the
// usage error reported), without touching the system.
Result<ParsedPodFlags> ParsePodFlags(const PodFlags& flags);

}  // namespace dind::cli
