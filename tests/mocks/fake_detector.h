// SPDX-License-Identifier: Apache-2.0
// A NetworkDetector over the typical pod of tests/netcfg/detect/fixtures.h, whose uplink MTU and
// avoided networks the test changes between detections.
#pragma once

#include <vector>

#include "common/mtu.h"
#include "daemon/pod/detect_here.h"
#include "tests/netcfg/detect/fixtures.h"

namespace dind::testing {

class FakeDetector final : public pod::NetworkDetector {
 public:
  Mtu uplink_mtu = 1450;
  std::vector<Cidr> avoid;
  bool fail = false;
  int calls = 0;
  Result<netcfg::DetectionReport> Detect() override {
    ++calls;
    if (fail) return Error::Environment("netlink: reading routes failed");
    netcfg::DetectOptions options;
    options.dockerd_version = "24.0.7";
    options.avoid = avoid;
    return netcfg::Detect(netcfg::testing::PodFacts(uplink_mtu), options);
  }
};

}  // namespace dind::testing
