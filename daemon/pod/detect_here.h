// SPDX-License-Identifier: Apache-2.0
// Detection in the calling process's network namespace: netlink through the reader passed in,
// files and dockerd's binary (its version) from this process's mount namespace. Every command that
// detects (detect, init, run) goes through here.
#pragma once

#include "common/result.h"
#include "netcfg/detect/detector.h"
#include "netcfg/detect/gather_facts.h"
#include "netcfg/netlink/snapshot.h"

namespace dind::pod {

// Reads the facts and decides. dockerd's version is read only when options.dockerd_version is
// "auto" (whatever `sources` says), so a version given by the user is never second-guessed.
Result<netcfg::DetectionReport> DetectHere(netcfg::NetlinkReader& netlink,
                                           netcfg::FactSources sources,
                                           const netcfg::DetectOptions& options);

// Detects again and again, as the sidecar does after every network change.
class NetworkDetector {
 public:
  virtual ~NetworkDetector() = default;
  virtual Result<netcfg::DetectionReport> Detect() = 0;
};

// DetectHere repeated. dockerd's version is looked up once; later detections reuse what the
// first found (running dockerd at every route change would cost more than the rest).
class DetectorHere final : public NetworkDetector {
 public:
  // `netlink` must outlive the detector.
  DetectorHere(netcfg::NetlinkReader& netlink, netcfg::DetectOptions options,
               netcfg::FactSources sources);
  Result<netcfg::DetectionReport> Detect() override;

 private:
  netcfg::NetlinkReader& netlink_;
  netcfg::DetectOptions options_;
  netcfg::FactSources sources_;
};

}  // namespace dind::pod
