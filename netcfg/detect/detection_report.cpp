// SPDX-License-Identifier: Apache-2.0
#include "netcfg/detect/detection_report.h"

#include "common/text_report.h"

namespace dind::netcfg {
namespace {

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

std::string UplinkToText(const Uplink& uplink) {
  return uplink.interface + " MTU " + std::to_string(uplink.mtu) +
         (uplink.gateway ? " via " + uplink.gateway->ToString() : std::string());
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
      {"reason", report.dockerd.reason},
      {"supports_min_api_version", report.dockerd.supports_min_api_version},
      {"min_api_version", report.dockerd.min_api_version
                              ? OrderedJson(report.dockerd.min_api_version->ToString())
                              : OrderedJson(nullptr)},
      {"min_api_version_reason", report.dockerd.min_api_version_reason}};
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
  json["dns"] = {
      {"mode", DnsFlagModeName(report.dns.mode)},
      {"servers", report.dns.servers ? OrderedJson(*report.dns.servers) : OrderedJson(nullptr)},
      {"reason", report.dns.reason}};
  json["warnings"] = report.warnings;
  return json;
}

std::string ReportToText(const DetectionReport& report) {
  std::string text;
  text += ReportLine("families", std::string(PodFamiliesName(report.families)));
  if (report.uplinks.ipv4) text += ReportLine("uplink", UplinkToText(*report.uplinks.ipv4));
  if (report.uplinks.ipv6) text += ReportLine("uplink6", UplinkToText(*report.uplinks.ipv6));
  text += ReportLine("overlay", std::to_string(report.overlay.overhead_bytes) + " bytes [" +
                                    report.overlay.evidence + "] " + report.overlay.detail);
  text += ReportLine("docker MTU", std::to_string(report.mtu.docker) + " (" + report.mtu.source +
                                       ": " + report.mtu.reason + ")");
  text +=
      ReportLine("kernel", report.kernel.release + ": nf_tables " +
                               std::string(AvailabilityName(report.kernel.nf_tables.available)) +
                               " (" + report.kernel.nf_tables.evidence + "), ip_tables " +
                               std::string(AvailabilityName(report.kernel.ip_tables.available)) +
                               " (" + report.kernel.ip_tables.evidence + ")");
  text += ReportLine("cgroup", report.cgroup.version + ", " +
                                   (report.cgroup.parent ? "cgroup-parent " + *report.cgroup.parent
                                                         : std::string("no cgroup-parent")) +
                                   ": " + report.cgroup.reason);
  text += ReportLine("  nesting", std::string(CgroupNestingModeName(report.cgroup_nesting.mode)) +
                                      " (read from " + report.cgroup_nesting.read_from +
                                      "): " + report.cgroup_nesting.reason);
  if (report.cgroup_applied) {
    for (const auto& evidence : report.cgroup_applied->evidence)
      text += ReportLine("  done", evidence);
  }
  std::string pools = "bip " + report.pools.bip + " (containers from " +
                      report.pools.fixed_cidr.ToString() + "), pools";
  for (const auto& pool : report.pools.default_address_pools) {
    // Two appends: `" " + temporary` trips GCC 12 bug 105329 (a false -Wrestrict at -O3).
    pools += ' ';
    pools += pool.base.ToString() + " (/" + std::to_string(pool.size) + " each)";
  }
  text += ReportLine("pools", pools + "; " + report.pools.reason);
  for (const auto& range : report.pools.avoided) {
    text += ReportLine("  avoided", range.cidr.ToString() + " (" + range.reason + ")");
  }
  const std::string read_from =
      report.dockerd.read_from.empty() ? report.dockerd.source : report.dockerd.read_from;
  text += ReportLine("dockerd", report.dockerd.version.ToString() + " [" + read_from + "] " +
                                    report.dockerd.reason);
  if (report.dockerd.min_api_version) {
    text += ReportLine("api floor", report.dockerd.min_api_version->ToString() + ": " +
                                        report.dockerd.min_api_version_reason);
  }
  text += ReportLine("ipv6", std::string(report.ipv6.enabled ? "on" : "off") + " (--ipv6 " +
                                 std::string(Ipv6ModeName(report.ipv6.mode)) +
                                 "): " + report.ipv6.reason);
  if (report.dns.mode != DnsFlagMode::kOff) text += ReportLine("dns", report.dns.reason);
  for (const auto& warning : report.warnings) text += ReportLine("warning", warning);
  return text;
}

}  // namespace dind::netcfg
