// SPDX-License-Identifier: Apache-2.0
#include "netcfg/detect/detector.h"

namespace dind::netcfg {

Result<DetectionReport> Detect(const SystemFacts& facts, const DetectOptions& options) {
  DetectionReport report;
  report.uplinks = FindUplinks(facts.network);
  report.egress = FindFamilyEgress(facts.network, report.uplinks);
  const auto families = report.egress.families();
  if (!families) {
    return Error::Environment(
        "no way out of this network namespace: no IPv4 default route, and no IPv6 default "
        "route with a global address, so there is no uplink to size the docker MTU from",
        "run dind-netcfg in the DinD pod's network namespace (as its init container or "
        "sidecar), after the CNI has set up eth0");
  }
  report.families = *families;
  // The docker MTU must fit every family's way out: decided per uplink, the lowest wins.
  bool first = true;
  for (const auto* uplink : {report.egress.ipv4 ? &*report.uplinks.ipv4 : nullptr,
                             report.egress.ipv6 ? &*report.uplinks.ipv6 : nullptr}) {
    if (uplink == nullptr) continue;
    OverlayEvidence overlay = DetectOverlay(facts, *uplink);
    auto mtu = DecideMtu(*uplink, overlay, options.mtu);
    if (!mtu) return mtu.error();
    if (first) {
      report.warnings = overlay.warnings;
    } else if (mtu->docker < report.mtu.docker) {
      mtu->reason = "the IPv6 uplink is the narrower way out: " + mtu->reason;
    } else {
      continue;
    }
    first = false;
    report.overlay = std::move(overlay);
    report.mtu = std::move(mtu).value();
  }
  if (report.families == PodFamilies::kIPv6Only) report.warnings.push_back(Ipv6OnlyPodProblem());
  report.kernel = DetectKernel(facts);
  report.cgroup_nesting = PlanCgroupNesting(facts, options.cgroup.reader);
  report.cgroup =
      ChooseCgroupParent(DecideCgroupParent(facts), report.cgroup_nesting, options.cgroup);
  auto pools = DecideAddressPools(facts, options.avoid);
  if (!pools) return pools.error();
  report.pools = std::move(pools).value();
  auto dockerd =
      DecideDockerd(options.dockerd_version, facts.dockerd_version, options.min_api_version);
  if (!dockerd) return dockerd.error();
  report.dockerd = std::move(dockerd).value();
  auto ipv6 = DecideIpv6(options.ipv6, report.egress, report.dockerd.version, report.pools.avoided);
  if (!ipv6) return ipv6.error();
  report.ipv6 = std::move(ipv6).value();
  if (report.ipv6.enabled && !report.egress.ipv6) report.warnings.push_back(report.ipv6.reason);

  if (report.dockerd.min_api_version && !report.dockerd.supports_min_api_version) {
    report.warnings.push_back("--min-api-version " + report.dockerd.min_api_version->ToString() +
                              ": " + report.dockerd.min_api_version_reason);
  }
  if (!report.dockerd.supports_default_network_opts) {
    report.warnings.push_back(
        "dockerd " + report.dockerd.version.ToString() +
        " cannot set a default MTU for user-defined networks: create them with "
        "-o com.docker.network.driver.mtu=" +
        std::to_string(report.mtu.docker) +
        " (KIND: set KIND_EXPERIMENTAL_DOCKER_NETWORK or pre-create the 'kind' network)");
  }
  report.dns = DecideDns(options.dns, {report.dockerd.version,
                                       {facts.resolv_conf, facts.systemd_resolv_conf},
                                       report.ipv6.enabled,
                                       facts.kube_dns_service_host});
  if (report.dns.unresolved_fallback) report.warnings.push_back(report.dns.reason);
  if (report.kernel.nf_tables.available == Availability::kNo &&
      report.kernel.ip_tables.available == Availability::kNo) {
    report.warnings.push_back(
        "the kernel offers neither nf_tables nor ip_tables: nested "
        "containers cannot be masqueraded");
  }
  return report;
}

void RecordAppliedNesting(DetectionReport& report, const CgroupNestingReport& applied,
                          const CgroupParentOptions& options) {
  report.cgroup_applied = applied;
  for (const auto& warning : applied.warnings) report.warnings.push_back("cgroup: " + warning);
  if (options.explicit_parent) return;
  report.cgroup.parent = applied.cgroup_parent;
  report.cgroup.parent_source = applied.cgroup_parent ? "detected" : "none";
  report.cgroup.reason = std::string(CgroupNestingModeName(applied.mode)) +
                         (applied.done ? " done: " : " partly done: ") +
                         applied.cgroup_parent_reason;
}

}  // namespace dind::netcfg
