// SPDX-License-Identifier: Apache-2.0
// Detection as a whole: facts in, a report out, and the daemon.json settings that follow.
#pragma once

#include <string>
#include <vector>

#include "netcfg/daemon_json/daemon_json.h"
#include "netcfg/detect/cgroup.h"
#include "netcfg/detect/dockerd.h"
#include "netcfg/detect/facts.h"
#include "netcfg/detect/kernel.h"
#include "netcfg/detect/network_path.h"
#include "netcfg/detect/pools.h"

namespace dind::netcfg {

struct DetectOptions {
  MtuOptions mtu;
  std::vector<Cidr> avoid;
  std::string dockerd_version = "auto";
};

struct DetectionReport {
  Uplinks uplinks;
  OverlayEvidence overlay;
  MtuDecision mtu;
  KernelFacts kernel;
  CgroupDecision cgroup;
  PoolDecision pools;
  DockerdDecision dockerd;
  std::vector<std::string> warnings;
};

Result<DetectionReport> Detect(const SystemFacts& facts, const DetectOptions& options);

// The keys dind-netcfg owns in daemon.json, with the values the report decided.
std::vector<KeyUpdate> PlanDaemonJson(const DetectionReport& report);

OrderedJson ReportToJson(const DetectionReport& report);
std::string ReportToText(const DetectionReport& report);

}  // namespace dind::netcfg
