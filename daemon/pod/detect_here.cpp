// SPDX-License-Identifier: Apache-2.0
#include "daemon/pod/detect_here.h"

#include <chrono>

#include "common/log.h"
#include "daemon/docker/docker_version.h"

namespace dind::pod {

Result<netcfg::DetectionReport> DetectHere(netcfg::NetlinkReader& netlink,
                                           netcfg::FactSources sources,
                                           const netcfg::DetectOptions& options) {
  sources.read_dockerd_version = options.dockerd_version == "auto";
  // The dockerd that serves decides, not whichever binary is on this PATH: in a sidecar the two
  // differ (a sidecar image's dockerd 20.10 beside a dind container's 28.5).
  std::optional<netcfg::DockerdVersionText> live;
  if (sources.read_dockerd_version && sources.served_dockerd) {
    live = sources.served_dockerd;
    sources.read_dockerd_version = false;
  } else if (sources.read_dockerd_version && !sources.docker_socket.empty()) {
    docker::ClientOptions client;
    client.socket_path = sources.docker_socket;
    client.request_timeout = std::chrono::milliseconds(2000);
    if (auto answer = docker::ReadVersionNow(client)) {
      live = netcfg::DockerdVersionText{
          answer->version, docker::VersionSource(sources.docker_socket), answer->api_version};
      sources.read_dockerd_version = false;
    } else {
      log::Debug("dockerd's API did not say its version; reading its binary",
                 {{"socket", sources.docker_socket}, {"why", answer.error().Message()}});
    }
  }
  auto facts = netcfg::GatherFacts(netlink, sources);
  if (!facts) return facts.error();
  if (live) facts->dockerd_version = std::move(live);
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
