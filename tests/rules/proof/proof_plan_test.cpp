// SPDX-License-Identifier: Apache-2.0
// The proof's plan as data: what gets configured, in which namespace, in which order.
#include "rules/proof/proof_plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "rules/proof/traffic_proof.h"

namespace dind::rules {
namespace {

using netcfg::AddAddress;
using netcfg::AddRoute;
using netcfg::AwaitOperUp;
using netcfg::CreateVethPair;
using netcfg::DescribeStep;
using netcfg::NetnsSide;
using netcfg::SetLinkUp;
using netcfg::SideName;
using ::testing::ElementsAre;

Cidr C(const char* text) {
  return Cidr::Parse(text).value();
}

template <typename Step>
std::vector<Step> StepsOf(const ProofPlan& plan) {
  std::vector<Step> found;
  for (const netcfg::WiringStep& step : plan.steps) {
    if (const auto* s = std::get_if<Step>(&step)) found.push_back(*s);
  }
  return found;
}

// Index of the first step whose description is `description`, or -1.
int IndexOf(const ProofPlan& plan, const std::string& description) {
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    if (DescribeStep(plan.steps[i]) == description) return static_cast<int>(i);
  }
  return -1;
}

TEST(ProofPlanTest, MasqueradesExactlyTheNestedSourceOutOfThePodLink) {
  const ProofPlan plan = MakeProofPlan();
  ASSERT_THAT(plan.spec.sources, ElementsAre(Cidr::Of(plan.nested_source, 32)));
  EXPECT_EQ(plan.spec.out_interface, plan.pod_link);
  EXPECT_NE(plan.pod_link, plan.outside_link);
  EXPECT_GE(plan.datagrams, 1);
  EXPECT_NE(plan.port, 0);
}

TEST(ProofPlanTest, AddressesAreDocumentationRangesThatTellMasqueradedFromNot) {
  const ProofPlan plan = MakeProofPlan();
  EXPECT_TRUE(C("192.0.2.0/24").Contains(plan.pod_address));  // TEST-NET-1
  EXPECT_TRUE(C("192.0.2.0/24").Contains(plan.outside_address));
  EXPECT_TRUE(C("198.51.100.0/24").Contains(plan.nested_source));  // TEST-NET-2
  EXPECT_EQ(plan.pod_address.ToString(), "192.0.2.1");
  EXPECT_EQ(plan.outside_address.ToString(), "192.0.2.2");
  EXPECT_EQ(plan.nested_source.ToString(), "198.51.100.1");
  // The veth is one /30, the nested source outside it: only masquerade can change the source.
  const auto veths = StepsOf<AddAddress>(plan);
  for (const AddAddress& address : veths) {
    if (address.link == "lo") {
      EXPECT_EQ(address.address, plan.nested_source);
      EXPECT_EQ(address.prefix_length, 32);
      EXPECT_EQ(address.side, NetnsSide::kPod);
    } else {
      EXPECT_EQ(address.prefix_length, 30);
      EXPECT_TRUE(Cidr::Of(plan.pod_address, 30).Contains(address.address));
      EXPECT_FALSE(Cidr::Of(address.address, 30).Contains(plan.nested_source));
    }
  }
}

TEST(ProofPlanTest, EachSideGetsItsOwnEndAndAddress) {
  const ProofPlan plan = MakeProofPlan();
  const auto veths = StepsOf<CreateVethPair>(plan);
  ASSERT_EQ(veths.size(), 1U);
  EXPECT_EQ(veths[0].name, plan.pod_link);
  EXPECT_EQ(veths[0].peer_name, plan.outside_link);

  std::set<std::string> addressed;
  for (const AddAddress& address : StepsOf<AddAddress>(plan)) {
    const std::string expected_link = address.side == NetnsSide::kPod
                                          ? (address.link == "lo" ? "lo" : plan.pod_link)
                                          : plan.outside_link;
    EXPECT_EQ(address.link, expected_link);
    addressed.insert(std::string(SideName(address.side)) + " " + address.address.ToString());
  }
  EXPECT_EQ(addressed,
            (std::set<std::string>{"pod 192.0.2.1", "pod 198.51.100.1", "outside 192.0.2.2"}));

  std::set<std::string> up;
  for (const SetLinkUp& link : StepsOf<SetLinkUp>(plan)) {
    up.insert(std::string(SideName(link.side)) + " " + link.link);
  }
  EXPECT_EQ(up, (std::set<std::string>{"pod lo", "outside lo", "pod " + plan.pod_link,
                                       "outside " + plan.outside_link}));
}

TEST(ProofPlanTest, OutsideRoutesBackToTheNestedSourceThroughThePod) {
  const ProofPlan plan = MakeProofPlan();
  const auto routes = StepsOf<AddRoute>(plan);
  ASSERT_EQ(routes.size(), 1U);
  EXPECT_EQ(routes[0].side, NetnsSide::kOutside);
  EXPECT_EQ(routes[0].destination, Cidr::Of(plan.nested_source, 32));
  EXPECT_EQ(routes[0].gateway, plan.pod_address);
}

TEST(ProofPlanTest, StepsComeInAnOrderTheKernelAccepts) {
  const ProofPlan plan = MakeProofPlan();
  const int veth = IndexOf(plan, "pod: create veth dind-proof0 with peer dind-proof1 in outside");
  ASSERT_GE(veth, 0);
  // Nothing touches a veth end before it exists.
  for (int i = 0; i < veth; ++i) {
    const std::string step = DescribeStep(plan.steps[i]);
    EXPECT_EQ(step.find("dind-proof"), std::string::npos) << step;
  }
  const int outside_address = IndexOf(plan, "outside: add 192.0.2.2/30 to dind-proof1");
  const int outside_up = IndexOf(plan, "outside: set dind-proof1 up");
  // The gateway must be reachable (on an up link in its /30) when the route goes in.
  const int route = IndexOf(plan, "outside: add route 198.51.100.1/32 via 192.0.2.1");
  const int pod_up = IndexOf(plan, "pod: set dind-proof0 up");
  ASSERT_GE(outside_address, 0);
  ASSERT_GE(outside_up, 0);
  ASSERT_GE(route, 0);
  ASSERT_GE(pod_up, 0);
  EXPECT_LT(outside_address, route);
  EXPECT_LT(outside_up, route);
  // The pod's end comes up last, and then both ends are awaited before anything is sent.
  for (std::size_t i = pod_up + 1; i < plan.steps.size(); ++i) {
    EXPECT_TRUE(std::holds_alternative<AwaitOperUp>(plan.steps[i])) << DescribeStep(plan.steps[i]);
  }
  EXPECT_GE(IndexOf(plan, "pod: add 198.51.100.1/32 to lo"), 0);
  EXPECT_GE(IndexOf(plan, "pod: add 192.0.2.1/30 to dind-proof0"), 0);
  EXPECT_GE(IndexOf(plan, "pod: set lo up"), 0);
  EXPECT_GE(IndexOf(plan, "outside: set lo up"), 0);
}

TEST(ProofPlanTest, BothVethEndsAreAwaitedOperationallyUpAtTheEnd) {
  const ProofPlan plan = MakeProofPlan();
  std::set<std::string> awaited;
  for (const AwaitOperUp& await : StepsOf<AwaitOperUp>(plan)) {
    awaited.insert(std::string(SideName(await.side)) + " " + await.link);
    // A loaded node's link watcher takes seconds: the wait is the one named deadline.
    EXPECT_EQ(await.within, netcfg::kLinkUpDeadline);
  }
  EXPECT_EQ(awaited, (std::set<std::string>{"pod dind-proof0", "outside dind-proof1"}));
  EXPECT_EQ(DescribeStep(plan.steps.back()),
            "outside: wait up to 10000 ms for dind-proof1 to be operationally up");
  EXPECT_GE(kProofTimeout, netcfg::kLinkUpDeadline + std::chrono::seconds(2))
      << "the proof's timeout leaves room for the whole wait and the rest";
}

}  // namespace
}  // namespace dind::rules
