// SPDX-License-Identifier: Apache-2.0
// The decision's JSON shape and text lines, which `detect`, `init` and `rules` print.
#include "rules/choice/decision_report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/rules/choice/choice_fixtures.h"

namespace dind::rules {
namespace {

using ::testing::AllOf;
using testing::CannotRun;
using testing::Census;
using ::testing::HasSubstr;
using testing::Inputs;
using testing::Kernel;
using testing::NeverMatches;
using testing::Passes;
using testing::ScriptedProver;

BackendDecision Decide(ChoiceInputs inputs, ScriptedProver& prover) {
  auto decision = ChooseBackend(inputs, prover);
  EXPECT_TRUE(decision.ok());
  return std::move(decision).value();
}

TEST(DecisionToJsonTest, ShapeWithEveryProofStatus) {
  ScriptedProver prover;
  prover.Answer(BackendKind::kNft, NeverMatches()).Answer(BackendKind::kLegacy, Passes());
  const auto json =
      DecisionToJson(Decide(Inputs(Kernel("4.19.0"), Census(0, 0), Census(2, 1)), prover));
  EXPECT_EQ(json["chosen"], "legacy");
  EXPECT_EQ(json["step"], "proof");
  EXPECT_THAT(json["reason"].get<std::string>(), HasSubstr("legacy passed"));
  EXPECT_EQ(json["evidence"]["kernel"], "4.19.0");
  const auto& legacy = json["evidence"]["legacy"];
  EXPECT_EQ(legacy["available"], "yes");
  EXPECT_EQ(legacy["nat_rules"], 0);
  EXPECT_EQ(legacy["masquerade_rules"], 0);
  EXPECT_TRUE(legacy["census_error"].is_null());
  EXPECT_EQ(legacy["proof"]["status"], "passed");
  EXPECT_EQ(legacy["proof"]["counter_packets"], 1);
  EXPECT_EQ(legacy["proof"]["masqueraded"], true);
  const auto& nft = json["evidence"]["nft"];
  EXPECT_EQ(nft["nat_rules"], 2);
  EXPECT_EQ(nft["masquerade_rules"], 1);
  EXPECT_EQ(nft["proof"]["status"], "failed");
  EXPECT_EQ(nft["proof"]["counter_packets"], 0);
  EXPECT_EQ(json["split_brain"].size(), 1u);
  EXPECT_TRUE(json["warnings"].is_array());
}

TEST(DecisionToJsonTest, NotRunCouldNotRunAndCensusError) {
  ScriptedProver prover;
  prover.Answer(BackendKind::kNft, CannotRun()).Answer(BackendKind::kLegacy, CannotRun());
  const auto json = DecisionToJson(
      Decide(Inputs(Kernel("6.1.0"), Error::Permission("reading the nat table", 1, "add NET_ADMIN"),
                    Census(0, 0)),
             prover));
  const auto& legacy = json["evidence"]["legacy"];
  EXPECT_TRUE(legacy["nat_rules"].is_null());
  EXPECT_TRUE(legacy["masquerade_rules"].is_null());
  EXPECT_THAT(legacy["census_error"].get<std::string>(), HasSubstr("reading the nat table"));
  EXPECT_EQ(legacy["proof"]["status"], "could not run");
  EXPECT_THAT(legacy["proof"]["detail"].get<std::string>(), HasSubstr("CAP_SYS_ADMIN"));
  EXPECT_FALSE(legacy["proof"].contains("counter_packets"));
  EXPECT_EQ(json["step"], "default");

  ScriptedProver none;
  const auto explicit_json = DecisionToJson(
      Decide(Inputs(Kernel("6.1.0"), Census(0, 0), Census(0, 0), BackendKind::kNft), none));
  EXPECT_EQ(explicit_json["evidence"]["nft"]["proof"]["status"], "not run");
}

TEST(DecisionToTextTest, OneLinePerBackendAndFinding) {
  ScriptedProver prover;
  prover.Answer(BackendKind::kNft, Passes());
  const std::string text =
      DecisionToText(Decide(Inputs(Kernel("6.1.0"), Census(2, 1), Census(3, 2)), prover));
  EXPECT_THAT(text, AllOf(HasSubstr("backend     nft [proof]"),
                          HasSubstr("  legacy    available yes; other writers' nat rules 2 "
                                    "(masquerade 1); proof not run"),
                          HasSubstr("  nft       available yes; other writers' nat rules 3 "
                                    "(masquerade 2); proof passed: rule counted 1 packet"),
                          HasSubstr("split brain masquerade rules in both backends")));
}

}  // namespace
}  // namespace dind::rules
