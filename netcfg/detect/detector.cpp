// SPDX-License-Identifier: Apache-2.0
#include "netcfg/detect/detector.h"

namespace dind::netcfg {
namespace {

constexpr const char* kBridgeMtuOption = "com.docker.network.driver.mtu";

OrderedJson UplinkToJson(const std::optional<Uplink>& uplink) {
  if (!uplink) return nullptr;
  OrderedJson json;
  json["interface"] = uplink->interface;
  json["kind"] = uplink->kind;
  json["mtu"] = uplink->mtu;
  json["route_mtu"] = uplink->route_mtu;
  json["gateway"] = uplink->gateway ? OrderedJson(uplink->gateway->ToString()) : nullptr;
  json["addresses"] = uplink->addresses;
  return json;
}

OrderedJson FeatureToJson(const FeatureFacts& feature) {
  return {{"available", AvailabilityName(feature.available)},
          {"loaded", feature.loaded},
          {"evidence", feature.evidence}};
}

OrderedJson OptionalString(const std::optional<std::string>& value) {
  return value ? OrderedJson(*value) : OrderedJson(nullptr);
}

}  // namespace

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
  auto dockerd = DecideDockerd(options.dockerd_version, facts.dockerd_version);
  if (!dockerd) return dockerd.error();
  report.dockerd = std::move(dockerd).value();
  auto ipv6 = DecideIpv6(options.ipv6, report.egress, report.dockerd.version, report.pools.avoided);
  if (!ipv6) return ipv6.error();
  report.ipv6 = std::move(ipv6).value();
  if (report.ipv6.enabled && !report.egress.ipv6) report.warnings.push_back(report.ipv6.reason);

  if (!report.dockerd.supports_default_network_opts) {
    report.warnings.push_back(
        "dockerd " + report.dockerd.version.ToString() +
        " cannot set a default MTU for user-defined networks: create them with "
        "-o com.docker.network.driver.mtu=" +
        std::to_string(report.mtu.docker) +
        " (KIND: set KIND_EXPERIMENTAL_DOCKER_NETWORK or pre-create the 'kind' network)");
  }
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

std::vector<KeyUpdate> PlanDaemonJson(const DetectionReport& report) {
  std::vector<KeyUpdate> updates;
  updates.push_back({{"mtu"}, OrderedJson(report.mtu.docker)});
  // dockerd < 24.0 ignores the key (and refuses it beside --bridge), so it is removed for them.
  updates.push_back({{"default-network-opts", "bridge", kBridgeMtuOption},
                     report.dockerd.supports_default_network_opts
                         ? std::optional(OrderedJson(std::to_string(report.mtu.docker)))
                         : std::nullopt});
  updates.push_back({{"bip"}, OrderedJson(report.pools.bip)});
  updates.push_back({{"fixed-cidr"}, OrderedJson(report.pools.fixed_cidr.ToString())});
  OrderedJson pools = OrderedJson::array();
  for (const auto& pool : report.pools.default_address_pools) {
    pools.push_back({{"base", pool.base.ToString()}, {"size", pool.size}});
  }
  if (report.ipv6.pool) {
    pools.push_back(
        {{"base", report.ipv6.pool->base.ToString()}, {"size", report.ipv6.pool->size}});
  }
  updates.push_back({{"default-address-pools"}, pools});
  // The IPv6 keys are owned only when IPv6 is given: a user's own "ipv6" is kept otherwise.
  if (report.ipv6.enabled) {
    updates.push_back({{"ipv6"}, OrderedJson(true)});
    updates.push_back({{"fixed-cidr-v6"}, OrderedJson(report.ipv6.fixed_cidr_v6->ToString())});
    updates.push_back({{"ip6tables"}, OrderedJson(true)});
    if (report.ipv6.experimental) updates.push_back({{"experimental"}, OrderedJson(true)});
  }
  // cgroup-parent is only owned when detection decided one: a user's own choice is kept.
  if (report.cgroup.parent) {
    updates.push_back({{"cgroup-parent"}, OrderedJson(*report.cgroup.parent)});
  }
  return updates;
}

OrderedJson ReportToJson(const DetectionReport& report) {
  OrderedJson json;
  json["uplink"] = {{"ipv4", UplinkToJson(report.uplinks.ipv4)},
                    {"ipv6", UplinkToJson(report.uplinks.ipv6)}};
  json["families"] = PodFamiliesName(report.families);
  json["nested_egress"] = {
      {"ipv4", report.egress.ipv4},
      {"ipv6", report.ipv6.enabled && report.egress.ipv6},
      {"problem", report.families == PodFamilies::kIPv6Only ? OrderedJson(Ipv6OnlyPodProblem())
                                                            : OrderedJson(nullptr)}};
  json["overlay"] = {{"overhead_bytes", report.overlay.overhead_bytes},
                     {"kind", report.overlay.kind},
                     {"evidence", report.overlay.evidence},
                     {"detail", report.overlay.detail}};
  json["mtu"] = {{"uplink", report.mtu.uplink},
                 {"path_limit", report.mtu.path_limit},
                 {"path_limit_source", report.mtu.path_limit_source},
                 {"reserve", report.mtu.reserve},
                 {"docker", report.mtu.docker},
                 {"source", report.mtu.source},
                 {"reason", report.mtu.reason}};
  json["kernel"] = {{"release", report.kernel.release},
                    {"nf_tables", FeatureToJson(report.kernel.nf_tables)},
                    {"ip_tables", FeatureToJson(report.kernel.ip_tables)}};
  json["cgroup"] = {{"version", report.cgroup.version},
                    {"own_path", report.cgroup.own_path},
                    {"parent", OptionalString(report.cgroup.parent)},
                    {"reason", report.cgroup.reason},
                    {"parent_source", report.cgroup.parent_source},
                    {"read_from", report.cgroup.read_from},
                    {"nesting", CgroupNestingPlanToJson(report.cgroup_nesting)}};
  json["cgroup"]["nesting"]["applied"] = report.cgroup_applied
                                             ? CgroupNestingReportToJson(*report.cgroup_applied)
                                             : OrderedJson(nullptr);
  OrderedJson avoided = OrderedJson::array();
  for (const auto& range : report.pools.avoided) {
    avoided.push_back({{"cidr", range.cidr.ToString()}, {"reason", range.reason}});
  }
  OrderedJson pools = OrderedJson::array();
  for (const auto& pool : report.pools.default_address_pools) {
    pools.push_back({{"base", pool.base.ToString()}, {"size", pool.size}});
  }
  json["pools"] = {{"bip", report.pools.bip},
                   {"fixed_cidr", report.pools.fixed_cidr.ToString()},
                   {"default_address_pools", pools},
                   {"avoided", avoided},
                   {"reason", report.pools.reason}};
  json["dockerd"] = {
      {"version", report.dockerd.version.ToString()},
      {"source", report.dockerd.source},
      {"read_from", report.dockerd.read_from},
      {"supports_default_network_opts", report.dockerd.supports_default_network_opts},
      {"reason", report.dockerd.reason}};
  json["ipv6"] = {
      {"mode", Ipv6ModeName(report.ipv6.mode)},
      {"enabled", report.ipv6.enabled},
      {"fixed_cidr_v6", report.ipv6.fixed_cidr_v6
                            ? OrderedJson(report.ipv6.fixed_cidr_v6->ToString())
                            : OrderedJson(nullptr)},
      {"pool", report.ipv6.pool ? OrderedJson({{"base", report.ipv6.pool->base.ToString()},
                                               {"size", report.ipv6.pool->size}})
                                : OrderedJson(nullptr)},
      {"experimental", report.ipv6.experimental},
      {"reason", report.ipv6.reason}};
  json["warnings"] = report.warnings;
  return json;
}

std::string ReportToText(const DetectionReport& report) {
  std::string text;
  const auto line = [&text](const std::string& label, const std::string& value) {
    text += label + std::string(label.size() < 12 ? 12 - label.size() : 1, ' ') + value + "\n";
  };
  line("families", std::string(PodFamiliesName(report.families)));
  if (report.uplinks.ipv4) {
    const Uplink& uplink = *report.uplinks.ipv4;
    line("uplink", uplink.interface + " MTU " + std::to_string(uplink.mtu) +
                       (uplink.gateway ? " via " + uplink.gateway->ToString() : std::string()));
  }
  if (report.uplinks.ipv6) {
    const Uplink& uplink = *report.uplinks.ipv6;
    line("uplink6", uplink.interface + " MTU " + std::to_string(uplink.mtu) +
                        (uplink.gateway ? " via " + uplink.gateway->ToString() : std::string()));
  }
  line("overlay", std::to_string(report.overlay.overhead_bytes) + " bytes [" +
                      report.overlay.evidence + "] " + report.overlay.detail);
  line("docker MTU", std::to_string(report.mtu.docker) + " (" + report.mtu.source + ": " +
                         report.mtu.reason + ")");
  line("kernel", report.kernel.release + ": nf_tables " +
                     std::string(AvailabilityName(report.kernel.nf_tables.available)) + " (" +
                     report.kernel.nf_tables.evidence + "), ip_tables " +
                     std::string(AvailabilityName(report.kernel.ip_tables.available)) + " (" +
                     report.kernel.ip_tables.evidence + ")");
  line("cgroup", report.cgroup.version + ", " +
                     (report.cgroup.parent ? "cgroup-parent " + *report.cgroup.parent
                                           : std::string("no cgroup-parent")) +
                     ": " + report.cgroup.reason);
  line("  nesting", std::string(CgroupNestingModeName(report.cgroup_nesting.mode)) +
                        " (read from " + report.cgroup_nesting.read_from +
                        "): " + report.cgroup_nesting.reason);
  if (report.cgroup_applied) {
    for (const auto& evidence : report.cgroup_applied->evidence) line("  done", evidence);
  }
  std::string pools = "bip " + report.pools.bip + " (containers from " +
                      report.pools.fixed_cidr.ToString() + "), pools";
  for (const auto& pool : report.pools.default_address_pools) {
    // Two appends: `" " + temporary` trips GCC 12 bug 105329 (a false -Wrestrict at -O3).
    pools += ' ';
    pools += pool.base.ToString() + " (/" + std::to_string(pool.size) + " each)";
  }
  line("pools", pools + "; " + report.pools.reason);
  for (const auto& range : report.pools.avoided) {
    line("  avoided", range.cidr.ToString() + " (" + range.reason + ")");
  }
  const std::string read_from =
      report.dockerd.read_from.empty() ? report.dockerd.source : report.dockerd.read_from;
  line("dockerd",
       report.dockerd.version.ToString() + " [" + read_from + "] " + report.dockerd.reason);
  line("ipv6", std::string(report.ipv6.enabled ? "on" : "off") + " (--ipv6 " +
                   std::string(Ipv6ModeName(report.ipv6.mode)) + "): " + report.ipv6.reason);
  for (const auto& warning : report.warnings) line("warning", warning);
  return text;
}

}  // namespace dind::netcfg
