// SPDX-License-Identifier: Apache-2.0
// Detection through the reader passed in; the sidecar's detector keeps dockerd's version.
#include "daemon/pod/detect_here.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/asio/io_context.hpp>
#include <fstream>
#include <thread>

#include "tests/daemon/docker/fake_dockerd.h"
#include "tests/daemon/docker/samples.h"
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

// Issue 29 item 8: the dockerd that serves decides, not the binary on this PATH. Here the binary
// says 20.10.24 while the socket is answered by 28.5.2's recorded /version.
TEST(DetectHere, TheRunningDockerdsVersionWinsOverItsBinary) {
  boost::asio::io_context io;
  docker::testing::FakeDockerd fake(
      io, {docker::testing::Answer(docker::testing::HttpResponse(
              200, "OK", docker::samples::Recorded("28.5.2", "version")))});
  // A dockerd "binary" that is not one of Go's: its version comes from running it.
  const std::string binary = fake.directory() + "/dockerd";
  {
    std::ofstream script(binary);
    script << "#!/bin/sh\necho 'Docker version 20.10.24+dfsg1, build 297e128'\n";
  }
  ASSERT_EQ(::chmod(binary.c_str(), 0755), 0);
  netcfg::FactSources sources = NoFiles();
  sources.dockerd = binary;
  sources.docker_socket = fake.path();

  std::thread server([&io] { io.run(); });
  FakeNetlinkReader netlink(netcfg::testing::PodFacts(1450).network);
  auto live = DetectHere(netlink, sources, Version("auto"));
  io.stop();
  server.join();
  ASSERT_TRUE(live.ok()) << live.error().Message();
  EXPECT_EQ(live->dockerd.version.ToString(), "28.5.2");
  EXPECT_EQ(live->dockerd.read_from, "GET /version of unix://" + fake.path());
  EXPECT_TRUE(live->dockerd.supports_default_network_opts);
  EXPECT_EQ(fake.targets(), std::vector<std::string>{"/version"});

  // Nothing answers on the socket: the binary's word.
  sources.docker_socket = fake.directory() + "/absent.sock";
  auto offline = DetectHere(netlink, sources, Version("auto"));
  ASSERT_TRUE(offline.ok()) << offline.error().Message();
  EXPECT_EQ(offline->dockerd.version.ToString(), "20.10.24");
  EXPECT_EQ(offline->dockerd.read_from, binary + " --version");
}

}  // namespace
}  // namespace dind::pod
