// SPDX-License-Identifier: Apache-2.0
// The flags `run` and `entrypoint` share: the health endpoint, dockerd's API socket, the egress
// probes, the legacy rule poll and --cleanup-on-exit, parsed into the sidecar's options.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/docker/docker_api.h"
#include "daemon/http/listen_address.h"
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

}  // namespace dind::cli
