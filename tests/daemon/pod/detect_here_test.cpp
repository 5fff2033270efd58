// SPDX-License-Identifier: Apache-2.0
// Detection through the reader passed in; the sidecar's detector keeps dockerd's version.
#include "daemon/pod/detect_here.h"

#include <gtest/gtest.h>

#include "tests/mocks/fake_netlink_reader.h"
#include "tests/netcfg/detect/fixtures.h"

namespace dind::pod {
namespace {

using testing::FakeNetlinkReader;

// Files that are not there: detection then rests on netlink alone.
netcfg::FactSources NoFiles() {
  netcfg::FactSources sources;
  sources.calico_mtu_file = "/nonexistent/calico-mtu";
  sources.cni_config = "/nonexistent/cni";
  sources.resolv_conf = "/nonexistent/resolv.conf";
  return sources;
}

netcfg::DetectOptions Version(const std::string& version) {
  netcfg::DetectOptions options;
  options.dockerd_version = version;
  return options;
}

TEST(DetectHere, DecidesFromWhatTheReaderSees) {
  FakeNetlinkReader netlink(netcfg::testing::PodFacts(1450).network);
  auto report = DetectHere(netlink, NoFiles(), Version("24.0.7"));
  ASSERT_TRUE(report.ok()) << report.error().Message();
  EXPECT_EQ(netlink.reads, 1);
  EXPECT_EQ(report->uplinks.ipv4->interface, "eth0");
  EXPECT_EQ(report->mtu.docker, 1450u);
  EXPECT_EQ(report->dockerd.version.ToString(), "24.0.7");
}

TEST(DetectHere, AFailingReaderIsTheError) {
  FakeNetlinkReader netlink(netcfg::testing::PodFacts().network);
  netlink.fail = true;
  auto report = DetectHere(netlink, NoFiles(), Version("24.0.7"));
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.error().Message().find("netlink"), std::string::npos);
}

TEST(DetectorHere, ReadsTheNamespaceAgainAtEveryDetection) {
  FakeNetlinkReader netlink(netcfg::testing::PodFacts(1450).network);
  DetectorHere detector(netlink, Version("24.0.7"), NoFiles());
  ASSERT_TRUE(detector.Detect().ok());
  netlink.snapshot = netcfg::testing::PodFacts(1400).network;  // the CNI lowered the MTU
  auto again = detector.Detect();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(netlink.reads, 2);
  EXPECT_EQ(again->mtu.docker, 1400u);
  EXPECT_EQ(again->dockerd.version.ToString(), "24.0.7");
}

}  // namespace
}  // namespace dind::pod
