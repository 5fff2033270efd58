// SPDX-License-Identifier: Apache-2.0
#include "daemon/pod/detect_here.h"

namespace dind::pod {

Result<netcfg::DetectionReport> DetectHere(netcfg::NetlinkReader& netlink,
                                           netcfg::FactSources sources,
                                           const netcfg::DetectOptions& options) {
  sources.read_dockerd_version = options.dockerd_version == "auto";
  auto facts = netcfg::GatherFacts(netlink, sources);
  if (!facts) return facts.error();
  return netcfg::Detect(*facts, options);
}

DetectorHere::DetectorHere(netcfg::NetlinkReader& netlink, netcfg::DetectOptions options,
                           netcfg::FactSources sources)
    : netlink_(netlink), options_(std::move(options)), sources_(std::move(sources)) {}

Result<netcfg::DetectionReport> DetectorHere::Detect() {
  auto report = DetectHere(netlink_, sources_, options_);
  if (report) options_.dockerd_version = report->dockerd.version.ToString();
  return report;
}

}  // namespace dind::pod
