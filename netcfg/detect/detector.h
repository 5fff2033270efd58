// SPDX-License-Identifier: Apache-2.0
// Detection as a whole: facts in, a report out. What the report sets in daemon.json is
// daemon_json_plan.h; the report as JSON and as text is detection_report.h.
#pragma once

#include <string>
#include <vector>

#include "netcfg/cgroups/cgroup.h"
#include "netcfg/cgroups/cgroup_nesting.h"
#include "netcfg/detect/facts.h"
#include "netcfg/detect/ipv6.h"
#include "netcfg/detect/kernel.h"
#include "netcfg/detect/network_path.h"
#include "netcfg/detect/pools.h"
#include "netcfg/dns/dns_flag.h"
#include "netcfg/dockerd/dockerd_version.h"

namespace dind::netcfg {

struct DetectOptions {
  MtuOptions mtu;
  std::vector<Cidr> avoid;
  std::string dockerd_version = "auto";
  // --min-api-version: daemon.json "min-api-version", written only for dockerd >= 29.0.
  std::optional<ApiVersion> min_api_version;
  Ipv6Mode ipv6 = Ipv6Mode::kAuto;
  // Who reads the facts and what it may write as cgroup-parent (--cgroup-parent; the
  // entrypoint sets runs_dockerd).
  CgroupParentOptions cgroup;
  // --dns: what daemon.json "dns" becomes (netcfg/dns/dns_flag.h); off leaves it alone.
  DnsFlag dns;
};

struct DetectionReport {
  Uplinks uplinks;
  FamilyEgress egress;
  PodFamilies families = PodFamilies::kIPv4Only;
  OverlayEvidence overlay;
  MtuDecision mtu;
  KernelFacts kernel;
  CgroupDecision cgroup;
  // What the entrypoint would do (or, once applied, did) to this container's cgroup.
  CgroupNestingPlan cgroup_nesting;
  std::optional<CgroupNestingReport> cgroup_applied;
  PoolDecision pools;
  DockerdDecision dockerd;
  Ipv6Decision ipv6;
  DnsDecision dns;  // --dns
  std::vector<std::string> warnings;

  // The uplink the masquerade leaves by and the MTU starts from: IPv4's, else IPv6's (an
  // IPv6-only pod). Detect fails when there is neither.
  const Uplink& primary_uplink() const { return uplinks.ipv4 ? *uplinks.ipv4 : *uplinks.ipv6; }
};

Result<DetectionReport> Detect(const SystemFacts& facts, const DetectOptions& options);

// After ApplyCgroupNesting: the report says what was done, and cgroup-parent becomes the one
// the nesting produced (unless --cgroup-parent gave one, which stays).
void RecordAppliedNesting(DetectionReport& report, const CgroupNestingReport& applied,
                          const CgroupParentOptions& options);

}  // namespace dind::netcfg
