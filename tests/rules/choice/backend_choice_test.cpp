// SPDX-License-Identifier: Apache-2.0
// The backend choice with injected kernel facts, rule censuses and a scripted prover.
#include "rules/choice/backend_choice.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/rules/choice/choice_fixtures.h"

namespace dind::rules {
namespace {

using netcfg::Availability;
using ::testing::AllOf;
using testing::CannotRun;
using testing::Census;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::Inputs;
using ::testing::IsEmpty;
using testing::Kernel;
using testing::NeverMatches;
using ::testing::Not;
using testing::Passes;
using testing::ScriptedProver;
using ::testing::SizeIs;
constexpr BackendKind kLegacy = BackendKind::kLegacy;
constexpr BackendKind kNft = BackendKind::kNft;

BackendDecision MustChoose(const ChoiceInputs& inputs, BackendProver& prover) {
  auto decision = ChooseBackend(inputs, prover);
  EXPECT_TRUE(decision.ok()) << decision.error().Message();
  return std::move(decision).value();
}

// ---- Step 1: explicit ----------------------------------------------------------------------

TEST(ExplicitStep, RequestedBackendWinsOverCensusWithoutProof) {
  ScriptedProver prover;
  const auto decision =
      MustChoose(Inputs(Kernel("6.1.0-18-amd64"), Census(0, 0), Census(4, 2), kLegacy), prover);
  EXPECT_EQ(decision.chosen, kLegacy);
  EXPECT_EQ(decision.step, ChoiceStep::kExplicit);
  EXPECT_THAT(decision.reason, HasSubstr("--backend"));
  EXPECT_THAT(prover.calls(), IsEmpty());
  EXPECT_FALSE(decision.legacy.proof.has_value());
}

TEST(ExplicitStep, RequestedBackendWinsEvenOnAnOldKernel) {
  ScriptedProver prover;
  const auto decision = MustChoose(
      Inputs(Kernel("3.10.0-1160.el7.x86_64"), Census(0, 0), Census(0, 0), kNft), prover);
  EXPECT_EQ(decision.chosen, kNft);
  EXPECT_EQ(decision.step, ChoiceStep::kExplicit);
}

TEST(ExplicitStep, BackendTheKernelLacksIsBadInputNamingIt) {
  ScriptedProver prover;
  const auto decision =
      ChooseBackend(Inputs(Kernel("5.10.0", Availability::kNo), Census(0, 0),
                           Error::Environment("nf_tables: protocol not supported"), kNft),
                    prover);
  ASSERT_FALSE(decision.ok());
  EXPECT_EQ(decision.error().kind, ErrorKind::kBadInput);
  EXPECT_EQ(decision.error().ExitCode(), 2);
  EXPECT_THAT(decision.error().Message(),
              AllOf(HasSubstr("--backend"), HasSubstr("nft"), HasSubstr("nf_tables"),
                    HasSubstr("--backend legacy")));
  EXPECT_THAT(prover.calls(), IsEmpty());
}

TEST(ExplicitStep, UnknownAvailabilityIsNotRefused) {
  ScriptedProver prover;
  const auto decision =
      MustChoose(Inputs(Kernel("5.10.0", Availability::kYes, Availability::kUnknown), Census(0, 0),
                        Census(0, 0), kLegacy),
                 prover);
  EXPECT_EQ(decision.chosen, kLegacy);
}

// ---- Step 2: kernel facts ------------------------------------------------------------------

TEST(KernelStep, Kernel310IsLegacyWithoutRunningAProof) {
  ScriptedProver prover;  // scripted with nothing: any proof fails the test
  const auto decision =
      MustChoose(Inputs(Kernel("3.10.0-1160.el7.x86_64"), Census(0, 0), Census(0, 0)), prover);
  EXPECT_EQ(decision.chosen, kLegacy);
  EXPECT_EQ(decision.step, ChoiceStep::kKernel);
  EXPECT_THAT(decision.reason, AllOf(HasSubstr("3.10.0"), HasSubstr("older than 4")));
  EXPECT_THAT(prover.calls(), IsEmpty());
}

TEST(KernelStep, NoNfTablesMeansLegacy) {
  ScriptedProver prover;
  const auto decision =
      MustChoose(Inputs(Kernel("5.15.0", Availability::kNo), Census(0, 0), Census(3, 1)), prover);
  EXPECT_EQ(decision.chosen, kLegacy);
  EXPECT_EQ(decision.step, ChoiceStep::kKernel);
  EXPECT_THAT(decision.reason, HasSubstr("lacks nf_tables"));
  EXPECT_THAT(prover.calls(), IsEmpty());
}

TEST(KernelStep, NoLegacyIpTablesMeansNft) {
  ScriptedProver prover;
  const auto decision = MustChoose(
      Inputs(Kernel("6.8.0", Availability::kYes, Availability::kNo), Census(2, 1), Census(0, 0)),
      prover);
  EXPECT_EQ(decision.chosen, kNft);
  EXPECT_EQ(decision.step, ChoiceStep::kKernel);
  EXPECT_THAT(decision.reason, HasSubstr("lacks legacy ip_tables"));
}

TEST(KernelStep, NeitherBackendIsAnEnvironmentError) {
  ScriptedProver prover;
  const auto decision = ChooseBackend(
      Inputs(Kernel("5.10.0", Availability::kNo, Availability::kNo), Census(0, 0), Census(0, 0)),
      prover);
  ASSERT_FALSE(decision.ok());
  EXPECT_EQ(decision.error().ExitCode(), 1);
  EXPECT_THAT(decision.error().Message(), AllOf(HasSubstr("neither"), HasSubstr("5.10.0")));
}

TEST(KernelStep, UnknownAvailabilityDoesNotDecide) {
  ScriptedProver prover;
  prover.Answer(kNft, Passes());
  const auto decision =
      MustChoose(Inputs(Kernel("5.10.0", Availability::kUnknown, Availability::kUnknown),
                        Census(0, 0), Census(0, 0)),
                 prover);
  EXPECT_EQ(decision.step, ChoiceStep::kProof);
}

// ---- Step 3: census ------------------------------------------------------------------------

TEST(CensusStep, RulesOnlyInLegacyPickLegacyConfirmedByProof) {
  ScriptedProver prover;
  prover.Answer(kLegacy, Passes());
  const auto decision = MustChoose(Inputs(Kernel("5.15.0"), Census(5, 2), Census(0, 0)), prover);
  EXPECT_EQ(decision.chosen, kLegacy);
  EXPECT_EQ(decision.step, ChoiceStep::kCensus);
  EXPECT_THAT(decision.reason,
              AllOf(HasSubstr("2 masquerade rules"), HasSubstr("passed the traffic proof")));
  EXPECT_THAT(prover.calls(), ElementsAre(kLegacy));
  EXPECT_THAT(decision.warnings, IsEmpty());
}

TEST(CensusStep, RulesOnlyInNftPickNft) {
  ScriptedProver prover;
  prover.Answer(kNft, Passes());
  const auto decision = MustChoose(Inputs(Kernel("6.1.0"), Census(0, 0), Census(3, 1)), prover);
  EXPECT_EQ(decision.chosen, kNft);
  EXPECT_EQ(decision.step, ChoiceStep::kCensus);
  EXPECT_THAT(prover.calls(), ElementsAre(kNft));
}

TEST(CensusStep, MasqueradeRulesOutweighOtherNatRules) {
  ScriptedProver prover;
  prover.Answer(kNft, Passes());
  // legacy has more nat rules, but only nft masquerades.
  const auto decision = MustChoose(Inputs(Kernel("6.1.0"), Census(9, 0), Census(1, 1)), prover);
  EXPECT_EQ(decision.chosen, kNft);
  EXPECT_EQ(decision.step, ChoiceStep::kCensus);
}

TEST(CensusStep, NatRulesDecideWhenNoOneMasquerades) {
  ScriptedProver prover;
  prover.Answer(kLegacy, Passes());
  const auto decision = MustChoose(Inputs(Kernel("6.1.0"), Census(3, 0), Census(0, 0)), prover);
  EXPECT_EQ(decision.chosen, kLegacy);
  EXPECT_EQ(decision.step, ChoiceStep::kCensus);
  EXPECT_THAT(decision.reason, HasSubstr("none masquerading"));
}

TEST(CensusStep, UnprovableCensusPickStandsWithAWarning) {
  ScriptedProver prover;
  prover.Answer(kLegacy, CannotRun());
  const auto decision = MustChoose(Inputs(Kernel("6.1.0"), Census(4, 1), Census(0, 0)), prover);
  EXPECT_EQ(decision.chosen, kLegacy);
  EXPECT_EQ(decision.step, ChoiceStep::kCensus);
  EXPECT_THAT(decision.reason, HasSubstr("could not run"));
  ASSERT_THAT(decision.warnings, SizeIs(1));
  EXPECT_THAT(decision.warnings[0], HasSubstr("without proof"));
  ASSERT_TRUE(decision.legacy.proof.has_value());
  EXPECT_FALSE(decision.legacy.proof->ok());
}

TEST(CensusStep, CensusPickThatFailsItsProofFallsThroughToTheProof) {
  ScriptedProver prover;
  prover.Answer(kNft, NeverMatches()).Answer(kLegacy, Passes());
  // dockerd wrote its masquerade with iptables-nft, but this kernel never runs nft NAT.
  const auto decision = MustChoose(Inputs(Kernel("4.19.0"), Census(0, 0), Census(2, 1)), prover);
  EXPECT_EQ(decision.chosen, kLegacy);
  EXPECT_EQ(decision.step, ChoiceStep::kProof);
  EXPECT_THAT(decision.reason, AllOf(HasSubstr("nft failed the traffic proof"),
                                     HasSubstr("legacy passed the traffic proof")));
  EXPECT_THAT(prover.calls(), ElementsAre(kNft, kLegacy)) << "each backend is proven once";
}

TEST(CensusStep, FailedCensusLeavesTheDecisionToTheProof) {
  ScriptedProver prover;
  prover.Answer(kNft, Passes());
  const auto decision =
      MustChoose(Inputs(Kernel("6.1.0"), Census(3, 1),
                        Error::Environment("listing the nf_tables ruleset", EPROTONOSUPPORT)),
                 prover);
  EXPECT_EQ(decision.chosen, kNft);
  EXPECT_EQ(decision.step, ChoiceStep::kProof);
  EXPECT_THAT(decision.reason, HasSubstr("census of nft failed"));
}

// ---- Step 4: proof by traffic --------------------------------------------------------------

TEST(ProofStep, NothingAnywhereProvesNftFirstAndStops) {
  ScriptedProver prover;
  prover.Answer(kNft, Passes()).Answer(kLegacy, Passes());
  const auto decision = MustChoose(Inputs(Kernel("6.1.0"), Census(0, 0), Census(0, 0)), prover);
  EXPECT_EQ(decision.chosen, kNft);
  EXPECT_EQ(decision.step, ChoiceStep::kProof);
  EXPECT_THAT(prover.calls(), ElementsAre(kNft));
  EXPECT_FALSE(decision.legacy.proof.has_value()) << "legacy must be reported as not run";
}

TEST(ProofStep, NftThatAcceptsRulesButNeverMatchesIsRejectedForLegacy) {
  ScriptedProver prover;
  prover.Answer(kNft, NeverMatches()).Answer(kLegacy, Passes());
  const auto decision = MustChoose(Inputs(Kernel("4.19.0"), Census(0, 0), Census(0, 0)), prover);
  EXPECT_EQ(decision.chosen, kLegacy);
  EXPECT_EQ(decision.step, ChoiceStep::kProof);
  EXPECT_THAT(decision.reason,
              AllOf(HasSubstr("no other writer"), HasSubstr("nft failed the traffic proof"),
                    HasSubstr("counter stayed 0")));
}

TEST(ProofStep, TieOfMasqueradeRulesIsDecidedByProofAndReportedAsSplitBrain) {
  ScriptedProver prover;
  prover.Answer(kNft, Passes());
  const auto decision = MustChoose(Inputs(Kernel("6.1.0"), Census(2, 1), Census(3, 2)), prover);
  EXPECT_EQ(decision.chosen, kNft);
  EXPECT_EQ(decision.step, ChoiceStep::kProof);
  EXPECT_THAT(decision.reason, HasSubstr("both backends hold rules"));
  ASSERT_THAT(decision.split_brain, SizeIs(1));
  EXPECT_THAT(decision.split_brain[0],
              AllOf(HasSubstr("both backends"), HasSubstr("legacy: 1"), HasSubstr("nft: 2")));
}

TEST(ProofStep, NftUnprovableButLegacyPassingChoosesLegacy) {
  ScriptedProver prover;
  prover.Answer(kNft, Error::Environment("proof of nft timed out")).Answer(kLegacy, Passes());
  const auto decision = MustChoose(Inputs(Kernel("6.1.0"), Census(0, 0), Census(0, 0)), prover);
  EXPECT_EQ(decision.chosen, kLegacy);
  EXPECT_EQ(decision.step, ChoiceStep::kProof);
  EXPECT_THAT(decision.reason, HasSubstr("nft could not be proven"));
}

// ---- Step 5: default -----------------------------------------------------------------------

TEST(DefaultStep, NoPermissionForTheProofFallsBackToNftOnCurrentKernels) {
  ScriptedProver prover;
  prover.Answer(kNft, CannotRun()).Answer(kLegacy, CannotRun());
  const auto decision = MustChoose(Inputs(Kernel("6.1.0"), Census(0, 0), Census(0, 0)), prover);
  EXPECT_EQ(decision.chosen, kNft);
  EXPECT_EQ(decision.step, ChoiceStep::kDefault);
  EXPECT_THAT(decision.reason, AllOf(HasSubstr("could not be proven"), HasSubstr("default")));
  ASSERT_THAT(decision.warnings, SizeIs(1));
  EXPECT_THAT(decision.warnings[0], HasSubstr("CAP_SYS_ADMIN"));
}

TEST(DefaultStep, NoPermissionForTheProofFallsBackToLegacyBefore418) {
  ScriptedProver prover;
  prover.Answer(kNft, CannotRun()).Answer(kLegacy, CannotRun());
  const auto decision = MustChoose(Inputs(Kernel("4.14.0"), Census(0, 0), Census(0, 0)), prover);
  EXPECT_EQ(decision.chosen, kLegacy);
  EXPECT_EQ(decision.step, ChoiceStep::kDefault);
}

TEST(DefaultStep, RejectedBackendIsNeverPreferredOverAnUnprovenOne) {
  ScriptedProver prover;
  prover.Answer(kNft, NeverMatches()).Answer(kLegacy, CannotRun());
  const auto decision = MustChoose(Inputs(Kernel("6.1.0"), Census(0, 0), Census(0, 0)), prover);
  EXPECT_EQ(decision.chosen, kLegacy);
  EXPECT_EQ(decision.step, ChoiceStep::kDefault);
  EXPECT_THAT(decision.reason, HasSubstr("did not reject"));
}

TEST(DefaultStep, BothRejectedWarnsThatEgressWillFail) {
  ScriptedProver prover;
  prover.Answer(kNft, NeverMatches()).Answer(kLegacy, NeverMatches());
  const auto decision = MustChoose(Inputs(Kernel("6.1.0"), Census(0, 0), Census(0, 0)), prover);
  EXPECT_EQ(decision.step, ChoiceStep::kDefault);
  ASSERT_THAT(decision.warnings, SizeIs(1));
  EXPECT_THAT(decision.warnings[0], HasSubstr("neither backend"));
}

// What a kernel whose modules are withheld answers: the rule is not even taken. The detail is
// shaped as the proof's verdict writes it, with the backend's own hint after the errno.
ProofOutcome Refuses(const std::string& backend, const std::string& why, const std::string& hint) {
  ProofOutcome outcome;
  outcome.rule_accepted = false;
  outcome.detail = "the " + backend + " backend refused the masquerade rule: " + why + "; " + hint;
  return outcome;
}

TEST(DefaultStep, BothRefusingTheRuleIsAnEnvironmentErrorNamingEachAndTheFix) {
  ScriptedProver prover;
  prover
      .Answer(kNft,
              Refuses("nft", "reading nf_tables ruleset generation: Invalid argument (errno 22)",
                      "use the legacy iptables backend"))
      .Answer(kLegacy,
              Refuses("legacy", "reading the IPv4 nat table: Protocol not available (errno 92)",
                      "or use the nft backend"));
  const auto decision =
      ChooseBackend(Inputs(Kernel("6.1.0", Availability::kUnknown, Availability::kUnknown),
                           Error::Environment("census"), Error::Environment("census")),
                    prover);
  ASSERT_FALSE(decision.ok());
  EXPECT_EQ(decision.error().kind, ErrorKind::kEnvironment);
  EXPECT_EQ(decision.error().ExitCode(), 1);
  const std::string message = decision.error().Message();
  EXPECT_THAT(
      message,
      AllOf(HasSubstr("6.1.0 has neither masquerade backend"),
            HasSubstr("nft: reading nf_tables ruleset generation: Invalid argument (errno 22)"),
            HasSubstr("legacy: reading the IPv4 nat table: Protocol not available (errno 92))"),
            HasSubstr("modprobe nf_tables nft_chain_nat nft_masq"),
            HasSubstr("modprobe ip_tables iptable_nat"), HasSubstr("module_blacklist")));
  // Each backend's own hint points at the other backend: no help when both refused.
  EXPECT_THAT(message, Not(HasSubstr("use the legacy iptables backend")));
  EXPECT_THAT(message, Not(HasSubstr("use the nft backend")));
  EXPECT_THAT(prover.calls(), ElementsAre(kNft, kLegacy));
}

TEST(DefaultStep, OneRefusalAndOneUnprovableStillDefaults) {
  ScriptedProver prover;
  prover.Answer(kNft, Refuses("nft", "no nf_tables (errno 22)", "hint"))
      .Answer(kLegacy, CannotRun());
  const auto decision = MustChoose(Inputs(Kernel("6.1.0"), Census(0, 0), Census(0, 0)), prover);
  EXPECT_EQ(decision.chosen, kLegacy);
  EXPECT_EQ(decision.step, ChoiceStep::kDefault);
}

// A proof killed by its deadline on a slow node is not a missing capability: the warning says
// what happened instead of asking for CAP_SYS_ADMIN.
TEST(DefaultStep, UnprovenWarningNamesWhyTheProofCouldNotRun) {
  ScriptedProver prover;
  prover
      .Answer(kNft,
              Error::Environment("proving the nft backend by traffic: timed out after 2000 ms",
                                 "retry on a less loaded machine"))
      .Answer(kLegacy, Refuses("legacy", "no ip_tables (errno 92)", "hint"));
  const auto decision = MustChoose(Inputs(Kernel("6.1.0"), Census(0, 0), Census(0, 0)), prover);
  EXPECT_EQ(decision.chosen, kNft);
  ASSERT_THAT(decision.warnings, SizeIs(1));
  EXPECT_THAT(decision.warnings[0],
              AllOf(HasSubstr("nft was chosen without proof"), HasSubstr("timed out after 2000 ms"),
                    Not(HasSubstr("CAP_SYS_ADMIN"))));
}

TEST(DefaultStep, UnprovenForWantOfPermissionSaysWhichCapabilities) {
  ScriptedProver prover;
  prover.Answer(kNft, CannotRun()).Answer(kLegacy, CannotRun());
  const auto decision = MustChoose(Inputs(Kernel("6.1.0"), Census(0, 0), Census(0, 0)), prover);
  ASSERT_THAT(decision.warnings, SizeIs(1));
  EXPECT_THAT(decision.warnings[0], HasSubstr("CAP_SYS_ADMIN"));
}

TEST(DefaultBackendTest, Legacy418Boundary) {
  EXPECT_EQ(DefaultBackend(Kernel("3.10.0-1160.el7.x86_64")), kLegacy);
  EXPECT_EQ(DefaultBackend(Kernel("4.17.19")), kLegacy);
  EXPECT_EQ(DefaultBackend(Kernel("4.18.0-513.el8.x86_64")), kNft);
  EXPECT_EQ(DefaultBackend(Kernel("5.4.0")), kNft);
  EXPECT_EQ(DefaultBackend(Kernel("unreadable")), kNft);
}

// ---- Split brain ---------------------------------------------------------------------------

TEST(SplitBrain, DockerRulesInNftOnAKernelThatHonoursOnlyLegacy) {
  ScriptedProver prover;
  prover.Answer(kNft, NeverMatches()).Answer(kLegacy, Passes());
  const auto decision = MustChoose(Inputs(Kernel("4.19.0"), Census(0, 0), Census(2, 1)), prover);
  ASSERT_EQ(decision.chosen, kLegacy);
  ASSERT_THAT(decision.split_brain, SizeIs(1));
  EXPECT_THAT(decision.split_brain[0],
              AllOf(HasSubstr("1 masquerade rule in nft"), HasSubstr("honours legacy"),
                    HasSubstr("iptables-legacy")));
}

TEST(SplitBrain, DockerRulesInLegacyOnAKernelThatHonoursOnlyNft) {
  ScriptedProver prover;
  prover.Answer(kLegacy, NeverMatches()).Answer(kNft, Passes());
  const auto decision = MustChoose(Inputs(Kernel("6.6.0"), Census(4, 3), Census(0, 0)), prover);
  ASSERT_EQ(decision.chosen, kNft);
  EXPECT_EQ(decision.step, ChoiceStep::kProof);
  ASSERT_THAT(decision.split_brain, SizeIs(1));
  EXPECT_THAT(decision.split_brain[0],
              AllOf(HasSubstr("3 masquerade rules in legacy"), HasSubstr("honours nft")));
}

TEST(SplitBrain, NftRulesOnKernel310AreDeadWithoutAProof) {
  ScriptedProver prover;
  const auto decision =
      MustChoose(Inputs(Kernel("3.10.0-1160.el7.x86_64"), Census(0, 0), Census(6, 2)), prover);
  ASSERT_EQ(decision.chosen, kLegacy);
  ASSERT_THAT(decision.split_brain, SizeIs(1));
  EXPECT_THAT(decision.split_brain[0], HasSubstr("does not run nf_tables NAT"));
  EXPECT_THAT(prover.calls(), IsEmpty());
}

TEST(SplitBrain, NoFindingWhenTheOtherBackendIsMerelyUnproven) {
  ScriptedProver prover;
  prover.Answer(kNft, Passes());
  // Both masquerade; nft passes and legacy is never proven, so legacy's rules are not called
  // dead: only the "both backends" finding is reported.
  const auto decision = MustChoose(Inputs(Kernel("6.1.0"), Census(2, 1), Census(1, 1)), prover);
  ASSERT_EQ(decision.chosen, kNft);
  ASSERT_THAT(decision.split_brain, SizeIs(1));
  EXPECT_THAT(decision.split_brain[0], HasSubstr("both backends"));
}

// ---- Flag parsing --------------------------------------------------------------------------

TEST(ParseBackendRequestTest, AcceptsTheThreeValues) {
  EXPECT_EQ(*ParseBackendRequest("auto", "--backend"), std::nullopt);
  EXPECT_EQ(*ParseBackendRequest("legacy", "--backend"), kLegacy);
  EXPECT_EQ(*ParseBackendRequest("nft", "--backend"), kNft);
}

TEST(ParseBackendRequestTest, RefusesOthersNamingTheFlagAndTheValue) {
  const auto parsed = ParseBackendRequest("iptables", "--backend (DIND_NETCFG_BACKEND)");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().ExitCode(), 2);
  EXPECT_THAT(parsed.error().Message(),
              AllOf(HasSubstr("DIND_NETCFG_BACKEND"), HasSubstr("'iptables'"), HasSubstr("nft")));
}

}  // namespace
}  // namespace dind::rules
