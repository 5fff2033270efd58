// SPDX-License-Identifier: Apache-2.0
#include "daemon/commands/detection_flags.h"

#include "common/log.h"
#include "common/mtu.h"
#include "daemon/commands/flags.h"
#include "daemon/pod/detect_here.h"

namespace dind::cli {

void AddDetectionFlags(CLI::App& command, DetectionFlags& flags) {
  flags.command = command.get_name();
  AddOption(command, "--mtu", "N|auto", flags.mtu,
            "docker MTU: 'auto' (uplink MTU minus --reserve, capped by the path) or 1280..uplink")
      ->default_str("auto");
  AddOption(command, "--reserve", "BYTES", flags.reserve,
            "bytes to keep free below the uplink MTU for overlays nested workloads add")
      ->default_str("0");
  AddOption(command, "--avoid", "CIDR", flags.avoid,
            "CIDR docker's address pools must not overlap (repeatable, or comma-separated)")
      ->delimiter(',');
  AddOption(command, "--dockerd-version", "VERSION|auto", flags.dockerd_version,
            "dockerd version the file is for: 'auto' reads it from dockerd's binary")
      ->default_str("auto");
  AddOption(command, "--ipv6", "auto|on|off", flags.ipv6,
            "IPv6 for nested networks: 'auto' gives it when the pod has IPv6 egress (daemon.json "
            "ipv6, fixed-cidr-v6, ip6tables and an IPv6 pool, with NAT66)")
      ->default_str("auto");
  AddOption(command, "--cgroup-parent", "PATH", flags.cgroup_parent,
            "cgroup-parent to write for dockerd (an absolute path); without it init and run "
            "write none, as they do not run in dockerd's container");
  AddOption(command, "--min-api-version", "1.N", flags.min_api_version,
            "lowest Engine API version dockerd serves (daemon.json min-api-version, e.g. 1.24 "
            "for old clients), written only for dockerd >= 29.0, which knows the key");
  AddOption(command, "--calico-mtu-file", "PATH", flags.sources.calico_mtu_file,
            "Calico's MTU file, read when mounted")
      ->default_str(flags.sources.calico_mtu_file);
  AddOption(command, "--cni-config", "PATH", flags.sources.cni_config,
            "CNI config file or directory, read when mounted")
      ->default_str(flags.sources.cni_config);
  AddOption(command, "--resolv-conf", "PATH", flags.sources.resolv_conf,
            "resolv.conf whose nameservers the pools must avoid")
      ->default_str(flags.sources.resolv_conf);
  AddOption(command, "--dns", "auto|off|IP,...", flags.dns,
            "daemon.json dns for nested containers: off leaves it alone; IP,... writes those "
            "servers; auto writes a nameserver the docker bridge can use (systemd-resolved's "
            "upstream, or $KUBE_DNS_SERVICE_HOST) only where dockerd would otherwise fall back to "
            "8.8.8.8/8.8.4.4")
      ->default_str("off");
}

std::optional<netcfg::DockerVersion> ToldDockerdVersion(const DetectionFlags& flags) {
  if (flags.dockerd_version == "auto") return std::nullopt;
  return netcfg::ParseDockerVersion(flags.dockerd_version);
}

Result<netcfg::DetectOptions> ParseDetectionFlags(const DetectionFlags& flags) {
  netcfg::DetectOptions options;
  auto mtu = ParseAutoOrNumber("--mtu", flags.mtu);
  if (!mtu) return mtu.error();
  // Below the IPv6 minimum is wrong on any network: refuse it before detection can fail first.
  if (*mtu && **mtu < kIpv6MinimumMtu) {
    return Error::BadInput("--mtu (" + EnvName("--mtu") + ") value " + flags.mtu + " is below " +
                               std::to_string(kIpv6MinimumMtu) + ", the IPv6 minimum MTU",
                           "use a value from " + std::to_string(kIpv6MinimumMtu) +
                               " up to the uplink's MTU, or --mtu auto");
  }
  options.mtu.override_mtu = *mtu;
  auto reserve = ParseNumber("--reserve", flags.reserve);
  if (!reserve) return reserve.error();
  options.mtu.reserve = *reserve;
  auto avoid = ParseCidrs("--avoid", flags.avoid);
  if (!avoid) return avoid.error();
  options.avoid = std::move(avoid).value();
  options.dockerd_version = flags.dockerd_version;
  // Validate the version flag before touching the system, so usage errors come first.
  if (options.dockerd_version != "auto" && !netcfg::ParseDockerVersion(options.dockerd_version)) {
    return Error::BadInput("--dockerd-version (" + EnvName("--dockerd-version") + ") value '" +
                               options.dockerd_version + "' is not a version",
                           "write it like 24.0.7, or use auto");
  }
  if (!flags.min_api_version.empty()) {
    const auto floor = netcfg::ParseApiVersion(flags.min_api_version);
    if (!floor) {
      return Error::BadInput(BothSpellings("--min-api-version") + " '" + flags.min_api_version +
                                 "' is not an API version such as 1.24",
                             "write it as 1.N without a 'v', e.g. --min-api-version 1.24");
    }
    if (*floor < netcfg::kLowestApiFloor) {
      return Error::BadInput(BothSpellings("--min-api-version") + " '" + flags.min_api_version +
                                 "' is below 1.24, the lowest floor dockerd accepts",
                             "give 1.24 or higher, e.g. --min-api-version 1.24");
    }
    options.min_api_version = floor;
  }
  const auto ipv6 = netcfg::ParseIpv6Mode(flags.ipv6);
  if (!ipv6) {
    return Error::BadInput(
        "--ipv6 (" + EnvName("--ipv6") + ") value '" + flags.ipv6 + "' is not auto, on or off",
        "use auto (IPv6 when the pod has IPv6 egress), on or off");
  }
  options.ipv6 = *ipv6;
  if (!flags.cgroup_parent.empty()) {
    if (auto wrong = netcfg::CheckCgroupParentValue(flags.cgroup_parent)) {
      return Error::BadInput("--cgroup-parent (" + EnvName("--cgroup-parent") + ") value '" +
                                 flags.cgroup_parent + "' " + *wrong,
                             "give the cgroup dockerd's containers go below as an absolute path "
                             "without '..', like /kubepods/pod1234/dind, or leave it out");
    }
    options.cgroup.explicit_parent = flags.cgroup_parent;
  }
  options.cgroup.reader = "dind-netcfg " + (flags.command.empty() ? "detect" : flags.command);
  auto dns = netcfg::ParseDnsFlag(flags.dns, BothSpellings("--dns"));
  if (!dns) return dns.error();
  options.dns = std::move(dns).value();
  return options;
}

Result<netcfg::DetectionReport> RunDetection(const DetectionFlags& flags,
                                             netcfg::NetlinkReader& netlink) {
  auto options = ParseDetectionFlags(flags);
  if (!options) return options.error();
  auto report = pod::DetectHere(netlink, flags.sources, *options);
  // Also in the report; the log is where an operator looks first.
  if (report) {
    for (const auto& warning : report->warnings) log::Warn(warning);
  }
  return report;
}

}  // namespace dind::cli
