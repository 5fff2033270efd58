// SPDX-License-Identifier: Apache-2.0
// --dns through detection into the daemon.json plan: "dns" is written only when decided.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "netcfg/detect/daemon_json_plan.h"
#include "netcfg/detect/detection_report.h"
#include "tests/netcfg/detect/fixtures.h"

namespace dind::netcfg {
namespace {

using testing::FindUpdate;
using ::testing::HasSubstr;

SystemFacts LoopbackPod() {
  auto facts = testing::PodFacts(1450);
  facts.resolv_conf = "nameserver 127.0.0.1\nsearch ci.svc.cluster.local\n";
  facts.systemd_resolv_conf = "nameserver 10.0.0.2\n";
  return facts;
}

TEST(DnsPlanTest, OffLeavesTheKeyAlone) {
  auto report = Detect(LoopbackPod(), {.dockerd_version = "28.5.2"});
  ASSERT_TRUE(report.ok()) << report.error().Message();
  EXPECT_EQ(FindUpdate(PlanDaemonJson(*report), "dns"), nullptr);
  EXPECT_EQ(ReportToJson(*report)["dns"]["mode"], "off");
}

TEST(DnsPlanTest, AutoWritesTheUsableUpstreamInsteadOfTheFallback) {
  DetectOptions options{.dockerd_version = "28.5.2"};
  options.dns.mode = DnsFlagMode::kAuto;
  auto report = Detect(LoopbackPod(), options);
  ASSERT_TRUE(report.ok()) << report.error().Message();
  const auto updates = PlanDaemonJson(*report);
  const KeyUpdate* dns = FindUpdate(updates, "dns");
  ASSERT_NE(dns, nullptr);
  EXPECT_EQ(dns->value, OrderedJson::array({"10.0.0.2"}));
  EXPECT_THAT(ReportToText(*report), HasSubstr("8.8.8.8"));

  // The kubelet's cluster DNS needs nothing.
  auto kubelet = testing::PodFacts(1450);
  kubelet.resolv_conf = "nameserver 10.96.0.10\n";
  auto plain = Detect(kubelet, options);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(FindUpdate(PlanDaemonJson(*plain), "dns"), nullptr);
  EXPECT_TRUE(plain->warnings.empty() ||
              std::none_of(plain->warnings.begin(), plain->warnings.end(),
                           [](const std::string& w) { return w.find("--dns") != w.npos; }));

  // Nothing usable: nothing written, and a warning saying what to pass.
  auto stuck = LoopbackPod();
  stuck.systemd_resolv_conf.reset();
  auto warned = Detect(stuck, options);
  ASSERT_TRUE(warned.ok());
  EXPECT_EQ(FindUpdate(PlanDaemonJson(*warned), "dns"), nullptr);
  EXPECT_THAT(warned->warnings, ::testing::Contains(HasSubstr("pass --dns")));
}

TEST(DnsPlanTest, AListIsWrittenAsGiven) {
  DetectOptions options{.dockerd_version = "20.10.24"};
  options.dns = {DnsFlagMode::kServers, {"10.96.0.10", "1.1.1.1"}};
  auto report = Detect(testing::PodFacts(1450), options);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(FindUpdate(PlanDaemonJson(*report), "dns")->value,
            OrderedJson::array({"10.96.0.10", "1.1.1.1"}));
  EXPECT_EQ(ReportToJson(*report)["dns"]["servers"], OrderedJson::array({"10.96.0.10", "1.1.1.1"}));
}

}  // namespace
}  // namespace dind::netcfg
