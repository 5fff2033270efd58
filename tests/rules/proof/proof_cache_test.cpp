// SPDX-License-Identifier: Apache-2.0
// The proof cache: its file format, and when the caching prover reuses an outcome instead of
// proving (the same boot, release, version and backend availability) and when it proves again.
#include "rules/proof/proof_cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "common/files.h"
#include "tests/mocks/temp_dir.h"
#include "tests/rules/choice/choice_fixtures.h"

namespace dind::rules {
namespace {

using netcfg::Availability;
using rules::BackendKind;
using rules::ProofOutcome;
using rules::testing::CannotRun;
using rules::testing::Kernel;
using rules::testing::NeverMatches;
using rules::testing::Passes;
using ::testing::HasSubstr;

const ProofIdentity kThisBoot{"441f9108-71fc-4369-9694-d59884c44560", "6.1.0-28-amd64", "0.1.0"};

// Answers every proof with `answer` and counts the proofs it was asked for.
class CountingProver final : public rules::BackendProver {
 public:
  CountingProver(Result<ProofOutcome> answer, int& calls)
      : answer_(std::move(answer)), calls_(calls) {}
  Result<ProofOutcome> Prove(BackendKind) override {
    ++calls_;
    return answer_;
  }

 private:
  Result<ProofOutcome> answer_;
  int& calls_;
};

class ProofCacheTest : public ::testing::Test {
 protected:
  // One process's proof of `kind`, as a later process would run it: a new prover on the file.
  Result<ProofOutcome> ProveOnce(BackendKind kind, Result<ProofOutcome> answer = Passes(),
                                 const ProofIdentity& identity = kThisBoot,
                                 const netcfg::KernelFacts& kernel = Kernel("6.1.0-28-amd64")) {
    auto prover = MakeCachingProver(std::make_unique<CountingProver>(std::move(answer), proofs_),
                                    {cache_, "init"}, identity, kernel);
    return prover->Prove(kind);
  }

  dind::testing::TempDir dir_;
  const std::string cache_ = dir_ / "state/backend-proof.json";
  int proofs_ = 0;
};

TEST_F(ProofCacheTest, ALaterRunOnTheSameBootReusesTheOutcomeAndSaysWhoProvedIt) {
  auto first = ProveOnce(BackendKind::kNft);
  ASSERT_TRUE(first.ok()) << first.error().Message();
  EXPECT_FALSE(first->reused) << "proved here, not reused";
  auto second = ProveOnce(BackendKind::kNft);
  ASSERT_TRUE(second.ok()) << second.error().Message();

  EXPECT_EQ(proofs_, 1);
  EXPECT_TRUE(second->passed);
  EXPECT_EQ(second->counter_packets, 1u);
  EXPECT_EQ(second->detail, Passes().detail);
  ASSERT_TRUE(second->reused);
  EXPECT_THAT(second->reused->proven_by, HasSubstr("init (pid " + std::to_string(::getpid())));
  EXPECT_EQ(second->reused->cache_path, cache_);
  EXPECT_THAT(second->reused->proven_at, ::testing::MatchesRegex("20[0-9-]+T[0-9:]+Z"));
}

TEST_F(ProofCacheTest, AFailedOutcomeIsAFactOfTheKernelTooAndIsKept) {
  ASSERT_TRUE(ProveOnce(BackendKind::kNft, NeverMatches()).ok());
  auto again = ProveOnce(BackendKind::kNft, Passes());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(proofs_, 1);
  EXPECT_FALSE(again->passed);
}

TEST_F(ProofCacheTest, AProofThatCouldNotRunIsNotKept) {
  EXPECT_FALSE(ProveOnce(BackendKind::kNft, CannotRun()).ok());
  EXPECT_TRUE(ProveOnce(BackendKind::kNft).ok());
  EXPECT_EQ(proofs_, 2);
}

TEST_F(ProofCacheTest, EachBackendIsProvedOnceAndBothAreKept) {
  ASSERT_TRUE(ProveOnce(BackendKind::kNft, NeverMatches()).ok());
  ASSERT_TRUE(ProveOnce(BackendKind::kLegacy).ok());
  ASSERT_TRUE(ProveOnce(BackendKind::kNft).ok());
  ASSERT_TRUE(ProveOnce(BackendKind::kLegacy).ok());
  EXPECT_EQ(proofs_, 2);
}

TEST_F(ProofCacheTest, AnotherBootReleaseOrVersionProvesAgain) {
  ASSERT_TRUE(ProveOnce(BackendKind::kNft).ok());
  ProofIdentity rebooted = kThisBoot;
  rebooted.boot_id = "0b5e4c7e-0000-4000-8000-000000000000";
  ProofIdentity upgraded_kernel = kThisBoot;
  upgraded_kernel.kernel_release = "6.1.0-29-amd64";
  ProofIdentity upgraded_tool = kThisBoot;
  upgraded_tool.tool_version = "0.2.0";
  for (const auto& identity : {rebooted, upgraded_kernel, upgraded_tool}) {
    auto outcome = ProveOnce(BackendKind::kNft, Passes(), identity);
    ASSERT_TRUE(outcome.ok());
    EXPECT_FALSE(outcome->reused) << identity.boot_id << " " << identity.kernel_release;
  }
  EXPECT_EQ(proofs_, 4);
}

TEST_F(ProofCacheTest, ABackendWhoseAvailabilityChangedIsProvedAgain) {
  ASSERT_TRUE(ProveOnce(BackendKind::kLegacy, Passes(), kThisBoot,
                        Kernel("6.1.0-28-amd64", Availability::kYes, Availability::kUnknown))
                  .ok());
  auto outcome = ProveOnce(BackendKind::kLegacy, Passes(), kThisBoot,
                           Kernel("6.1.0-28-amd64", Availability::kYes, Availability::kYes));
  ASSERT_TRUE(outcome.ok());
  EXPECT_FALSE(outcome->reused);
  EXPECT_EQ(proofs_, 2);
}

TEST_F(ProofCacheTest, AMalformedCacheIsProvedOverAndReplaced) {
  ::mkdir((dir_ / "state").c_str(), 0755);
  std::ofstream(cache_) << R"({"boot_id": 7})";
  ASSERT_TRUE(ProveOnce(BackendKind::kNft).ok());
  auto text = ReadFile(cache_);
  ASSERT_TRUE(text.ok());
  auto parsed = ParseProofCache(*text);
  ASSERT_TRUE(parsed.ok()) << parsed.error().Message();
  EXPECT_EQ(parsed->identity, kThisBoot);
  EXPECT_TRUE(ProveOnce(BackendKind::kNft)->reused);
  EXPECT_EQ(proofs_, 1);
}

TEST_F(ProofCacheTest, ACacheThatCannotBeWrittenNeverFailsTheProof) {
  std::ofstream(dir_ / "state") << "a file where the cache's directory should be";
  auto outcome = ProveOnce(BackendKind::kNft);
  ASSERT_TRUE(outcome.ok());
  EXPECT_TRUE(outcome->passed);
}

TEST(ProofCacheFormatTest, WhatIsWrittenReadsBackTheSame) {
  ProofCacheFile file{kThisBoot, {}};
  ProofOutcome outcome = Passes();
  outcome.arrived_from = "192.0.2.1";
  outcome.elapsed = std::chrono::milliseconds(8);
  outcome.reused = ProofOutcome::Reuse{"init (pid 9) on dind-ci", "2026-12-07T02:40:12Z", ""};
  file.proofs[BackendKind::kLegacy] = {Availability::kYes, outcome};
  file.proofs[BackendKind::kNft] = {Availability::kUnknown, NeverMatches()};

  auto parsed = ParseProofCache(SerializeProofCache(file));
  ASSERT_TRUE(parsed.ok()) << parsed.error().Message();
  EXPECT_EQ(parsed->identity, kThisBoot);
  ASSERT_EQ(parsed->proofs.size(), 2u);
  const CachedProof& legacy = parsed->proofs.at(BackendKind::kLegacy);
  EXPECT_EQ(legacy.availability, Availability::kYes);
  EXPECT_TRUE(legacy.outcome.passed);
  EXPECT_EQ(legacy.outcome.arrived_from, "192.0.2.1");
  EXPECT_EQ(legacy.outcome.elapsed, std::chrono::milliseconds(8));
  EXPECT_EQ(legacy.outcome.reused->proven_by, "init (pid 9) on dind-ci");
  EXPECT_EQ(parsed->proofs.at(BackendKind::kNft).availability, Availability::kUnknown);
  EXPECT_FALSE(parsed->proofs.at(BackendKind::kNft).outcome.passed);
}

TEST(ProofCacheFormatTest, ParseNamesWhatIsWrong) {
  const std::string valid =
      SerializeProofCache({kThisBoot, {{BackendKind::kNft, {Availability::kYes, Passes()}}}});
  EXPECT_THAT(ParseProofCache("not json").error().Message(), HasSubstr("not a JSON object"));
  EXPECT_THAT(ParseProofCache(R"({"boot_id": "x", "kernel_release": "6.1"})").error().Message(),
              HasSubstr("dind_netcfg_version"));
  std::string other_backend = valid;
  other_backend.replace(other_backend.find("\"nft\""), 5, "\"ebt\"");
  EXPECT_THAT(ParseProofCache(other_backend).error().Message(), HasSubstr("proofs.ebt"));
  std::string wrong_type = valid;
  wrong_type.replace(wrong_type.find("\"passed\": true"), 14, "\"passed\": \"yes\"");
  EXPECT_THAT(ParseProofCache(wrong_type).error().Message(), HasSubstr("proofs.nft"));
}

}  // namespace
}  // namespace dind::rules
