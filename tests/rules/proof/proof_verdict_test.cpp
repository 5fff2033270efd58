// SPDX-License-Identifier: Apache-2.0
// Every verdict of the proof by traffic and the line it gives the operator.
#include "rules/proof/proof_verdict.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace dind::rules {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

IpAddress Ip(const char* text) {
  return IpAddress::Parse(text).value();
}
Cidr C(const char* text) {
  return Cidr::Parse(text).value();
}

ProofObservation Seen(int received, const char* from, std::optional<std::uint64_t> counter) {
  ProofObservation seen;
  seen.datagrams_received = received;
  if (from != nullptr) seen.arrived_from = Ip(from);
  seen.counter_packets = counter;
  seen.waited = milliseconds(500);
  return seen;
}

TEST(JudgeTest, CountedAndMasqueradedPasses) {
  const ProofOutcome outcome = Judge(BackendKind::kNft, MakeProofPlan(), Seen(3, "192.0.2.1", 1));
  EXPECT_TRUE(outcome.passed);
  EXPECT_TRUE(outcome.rule_accepted);
  EXPECT_TRUE(outcome.arrived);
  EXPECT_TRUE(outcome.masqueraded);
  EXPECT_EQ(outcome.counter_packets, 1U);
  EXPECT_EQ(outcome.arrived_from, "192.0.2.1");
  EXPECT_EQ(outcome.detail, "rule counted 1 packet; it arrived from 192.0.2.1, masqueraded");
}

// The time the kernel took to bring the veth up ends the line, passed or failed, so a slow
// node shows in the proof report; a refusal never got that far.
TEST(JudgeTest, TheLinkWaitEndsTheDetail) {
  ProofObservation seen = Seen(3, "192.0.2.1", 1);
  seen.links_up_after = milliseconds(1340);
  EXPECT_EQ(Judge(BackendKind::kNft, MakeProofPlan(), seen).detail,
            "rule counted 1 packet; it arrived from 192.0.2.1, masqueraded; veth up after 1340 ms");
  ProofObservation lost = Seen(0, nullptr, 1);
  lost.links_up_after = milliseconds(2);
  EXPECT_THAT(Judge(BackendKind::kNft, MakeProofPlan(), lost).detail,
              HasSubstr("dropped on the way out; veth up after 2 ms"));
  ProofObservation refused;
  refused.refusal = "Operation not supported";
  refused.links_up_after = milliseconds(2);
  EXPECT_THAT(Judge(BackendKind::kNft, MakeProofPlan(), refused).detail,
              ::testing::Not(HasSubstr("veth up")));
}

TEST(JudgeTest, PluralPackets) {
  const ProofOutcome outcome =
      Judge(BackendKind::kLegacy, MakeProofPlan(), Seen(3, "192.0.2.1", 3));
  EXPECT_TRUE(outcome.passed);
  EXPECT_EQ(outcome.detail, "rule counted 3 packets; it arrived from 192.0.2.1, masqueraded");
}

TEST(JudgeTest, AcceptedButNeverCountedNamesTheHooksThatDoNotRun) {
  const ProofOutcome nft = Judge(BackendKind::kNft, MakeProofPlan(), Seen(3, "198.51.100.1", 0));
  EXPECT_FALSE(nft.passed);
  EXPECT_TRUE(nft.rule_accepted);
  EXPECT_TRUE(nft.arrived);
  EXPECT_FALSE(nft.masqueraded);
  EXPECT_EQ(nft.counter_packets, 0U);
  EXPECT_EQ(nft.detail,
            "rules accepted but their counter stayed 0: this kernel does not run nft's nat hooks "
            "(it arrived from 198.51.100.1, not masqueraded)");

  const ProofOutcome legacy =
      Judge(BackendKind::kLegacy, MakeProofPlan(), Seen(3, "198.51.100.1", 0));
  EXPECT_FALSE(legacy.passed);
  EXPECT_THAT(legacy.detail, HasSubstr("ip_tables' nat hooks"));
}

TEST(JudgeTest, NoRuleListedSaysSo) {
  const ProofOutcome outcome =
      Judge(BackendKind::kNft, MakeProofPlan(), Seen(3, "198.51.100.1", std::nullopt));
  EXPECT_FALSE(outcome.passed);
  EXPECT_EQ(outcome.counter_packets, 0U);
  EXPECT_EQ(outcome.detail,
            "rules accepted but the nft backend lists no rule for 198.51.100.1; it arrived from "
            "198.51.100.1, not masqueraded");
}

TEST(JudgeTest, NothingArrivedSaysHowLongItWaited) {
  const ProofOutcome outcome = Judge(BackendKind::kNft, MakeProofPlan(), Seen(0, nullptr, 2));
  EXPECT_FALSE(outcome.passed);
  EXPECT_FALSE(outcome.arrived);
  EXPECT_FALSE(outcome.masqueraded);
  EXPECT_EQ(outcome.arrived_from, "");
  EXPECT_EQ(outcome.detail,
            "rule counted 2 packets but no datagram arrived in the outside namespace within "
            "500 ms: the masqueraded datagrams are dropped on the way out");
}

TEST(JudgeTest, CountedButUnchangedSourceFails) {
  const ProofOutcome outcome =
      Judge(BackendKind::kLegacy, MakeProofPlan(), Seen(1, "198.51.100.1", 1));
  EXPECT_FALSE(outcome.passed);
  EXPECT_TRUE(outcome.arrived);
  EXPECT_FALSE(outcome.masqueraded);
  EXPECT_THAT(outcome.detail, HasSubstr("rule counted 1 packet but it arrived from 198.51.100.1, "
                                        "not masqueraded: the rule matches yet"));
}

TEST(JudgeTest, AnUnexpectedSourceIsNeitherMasqueradedNorUnchanged) {
  const ProofOutcome outcome = Judge(BackendKind::kNft, MakeProofPlan(), Seen(1, "203.0.113.9", 1));
  EXPECT_FALSE(outcome.passed);
  EXPECT_FALSE(outcome.masqueraded);
  EXPECT_THAT(outcome.detail,
              HasSubstr("it arrived from 203.0.113.9, neither masqueraded to 192.0.2.1"));
}

TEST(JudgeTest, MasqueradedButUncountedFailsBecauseTheCounterIsThePoint) {
  const ProofOutcome outcome = Judge(BackendKind::kNft, MakeProofPlan(), Seen(3, "192.0.2.1", 0));
  EXPECT_FALSE(outcome.passed);
  EXPECT_TRUE(outcome.masqueraded);
  EXPECT_THAT(outcome.detail, HasSubstr("but the rule's counter stayed 0"));
}

TEST(JudgeTest, ARefusedRuleIsAFailedOutcomeWithTheBackendsReason) {
  ProofObservation seen;
  seen.refusal = "applying nf_tables masquerade rules: Operation not supported (errno 95)";
  const ProofOutcome outcome = Judge(BackendKind::kNft, MakeProofPlan(), seen);
  EXPECT_FALSE(outcome.passed);
  EXPECT_FALSE(outcome.rule_accepted);
  EXPECT_EQ(outcome.detail,
            "the nft backend refused the masquerade rule: applying nf_tables masquerade rules: "
            "Operation not supported (errno 95)");
}

TEST(CounterForTest, SumsTheRulesCoveringTheSourceWhateverTheirInterface) {
  BackendState state;
  state.rules = {{C("198.51.100.1/32"), "dind-proof0", 2, 100},
                 {C("198.51.100.0/24"), "wrong0", 0, 0},
                 {C("10.0.0.0/8"), "dind-proof0", 7, 700},
                 {C("fd00::/64"), "dind-proof0", 9, 900}};
  EXPECT_EQ(CounterFor(state, Ip("198.51.100.1")), 2U);
}

TEST(CounterForTest, AWrongInterfaceRuleCountsWhatTheKernelCounted) {
  BackendState state;
  state.rules = {{C("198.51.100.1/32"), "lo", 0, 0}};
  EXPECT_EQ(CounterFor(state, Ip("198.51.100.1")), 0U);
}

TEST(CounterForTest, NoCoveringRuleIsNotZero) {
  BackendState state;
  state.rules = {{C("10.0.0.0/8"), "dind-proof0", 7, 700}, {C("::/0"), "dind-proof0", 1, 1}};
  EXPECT_EQ(CounterFor(state, Ip("198.51.100.1")), std::nullopt);
  EXPECT_EQ(CounterFor(BackendState{}, Ip("198.51.100.1")), std::nullopt);
}

}  // namespace
}  // namespace dind::rules
