// SPDX-License-Identifier: Apache-2.0
// ApplyInChosen: the rules go into the chosen backend first, then leave the other one, and only
// when the decision's census found dind-netcfg's rules there.
#include "daemon/pod/backend_here.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/mocks/fake_backend.h"

namespace dind::pod {
namespace {

using rules::BackendKind;
using testing::DecisionFor;
using ::testing::ElementsAre;
using testing::FakeBackend;
using ::testing::HasSubstr;

const rules::MasqueradeSpec kSpec{{*Cidr::Parse("172.17.0.0/16")}, "eth0"};

class ApplyInChosenTest : public ::testing::Test {
 protected:
  // The chosen nft backend, and the legacy one the factory opens for the cleanup.
  ChosenBackend Chosen(bool ours_in_legacy) {
    ChosenBackend chosen{std::make_unique<FakeBackend>(BackendKind::kNft, journal_),
                         DecisionFor(BackendKind::kNft, ours_in_legacy)};
    chosen.make_backend =
        [this](BackendKind kind) -> Result<std::unique_ptr<rules::MasqueradeBackend>> {
      ++opened_;
      auto other = std::make_unique<FakeBackend>(kind, journal_);
      other->fail_remove = fail_remove_;
      return std::unique_ptr<rules::MasqueradeBackend>(std::move(other));
    };
    return chosen;
  }

  std::shared_ptr<std::vector<std::string>> journal_ = std::make_shared<std::vector<std::string>>();
  int opened_ = 0;
  bool fail_remove_ = false;
};

TEST_F(ApplyInChosenTest, AppliesThenRemovesOurOldRulesFromTheOtherBackend) {
  const ChosenBackend chosen = Chosen(/*ours_in_legacy=*/true);
  auto applied = ApplyInChosen(chosen, kSpec);
  ASSERT_TRUE(applied.ok()) << applied.error().Message();
  EXPECT_THAT(*journal_, ElementsAre("nft apply", "legacy remove"));
  EXPECT_EQ(applied->cleaned, BackendKind::kLegacy);
  ASSERT_EQ(applied->state.rules.size(), 1u);
  EXPECT_EQ(applied->state.rules[0].out_interface, "eth0");
}

TEST_F(ApplyInChosenTest, LeavesTheOtherBackendAloneWhenItHoldsNothingOfOurs) {
  const ChosenBackend chosen = Chosen(/*ours_in_legacy=*/false);
  auto applied = ApplyInChosen(chosen, kSpec);
  ASSERT_TRUE(applied.ok());
  EXPECT_THAT(*journal_, ElementsAre("nft apply"));
  EXPECT_EQ(opened_, 0);
  EXPECT_FALSE(applied->cleaned);
}

TEST_F(ApplyInChosenTest, AFailedApplyKeepsTheOldRulesWhereTheyAre) {
  ChosenBackend chosen = Chosen(/*ours_in_legacy=*/true);
  static_cast<FakeBackend&>(*chosen.backend).fail_apply = true;
  auto applied = ApplyInChosen(chosen, kSpec);
  ASSERT_FALSE(applied.ok());
  EXPECT_THAT(applied.error().Message(), HasSubstr("nft"));
  // No gap in the safety net: the old rules stay until the new ones are in.
  EXPECT_THAT(*journal_, ElementsAre("nft apply"));
}

TEST_F(ApplyInChosenTest, AFailedCleanupIsAnErrorNamingTheOtherBackend) {
  fail_remove_ = true;
  const ChosenBackend chosen = Chosen(/*ours_in_legacy=*/true);
  auto applied = ApplyInChosen(chosen, kSpec);
  ASSERT_FALSE(applied.ok());
  EXPECT_THAT(applied.error().Message(), HasSubstr("legacy"));
}

}  // namespace
}  // namespace dind::pod
