// SPDX-License-Identifier: Apache-2.0
// `rules check`'s verdict: present (container, hook, every wanted rule) and effective (counters
// above zero, else the proof), with a scripted proof that records whether it was asked.
#include "daemon/pod/rules_verdict.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace dind::pod {
namespace {

using rules::BackendKind;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

Cidr C(const char* text) {
  return *Cidr::Parse(text);
}

rules::MasqueradeSpec Wanted() {
  return {{C("172.17.0.0/16"), C("172.18.0.0/16")}, "eth0"};
}

rules::BackendState Installed(std::uint64_t packets) {
  rules::BackendState state;
  state.container_present = true;
  state.hooked = true;
  state.rules = {{C("172.17.0.0/16"), "eth0", packets, packets * 84},
                 {C("172.18.0.0/16"), "eth0", 0, 0}};
  return state;
}

struct ScriptedProof {
  Result<rules::ProofOutcome> answer;
  int calls = 0;
  std::function<Result<rules::ProofOutcome>()> Fn() {
    return [this]() {
      ++calls;
      return answer;
    };
  }
};

rules::ProofOutcome Outcome(bool passed) {
  rules::ProofOutcome outcome;
  outcome.passed = passed;
  outcome.counter_packets = passed ? 1 : 0;
  outcome.detail = passed ? "rule counted 1 packet" : "rules accepted but their counter stayed 0";
  return outcome;
}

TEST(JudgeRulesTest, MovingCountersAreEffectiveWithoutAProof) {
  ScriptedProof proof{Outcome(false)};
  const auto verdict = JudgeRules(BackendKind::kNft, Wanted(), Installed(7), false, proof.Fn());
  EXPECT_TRUE(verdict.ok());
  EXPECT_EQ(verdict.packets, 7u);
  EXPECT_THAT(verdict.effect_evidence, HasSubstr("7 packets"));
  EXPECT_EQ(proof.calls, 0);
}

TEST(JudgeRulesTest, UnusedRulesAreEffectiveWhenTheProofPasses) {
  ScriptedProof proof{Outcome(true)};
  const auto verdict = JudgeRules(BackendKind::kNft, Wanted(), Installed(0), false, proof.Fn());
  EXPECT_TRUE(verdict.ok());
  EXPECT_THAT(verdict.effect_evidence, HasSubstr("passed the traffic proof"));
  EXPECT_EQ(proof.calls, 1);
}

TEST(JudgeRulesTest, UnusedRulesOfABackendThatFailsTheProofAreIneffective) {
  ScriptedProof proof{Outcome(false)};
  const auto verdict = JudgeRules(BackendKind::kNft, Wanted(), Installed(0), false, proof.Fn());
  EXPECT_TRUE(verdict.present);
  EXPECT_FALSE(verdict.ok());
  EXPECT_THAT(verdict.missing, ElementsAre(AllOf(HasSubstr("nft failed the traffic proof"),
                                                 HasSubstr("does not run"))));
}

TEST(JudgeRulesTest, UnusedRulesWithoutAProofAreUnproven) {
  ScriptedProof proof{Error::Permission("creating namespaces", 1, "grant CAP_SYS_ADMIN")};
  const auto verdict = JudgeRules(BackendKind::kLegacy, Wanted(), Installed(0), false, proof.Fn());
  EXPECT_FALSE(verdict.ok());
  EXPECT_THAT(verdict.effect_evidence, AllOf(HasSubstr("unproven"), HasSubstr("CAP_SYS_ADMIN")));
}

TEST(JudgeRulesTest, AbsentContainerListsEveryMissingRuleAndSkipsTheProof) {
  ScriptedProof proof{Outcome(true)};
  const auto verdict =
      JudgeRules(BackendKind::kLegacy, Wanted(), rules::BackendState{}, false, proof.Fn());
  EXPECT_FALSE(verdict.ok());
  EXPECT_THAT(verdict.missing,
              ElementsAre(HasSubstr("nat chain DIND-NETCFG-POSTROUTING does not exist"),
                          "no rule masquerading 172.17.0.0/16 out of eth0",
                          "no rule masquerading 172.18.0.0/16 out of eth0"));
  EXPECT_EQ(proof.calls, 0);
}

TEST(JudgeRulesTest, UnhookedChainIsNotPresent) {
  rules::BackendState state = Installed(3);
  state.hooked = false;
  ScriptedProof proof{Outcome(true)};
  const auto verdict = JudgeRules(BackendKind::kLegacy, Wanted(), state, false, proof.Fn());
  EXPECT_FALSE(verdict.present);
  EXPECT_THAT(verdict.missing, ElementsAre("POSTROUTING does not jump to DIND-NETCFG-POSTROUTING"));
}

TEST(JudgeRulesTest, RuleForAnotherInterfaceDoesNotCountAndIsStale) {
  rules::BackendState state = Installed(3);
  state.rules[1].out_interface = "eth1";
  ScriptedProof proof{Outcome(true)};
  const auto verdict = JudgeRules(BackendKind::kNft, Wanted(), state, false, proof.Fn());
  EXPECT_FALSE(verdict.present);
  EXPECT_THAT(verdict.missing, ElementsAre("no rule masquerading 172.18.0.0/16 out of eth0"));
  EXPECT_THAT(verdict.stale, ElementsAre("172.18.0.0/16 out of eth1"));
}

TEST(JudgeRulesTest, ExtraRulesOfOursAreStaleButNotAFailure) {
  rules::BackendState state = Installed(3);
  state.rules.push_back({C("10.99.0.0/16"), "eth0", 0, 0});
  ScriptedProof proof{Outcome(true)};
  const auto verdict = JudgeRules(BackendKind::kNft, Wanted(), state, false, proof.Fn());
  EXPECT_TRUE(verdict.ok());
  EXPECT_THAT(verdict.stale, ElementsAre("10.99.0.0/16 out of eth0"));
}

TEST(JudgeRulesTest, OurRulesInTheOtherBackendAreReported) {
  ScriptedProof proof{Outcome(true)};
  const auto verdict =
      JudgeRules(BackendKind::kNft, Wanted(), rules::BackendState{}, true, proof.Fn());
  EXPECT_THAT(verdict.missing, ::testing::Contains(HasSubstr("rules are in legacy")));
}

TEST(JudgeRulesTest, EmptyWantedStillNeedsTheHookedContainer) {
  ScriptedProof proof{Outcome(true)};
  const auto verdict =
      JudgeRules(BackendKind::kNft, {{}, "eth0"}, rules::BackendState{}, false, proof.Fn());
  EXPECT_FALSE(verdict.ok());
  EXPECT_THAT(verdict.stale, IsEmpty());
}

}  // namespace
}  // namespace dind::pod

namespace dind::pod {
namespace {

TEST(CheckPresenceTest, AWantedClampMustBeInstalledWithItsMss) {
  rules::MasqueradeSpec wanted = Wanted();
  wanted.clamps = {{C("172.17.0.0/16"), 1320}, {C("fd4d:6e63:6667::/64"), 1300}};
  rules::BackendState state = Installed(1);
  state.clamps = {{C("172.17.0.0/16"), 1400, 0, 0}};
  const RulesVerdict verdict = CheckPresence(BackendKind::kNft, wanted, state, false);
  EXPECT_FALSE(verdict.present);
  EXPECT_THAT(verdict.missing, ElementsAre("no MSS clamp of 172.17.0.0/16 to 1320",
                                           "no MSS clamp of fd4d:6e63:6667::/64 to 1300"));
  EXPECT_THAT(verdict.stale, ElementsAre("MSS clamp of 172.17.0.0/16 to 1400"));

  state.clamps = {{C("172.17.0.0/16"), 1320, 3, 180}, {C("fd4d:6e63:6667::/64"), 1300, 0, 0}};
  EXPECT_TRUE(CheckPresence(BackendKind::kNft, wanted, state, false).present);
}

TEST(CheckPresenceTest, ClampsNobodyWantsAreStaleNotMissing) {
  rules::BackendState state = Installed(1);
  state.clamps = {{C("172.18.0.0/16"), 1320, 0, 0}};
  const RulesVerdict verdict = CheckPresence(BackendKind::kLegacy, Wanted(), state, false);
  EXPECT_TRUE(verdict.present);
  EXPECT_THAT(verdict.stale, ElementsAre("MSS clamp of 172.18.0.0/16 to 1320"));
}

}  // namespace
}  // namespace dind::pod
