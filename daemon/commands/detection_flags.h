// SPDX-License-Identifier: Apache-2.0
// Flags that steer detection, shared by `detect`, `init` and `run`.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "netcfg/detect/detector.h"
#include "netcfg/detect/gather_facts.h"
#include "netcfg/dockerd/dockerd_version.h"
#include "netcfg/netlink/snapshot.h"

namespace dind::cli {

struct DetectionFlags {
  std::string mtu = "auto";
  std::string reserve = "0";
  std::vector<std::string> avoid;
  std::string dockerd_version = "auto";
  std::string ipv6 = "auto";
  std::string cgroup_parent;    // --cgroup-parent; empty: none given
  std::string min_api_version;  // --min-api-version; empty: none given
  netcfg::FactSources sources;
  std::string command;  // the subcommand the flags belong to ("init"), set by AddDetectionFlags
  // --dns auto|off|IP,...
  std::string dns = "off";
};

void AddDetectionFlags(CLI::App& command, DetectionFlags& flags);

// --dockerd-version as told (nullopt for auto or what does not parse, which
// ParseDetectionFlags refuses): what doctor's checks judge by when dockerd does not answer.
std::optional<netcfg::DockerVersion> ToldDockerdVersion(const DetectionFlags& flags);

// Validates the flags (kBadInput naming the flag) without touching the system.
Result<netcfg::DetectOptions> ParseDetectionFlags(const DetectionFlags& flags);

// Validates the flags, then detects here (pod::DetectHere) through `netlink`.
Result<netcfg::DetectionReport> RunDetection(const DetectionFlags& flags,
                                             netcfg::NetlinkReader& netlink);

}  // namespace dind::cli
