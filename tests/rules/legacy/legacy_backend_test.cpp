// SPDX-License-Identifier: Apache-2.0
// The backend's planning on an in-memory table: what Apply/Remove/Inspect change and keep.
#include "rules/legacy/legacy_backend.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>

#include "rules/legacy/masquerade_entry.h"
#include "tests/mocks/fake_nat_tables.h"

namespace dind::rules::legacy {
namespace {

using dind::testing::FakeKernelTable;
using dind::testing::FakeNatTables;
using dind::testing::FakeRule;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kChain(kLegacyChain);

Cidr C(const char* text) {
  return Cidr::Parse(text).value();
}

FakeRule Masquerade(const char* source, const char* out_interface) {
  return FakeRule{"MASQUERADE", BuildMasqueradeEntry(C(source), out_interface).value()};
}

FakeRule Other(Family family, const char* target) {
  return FakeRule{target, BuildJumpEntry(family, target)};
}

FakeRule Jump(Family family) {
  return FakeRule{kChain, BuildJumpEntry(family, kLegacyChain)};
}

// (source, out_interface) of every rule of ours in the fake kernel, in chain order.
std::vector<std::string> OurRules(FakeKernelTable& table, Family family) {
  std::vector<std::string> rules;
  const auto* chain = table.contents.Find(kLegacyChain);
  if (chain == nullptr) return rules;
  for (const auto& rule : *chain) {
    const auto parsed = ParseMasqueradeEntry(family, rule.entry);
    rules.push_back(parsed ? parsed->source.ToString() + " " + parsed->out_interface
                           : "foreign:" + rule.target);
  }
  return rules;
}

std::vector<std::string> Targets(FakeKernelTable& table, std::string_view chain) {
  std::vector<std::string> targets;
  for (const auto& rule : *table.contents.Find(chain)) targets.push_back(rule.target);
  return targets;
}

const std::string kClampChain(kLegacyClampChain);

// "NET from|to MSS" for every clamp rule of ours in a fake mangle table, in chain order.
std::vector<std::string> OurClamps(FakeKernelTable& table, Family family) {
  std::vector<std::string> clamps;
  const auto* chain = table.contents.Find(kLegacyClampChain);
  if (chain == nullptr) return clamps;
  for (const auto& rule : *chain) {
    const auto parsed = ParseClampEntry(family, rule.entry);
    clamps.push_back(
        parsed ? parsed->network.ToString() +
                     (parsed->direction == ClampDirection::kFromNetwork ? " from " : " to ") +
                     std::to_string(parsed->mss)
               : "foreign:" + rule.target);
  }
  return clamps;
}

FakeRule Clamp(const char* network, ClampDirection direction, std::uint16_t mss) {
  return FakeRule{"TCPMSS", BuildClampEntry(C(network), direction, mss).value()};
}

class LegacyBackendTest : public ::testing::Test {
 protected:
  LegacyBackendTest() {
    char pattern[] = "/tmp/dind-legacy-backend-lock-XXXXXX";
    const int fd = ::mkstemp(pattern);
    ::close(fd);
    lock_path_ = pattern;
    auto tables = std::make_unique<FakeNatTables>();
    tables_ = tables.get();
    backend_ = std::make_unique<LegacyBackend>(
        std::move(tables), LegacyOptions{lock_path_, std::chrono::milliseconds(200), 5});
  }
  ~LegacyBackendTest() override { std::filesystem::remove(lock_path_); }

  MasqueradeSpec Spec(std::vector<const char*> sources, const char* out_interface = "eth0") {
    MasqueradeSpec spec;
    for (const char* source : sources) spec.sources.push_back(C(source));
    spec.out_interface = out_interface;
    return spec;
  }
  MasqueradeSpec Clamped(std::vector<std::pair<const char*, std::uint16_t>> clamps) {
    MasqueradeSpec spec = Spec({"10.1.0.0/16"});
    for (const auto& [network, mss] : clamps) spec.clamps.push_back({C(network), mss});
    return spec;
  }

  std::string lock_path_;
  FakeNatTables* tables_ = nullptr;
  std::unique_ptr<LegacyBackend> backend_;
};

TEST_F(LegacyBackendTest, ApplyBuildsChainRulesAndOneJumpPerFamily) {
  tables_->v6.exists = false;
  ASSERT_TRUE(backend_->Apply(Spec({"10.1.0.0/16", "fd00:1::/64", "10.2.0.0/24"})).ok());

  EXPECT_THAT(OurRules(tables_->v4, Family::kIPv4),
              ElementsAre("10.1.0.0/16 eth0", "10.2.0.0/24 eth0"));
  EXPECT_THAT(OurRules(tables_->v6, Family::kIPv6), ElementsAre("fd00:1::/64 eth0"));
  EXPECT_THAT(Targets(tables_->v4, "POSTROUTING"), ElementsAre(kChain));
  EXPECT_THAT(Targets(tables_->v6, "POSTROUTING"), ElementsAre(kChain));
  EXPECT_EQ(tables_->v4.commits, 1);
  EXPECT_EQ(tables_->v6.commits, 1);
  EXPECT_EQ(backend_->kind(), BackendKind::kLegacy);
}

TEST_F(LegacyBackendTest, ApplyingAgainCommitsNothing) {
  const auto spec = Spec({"10.1.0.0/16", "10.1.0.0/16", "fd00:1::/64"});
  ASSERT_TRUE(backend_->Apply(spec).ok());
  const auto v4_before = tables_->v4.contents.chains;
  for (int i = 0; i < 9; ++i) ASSERT_TRUE(backend_->Apply(spec).ok());
  EXPECT_EQ(tables_->v4.commits, 1);
  EXPECT_EQ(tables_->v6.commits, 1);
  EXPECT_EQ(tables_->v4.contents.chains.size(), v4_before.size());
  EXPECT_THAT(OurRules(tables_->v4, Family::kIPv4), ElementsAre("10.1.0.0/16 eth0"));
}

TEST_F(LegacyBackendTest, ApplyReplacesStaleRulesOfOursAndKeepsForeignOnes) {
  auto& v4 = tables_->v4.contents;
  v4.chains.emplace_back(kChain, std::vector<FakeRule>{
                                     Masquerade("10.9.0.0/16", "eth0"),  // no longer wanted
                                     Masquerade("10.1.0.0/16", "eth0"),  // wanted
                                     Masquerade("10.1.0.0/16", "eth0"),  // duplicate
                                     Masquerade("10.2.0.0/24", "eth1"),  // old interface
                                     Other(Family::kIPv4, "ACCEPT"),     // not our form
                                 });
  FakeRule conditional_jump = Jump(Family::kIPv4);
  conditional_jump.entry = BuildJumpEntry(Family::kIPv4, kLegacyChain);
  conditional_jump.entry[offsetof(ipt_entry, ip.smsk)] = 0xff;  // -s 0.0.0.0/8: a condition
  *v4.Find("POSTROUTING") = {Masquerade("172.17.0.0/16", "docker0"), conditional_jump,
                             Other(Family::kIPv4, "RETURN"), Jump(Family::kIPv4),
                             Jump(Family::kIPv4)};
  *v4.Find("PREROUTING") = {Other(Family::kIPv4, "DNAT")};

  ASSERT_TRUE(backend_->Apply(Spec({"10.1.0.0/16", "10.2.0.0/24"})).ok());

  EXPECT_THAT(OurRules(tables_->v4, Family::kIPv4),
              ElementsAre("10.1.0.0/16 eth0", "10.2.0.0/24 eth0"));
  // Foreign rules stay, in their order; the first plain jump stays where it was.
  EXPECT_THAT(Targets(tables_->v4, "POSTROUTING"), ElementsAre("MASQUERADE", "RETURN", kChain));
  EXPECT_THAT(Targets(tables_->v4, "PREROUTING"), ElementsAre("DNAT"));
  EXPECT_EQ(tables_->v4.commits, 1);
}

TEST_F(LegacyBackendTest, ApplyWithoutIpv6SourcesTakesAwayEarlierIpv6Rules) {
  ASSERT_TRUE(backend_->Apply(Spec({"10.1.0.0/16", "fd00:1::/64"})).ok());
  ASSERT_TRUE(backend_->Apply(Spec({"10.1.0.0/16"})).ok());
  EXPECT_EQ(tables_->v6.contents.Find(kChain), nullptr);
  EXPECT_TRUE(Targets(tables_->v6, "POSTROUTING").empty());
  EXPECT_THAT(OurRules(tables_->v4, Family::kIPv4), ElementsAre("10.1.0.0/16 eth0"));
}

TEST_F(LegacyBackendTest, ApplyDoesNotCreateAnIpv6TableItDoesNotNeed) {
  tables_->v6.exists = false;
  ASSERT_TRUE(backend_->Apply(Spec({"10.1.0.0/16"})).ok());
  EXPECT_EQ(tables_->v6.opens, 0);
  EXPECT_FALSE(tables_->v6.exists);
}

TEST_F(LegacyBackendTest, CommitThatLosesARaceIsRedoneWithoutLosingTheOtherWrite) {
  int races = 0;
  tables_->v4.before_commit = [&](FakeKernelTable& kernel) {
    if (races++ >= 2) return;
    // Someone without the lock commits between our snapshot and our commit.
    auto next = kernel.contents;
    next.Find("POSTROUTING")->push_back(Other(Family::kIPv4, "ACCEPT"));
    kernel.CommitFromOutside(std::move(next));
  };
  ASSERT_TRUE(backend_->Apply(Spec({"10.1.0.0/16"})).ok());
  EXPECT_EQ(tables_->v4.opens, 3);
  EXPECT_THAT(Targets(tables_->v4, "POSTROUTING"), ElementsAre("ACCEPT", "ACCEPT", kChain));
  EXPECT_THAT(OurRules(tables_->v4, Family::kIPv4), ElementsAre("10.1.0.0/16 eth0"));
}

TEST_F(LegacyBackendTest, CommitReportedFailedAfterItsReplaceIsCheckedOnAFreshSnapshot) {
  tables_->v4.replaced_but_failed = 1;
  ASSERT_TRUE(backend_->Apply(Spec({"10.1.0.0/16"})).ok());
  EXPECT_EQ(tables_->v4.opens, 2);  // the second snapshot already has everything
  EXPECT_EQ(tables_->v4.commits, 1);
  EXPECT_THAT(OurRules(tables_->v4, Family::kIPv4), ElementsAre("10.1.0.0/16 eth0"));
}

TEST_F(LegacyBackendTest, OtherCommitErrorsAreNotRetried) {
  tables_->v4.refuse_with = ENOMEM;
  auto applied = backend_->Apply(Spec({"10.1.0.0/16"}));
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.error().errnum, ENOMEM);
  EXPECT_EQ(tables_->v4.opens, 1);
}

TEST_F(LegacyBackendTest, EinvalOnEveryAttemptComesBackAsTheKernelsError) {
  tables_->v4.refuse_with = EINVAL;
  auto applied = backend_->Apply(Spec({"10.1.0.0/16"}));
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.error().errnum, EINVAL);
  EXPECT_EQ(tables_->v4.opens, 5);
}

TEST_F(LegacyBackendTest, GivesUpAfterTheBoundedNumberOfLostRaces) {
  tables_->v4.before_commit = [](FakeKernelTable& kernel) {
    kernel.CommitFromOutside(kernel.contents);
  };
  auto applied = backend_->Apply(Spec({"10.1.0.0/16"}));
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.error().errnum, EAGAIN);
  EXPECT_THAT(applied.error().Message(), HasSubstr("all 5 commit attempts"));
  EXPECT_THAT(applied.error().Message(), HasSubstr(lock_path_));
  EXPECT_EQ(tables_->v4.opens, 5);
}

TEST_F(LegacyBackendTest, RemoveTakesOurChainAndEveryJumpToItAndNothingElse) {
  ASSERT_TRUE(backend_->Apply(Spec({"10.1.0.0/16", "fd00:1::/64"})).ok());
  auto& v4 = tables_->v4.contents;
  v4.Find("POSTROUTING")
      ->insert(v4.Find("POSTROUTING")->begin(), Masquerade("172.17.0.0/16", "docker0"));
  v4.Find("OUTPUT")->push_back(Jump(Family::kIPv4));  // someone else jumps to our chain
  v4.chains.emplace_back("DOCKER", std::vector<FakeRule>{Other(Family::kIPv4, "RETURN")});

  ASSERT_TRUE(backend_->Remove().ok());
  EXPECT_EQ(v4.Find(kChain), nullptr);
  EXPECT_THAT(Targets(tables_->v4, "POSTROUTING"), ElementsAre("MASQUERADE"));
  EXPECT_TRUE(Targets(tables_->v4, "OUTPUT").empty());
  EXPECT_THAT(Targets(tables_->v4, "DOCKER"), ElementsAre("RETURN"));
  EXPECT_EQ(tables_->v6.contents.Find(kChain), nullptr);

  const int commits = tables_->v4.commits;
  ASSERT_TRUE(backend_->Remove().ok());  // absent is success, and nothing is written
  EXPECT_EQ(tables_->v4.commits, commits);
}

TEST_F(LegacyBackendTest, RemoveAndInspectNeverCreateTables) {
  tables_->v4.exists = false;
  tables_->v6.exists = false;
  ASSERT_TRUE(backend_->Remove().ok());
  auto state = backend_->Inspect();
  ASSERT_TRUE(state.ok());
  EXPECT_FALSE(state->container_present);
  EXPECT_FALSE(state->hooked);
  EXPECT_EQ(tables_->v4.opens + tables_->v6.opens, 0);
}

TEST_F(LegacyBackendTest, InspectReportsOursWithCountersAndCountsForeignRules) {
  ASSERT_TRUE(backend_->Apply(Spec({"10.1.0.0/16", "fd00:1::/64"})).ok());
  auto& ours = tables_->v4.contents.Find(kChain)->front().entry;
  xt_counters counters{7, 700};
  std::memcpy(ours.data() + offsetof(ipt_entry, counters), &counters, sizeof(counters));
  auto& v4 = tables_->v4.contents;
  v4.Find("POSTROUTING")->push_back(Masquerade("172.17.0.0/16", "docker0"));
  v4.Find("PREROUTING")->push_back(Other(Family::kIPv4, "DNAT"));
  v4.chains.emplace_back("DOCKER", std::vector<FakeRule>{Other(Family::kIPv4, "RETURN")});
  tables_->v6.contents.Find("POSTROUTING")->push_back(Masquerade("fd00:2::/64", "eth0"));

  auto state = backend_->Inspect();
  ASSERT_TRUE(state.ok()) << state.error().Message();
  EXPECT_TRUE(state->container_present);
  EXPECT_TRUE(state->hooked);
  ASSERT_EQ(state->rules.size(), 2u);
  EXPECT_EQ(state->rules[0].source, C("10.1.0.0/16"));
  EXPECT_EQ(state->rules[0].out_interface, "eth0");
  EXPECT_EQ(state->rules[0].packets, 7u);
  EXPECT_EQ(state->rules[0].bytes, 700u);
  EXPECT_EQ(state->rules[1].source, C("fd00:1::/64"));
  EXPECT_EQ(state->foreign_nat_rules, 4);
  EXPECT_EQ(state->foreign_masquerade_rules, 2);
}

TEST_F(LegacyBackendTest, InspectSaysUnhookedWhenAJumpIsMissing) {
  ASSERT_TRUE(backend_->Apply(Spec({"10.1.0.0/16", "fd00:1::/64"})).ok());
  tables_->v6.contents.Find("POSTROUTING")->clear();
  auto state = backend_->Inspect();
  ASSERT_TRUE(state.ok());
  EXPECT_TRUE(state->container_present);
  EXPECT_FALSE(state->hooked);
}

TEST_F(LegacyBackendTest, RejectsBadInterfaceBeforeTouchingAnything) {
  auto applied = backend_->Apply(Spec({"10.1.0.0/16"}, "this-name-is-too-long"));
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.error().kind, ErrorKind::kBadInput);
  EXPECT_EQ(tables_->v4.opens, 0);
}

TEST_F(LegacyBackendTest, WaitsForTheLockAndFailsWithoutTouchingTheTable) {
  const int fd = ::open(lock_path_.c_str(), O_RDONLY);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  auto applied = backend_->Apply(Spec({"10.1.0.0/16"}));
  auto removed = backend_->Remove();
  ::close(fd);
  ASSERT_FALSE(applied.ok());
  EXPECT_THAT(applied.error().Message(), HasSubstr(lock_path_));
  EXPECT_THAT(applied.error().Message(), HasSubstr("PID " + std::to_string(::getpid())));
  ASSERT_FALSE(removed.ok());
  EXPECT_EQ(tables_->v4.opens, 0);
  EXPECT_TRUE(backend_->Apply(Spec({"10.1.0.0/16"})).ok());
}

TEST_F(LegacyBackendTest, ClampsGoToTheMangleChainInBothDirectionsWithOneForwardJump) {
  ASSERT_TRUE(
      backend_
          ->Apply(Clamped({{"10.1.0.0/16", 1320}, {"fd00:1::/64", 1300}, {"10.2.0.0/24", 1400}}))
          .ok());
  EXPECT_THAT(OurClamps(tables_->mangle_v4, Family::kIPv4),
              ElementsAre("10.1.0.0/16 from 1320", "10.1.0.0/16 to 1320", "10.2.0.0/24 from 1400",
                          "10.2.0.0/24 to 1400"));
  EXPECT_THAT(OurClamps(tables_->mangle_v6, Family::kIPv6),
              ElementsAre("fd00:1::/64 from 1300", "fd00:1::/64 to 1300"));
  EXPECT_THAT(Targets(tables_->mangle_v4, "FORWARD"), ElementsAre(kClampChain));
  EXPECT_THAT(Targets(tables_->mangle_v6, "FORWARD"), ElementsAre(kClampChain));
  EXPECT_EQ(tables_->mangle_v4.commits, 1);
  EXPECT_EQ(tables_->mangle_v6.commits, 1);
  // The nat side is what it always was.
  EXPECT_THAT(OurRules(tables_->v4, Family::kIPv4), ElementsAre("10.1.0.0/16 eth0"));
}

TEST_F(LegacyBackendTest, ApplyingTheSameClampsAgainCommitsNothing) {
  const auto spec = Clamped({{"10.1.0.0/16", 1320}, {"fd00:1::/64", 1300}});
  ASSERT_TRUE(backend_->Apply(spec).ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(backend_->Apply(spec).ok());
  EXPECT_EQ(tables_->mangle_v4.commits, 1);
  EXPECT_EQ(tables_->mangle_v6.commits, 1);
  EXPECT_EQ(tables_->v4.commits, 1);
}

TEST_F(LegacyBackendTest, ChangedMssReplacesBothRulesAndKeepsForeignOnes) {
  tables_->mangle_v4.exists = true;
  tables_->mangle_v4.contents.Find("FORWARD")->push_back(Other(Family::kIPv4, "DOCKER-USER"));
  ASSERT_TRUE(backend_->Apply(Clamped({{"10.1.0.0/16", 1320}, {"10.2.0.0/24", 1400}})).ok());
  tables_->mangle_v4.contents.Find(kLegacyClampChain)
      ->push_back(Other(Family::kIPv4, "ACCEPT"));  // not our form
  ASSERT_TRUE(backend_->Apply(Clamped({{"10.1.0.0/16", 1300}, {"10.2.0.0/24", 1400}})).ok());
  EXPECT_THAT(OurClamps(tables_->mangle_v4, Family::kIPv4),
              ElementsAre("10.2.0.0/24 from 1400", "10.2.0.0/24 to 1400", "10.1.0.0/16 from 1300",
                          "10.1.0.0/16 to 1300"));
  EXPECT_THAT(Targets(tables_->mangle_v4, "FORWARD"), ElementsAre("DOCKER-USER", kClampChain));
  EXPECT_EQ(tables_->mangle_v4.commits, 2);
}

TEST_F(LegacyBackendTest, NoClampsTakesTheChainAndJumpAwayPerFamily) {
  ASSERT_TRUE(backend_->Apply(Clamped({{"10.1.0.0/16", 1320}, {"fd00:1::/64", 1300}})).ok());
  tables_->mangle_v4.contents.Find("FORWARD")->push_back(Other(Family::kIPv4, "MARK"));
  ASSERT_TRUE(backend_->Apply(Clamped({{"10.1.0.0/16", 1320}})).ok());
  EXPECT_EQ(tables_->mangle_v6.contents.Find(kLegacyClampChain), nullptr);
  EXPECT_TRUE(Targets(tables_->mangle_v6, "FORWARD").empty());
  EXPECT_THAT(OurClamps(tables_->mangle_v4, Family::kIPv4),
              ElementsAre("10.1.0.0/16 from 1320", "10.1.0.0/16 to 1320"));

  ASSERT_TRUE(backend_->Apply(Clamped({})).ok());
  EXPECT_EQ(tables_->mangle_v4.contents.Find(kLegacyClampChain), nullptr);
  EXPECT_THAT(Targets(tables_->mangle_v4, "FORWARD"), ElementsAre("MARK"));
  EXPECT_THAT(OurRules(tables_->v4, Family::kIPv4), ElementsAre("10.1.0.0/16 eth0"));
}

TEST_F(LegacyBackendTest, APodThatNeverClampsDoesNotReadItsMangleTableAgainAndAgain) {
  // No mangle table: never opened, never created.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(backend_->Apply(Spec({"10.1.0.0/16"})).ok());
  ASSERT_TRUE(backend_->Inspect().ok());
  EXPECT_EQ(tables_->mangle_v4.opens + tables_->mangle_v6.opens, 0);
  EXPECT_FALSE(tables_->mangle_v4.exists);

  // A mangle table someone else uses: read once, then only its stamp while it stays the same.
  tables_->mangle_v4.exists = true;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(backend_->Apply(Spec({"10.1.0.0/16"})).ok());
  ASSERT_TRUE(backend_->Inspect().ok());
  EXPECT_EQ(tables_->mangle_v4.opens, 1);
  EXPECT_EQ(tables_->mangle_v4.commits, 0);

  // It changed: read again, and a chain of ours someone left there goes.
  auto next = tables_->mangle_v4.contents;
  next.chains.emplace_back(
      kClampChain, std::vector<FakeRule>{Clamp("10.1.0.0/16", ClampDirection::kFromNetwork, 1300)});
  next.Find("FORWARD")->push_back(
      FakeRule{kClampChain, BuildJumpEntry(Family::kIPv4, kClampChain)});
  tables_->mangle_v4.CommitFromOutside(std::move(next));
  ASSERT_TRUE(backend_->Apply(Spec({"10.1.0.0/16"})).ok());
  EXPECT_EQ(tables_->mangle_v4.contents.Find(kLegacyClampChain), nullptr);
  EXPECT_TRUE(Targets(tables_->mangle_v4, "FORWARD").empty());
  const int opens = tables_->mangle_v4.opens;
  ASSERT_TRUE(backend_->Apply(Spec({"10.1.0.0/16"})).ok());  // reads what it removed: nothing
  ASSERT_TRUE(backend_->Apply(Spec({"10.1.0.0/16"})).ok());
  EXPECT_EQ(tables_->mangle_v4.opens, opens + 1);
}

TEST_F(LegacyBackendTest, InspectReportsClampsInEffectWithSummedCounters) {
  ASSERT_TRUE(backend_->Apply(Clamped({{"10.1.0.0/16", 1320}, {"fd00:1::/64", 1300}})).ok());
  auto& rules = *tables_->mangle_v4.contents.Find(kLegacyClampChain);
  const xt_counters from{3, 180};
  const xt_counters to{2, 120};
  std::memcpy(rules[0].entry.data() + offsetof(ipt_entry, counters), &from, sizeof(from));
  std::memcpy(rules[1].entry.data() + offsetof(ipt_entry, counters), &to, sizeof(to));

  auto state = backend_->Inspect();
  ASSERT_TRUE(state.ok()) << state.error().Message();
  ASSERT_EQ(state->clamps.size(), 2u);
  EXPECT_EQ(state->clamps[0].network, C("10.1.0.0/16"));
  EXPECT_EQ(state->clamps[0].mss, 1320);
  EXPECT_EQ(state->clamps[0].packets, 5u);
  EXPECT_EQ(state->clamps[0].bytes, 300u);
  EXPECT_EQ(state->clamps[1].network, C("fd00:1::/64"));
  EXPECT_EQ(state->clamps[1].mss, 1300);
  // Mangle rules, ours or not, are no part of the nat census.
  tables_->mangle_v4.contents.Find("FORWARD")->push_back(Other(Family::kIPv4, "MARK"));
  state = backend_->Inspect();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->foreign_nat_rules, 0);
  EXPECT_EQ(state->foreign_masquerade_rules, 0);
  EXPECT_EQ(state->rules.size(), 1u);
}

TEST_F(LegacyBackendTest, InspectLeavesOutHalfInstalledAndUnhookedClamps) {
  ASSERT_TRUE(backend_->Apply(Clamped({{"10.1.0.0/16", 1320}, {"10.2.0.0/24", 1400}})).ok());
  tables_->mangle_v4.contents.Find(kLegacyClampChain)
      ->erase(tables_->mangle_v4.contents.Find(kLegacyClampChain)->begin());  // 10.1 from
  auto state = backend_->Inspect();
  ASSERT_TRUE(state.ok());
  ASSERT_EQ(state->clamps.size(), 1u);
  EXPECT_EQ(state->clamps[0].network, C("10.2.0.0/24"));

  tables_->mangle_v4.contents.Find("FORWARD")->clear();
  state = backend_->Inspect();
  ASSERT_TRUE(state.ok());
  EXPECT_TRUE(state->clamps.empty());

  // Apply repairs both.
  ASSERT_TRUE(backend_->Apply(Clamped({{"10.1.0.0/16", 1320}, {"10.2.0.0/24", 1400}})).ok());
  state = backend_->Inspect();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->clamps.size(), 2u);
}

TEST_F(LegacyBackendTest, RemoveTakesTheClampChainAndJumpToo) {
  ASSERT_TRUE(backend_->Apply(Clamped({{"10.1.0.0/16", 1320}, {"fd00:1::/64", 1300}})).ok());
  tables_->mangle_v4.contents.Find("FORWARD")->push_back(Other(Family::kIPv4, "MARK"));
  ASSERT_TRUE(backend_->Remove().ok());
  for (Family family : {Family::kIPv4, Family::kIPv6}) {
    auto& mangle = tables_->Of(family, LegacyTable::kMangle);
    EXPECT_EQ(mangle.contents.Find(kLegacyClampChain), nullptr);
  }
  EXPECT_THAT(Targets(tables_->mangle_v4, "FORWARD"), ElementsAre("MARK"));
  EXPECT_TRUE(Targets(tables_->mangle_v6, "FORWARD").empty());
  EXPECT_EQ(tables_->v4.contents.Find(kChain), nullptr);
  auto state = backend_->Inspect();
  ASSERT_TRUE(state.ok());
  EXPECT_TRUE(state->clamps.empty());
}

TEST_F(LegacyBackendTest, ClampsChangeTheChangeStamp) {
  ASSERT_TRUE(backend_->Apply(Spec({"10.1.0.0/16"})).ok());
  const auto before = backend_->ChangeStamp();
  ASSERT_TRUE(before.has_value());
  ASSERT_TRUE(backend_->Apply(Clamped({{"10.1.0.0/16", 1320}})).ok());
  const auto clamped = backend_->ChangeStamp();
  EXPECT_NE(clamped, before);
  tables_->mangle_v4.contents.Find(kLegacyClampChain)->clear();
  tables_->mangle_v4.CommitFromOutside(tables_->mangle_v4.contents);
  EXPECT_NE(backend_->ChangeStamp(), clamped);
}

TEST_F(LegacyBackendTest, RejectsABadClampBeforeTouchingAnything) {
  auto applied = backend_->Apply(Clamped({{"10.1.0.0/16", 0}}));
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.error().kind, ErrorKind::kBadInput);
  EXPECT_EQ(tables_->v4.opens + tables_->mangle_v4.opens, 0);
}

TEST(NatTableErrorTest, MangleFailuresNameTheClampModules) {
  const Error missing =
      NatTableError(Family::kIPv6, LegacyTable::kMangle, "committing the clamps", ENOENT);
  EXPECT_EQ(missing.kind, ErrorKind::kEnvironment);
  EXPECT_THAT(missing.Message(), HasSubstr("ip6table_mangle"));
  EXPECT_THAT(missing.Message(), HasSubstr("xt_TCPMSS"));
  const Error denied = NatTableError(Family::kIPv4, LegacyTable::kMangle, "reading", EPERM);
  EXPECT_EQ(denied.kind, ErrorKind::kPermission);
  EXPECT_THAT(denied.Message(), HasSubstr("mangle"));
}

TEST(NatTableErrorTest, PermissionAndMissingModulesReadAsSuch) {
  for (int errnum : {EPERM, EACCES}) {
    const Error error = NatTableError(Family::kIPv4, "reading the IPv4 nat table", errnum);
    EXPECT_EQ(error.kind, ErrorKind::kPermission);
    EXPECT_THAT(error.Message(), HasSubstr("CAP_NET_ADMIN"));
  }
  const Error no_table = NatTableError(Family::kIPv4, "reading", ENOENT);
  EXPECT_EQ(no_table.kind, ErrorKind::kEnvironment);
  EXPECT_THAT(no_table.Message(), HasSubstr("iptable_nat"));
  const Error no_ip6_tables = NatTableError(Family::kIPv6, "reading", ENOPROTOOPT);
  EXPECT_THAT(no_ip6_tables.Message(), HasSubstr("ip6_tables"));
  EXPECT_EQ(NatTableError(Family::kIPv4, "committing", EAGAIN).errnum, EAGAIN);
}

TEST(MakeLegacyBackendTest, ValidatesOptions) {
  auto negative = MakeLegacyBackend(LegacyOptions{"/tmp/x.lock", std::chrono::milliseconds(-1), 3});
  ASSERT_FALSE(negative.ok());
  EXPECT_EQ(negative.error().kind, ErrorKind::kBadInput);
  EXPECT_FALSE(
      MakeLegacyBackend(LegacyOptions{"/tmp/x.lock", std::chrono::milliseconds(1), 0}).ok());
  auto made = MakeLegacyBackend();
  ASSERT_TRUE(made.ok());
  EXPECT_EQ((*made)->kind(), BackendKind::kLegacy);
}

}  // namespace
}  // namespace dind::rules::legacy
