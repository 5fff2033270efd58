// SPDX-License-Identifier: Apache-2.0
// The path-MTU search against simulated paths: which sizes it tries and what it concludes.
#include "daemon/egress/mtu_search.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <vector>

namespace dind::egress {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Kind = MtuVerdict::Kind;

// A path with `mtu`: larger packets are dropped at a router that reports "fragmentation
// needed" when `reports` is set, and vanish otherwise. `answers`: the target answers at all.
struct SimulatedPath {
  Mtu mtu = 1500;
  bool reports = false;
  bool answers = true;
  Mtu reported_mtu = 0;  // what the router says; `mtu` when 0

  EchoResult Echo(Mtu size) const {
    if (!answers) return {EchoResult::Kind::kLost, 0};
    if (size <= mtu) return {EchoResult::Kind::kReplied, 0};
    if (reports) return {EchoResult::Kind::kFragmentationNeeded, reported_mtu ? reported_mtu : mtu};
    return {EchoResult::Kind::kLost, 0};
  }
};

struct SearchRun {
  MtuVerdict verdict;
  std::vector<Mtu> sizes;  // every echo sent, in order
};

SearchRun Search(MtuSearchConfig config, const std::function<EchoResult(Mtu)>& path) {
  MtuSearch search(config);
  SearchRun run;
  while (auto size = search.NextSize()) {
    run.sizes.push_back(*size);
    search.Record(*size, path(*size));
    if (run.sizes.size() > 200) break;  // a runaway search fails the test below
  }
  EXPECT_LE(static_cast<int>(run.sizes.size()), search.MaxEchoes());
  run.verdict = search.Verdict();
  return run;
}

SearchRun Search(MtuSearchConfig config, const SimulatedPath& path) {
  return Search(config, [&](Mtu size) { return path.Echo(size); });
}

TEST(MtuSearchTest, FullSizeThroughIsOneEcho) {
  const SearchRun run = Search({1500, 576, 2}, SimulatedPath{1500});
  EXPECT_EQ(run.verdict.kind, Kind::kFits);
  EXPECT_EQ(run.verdict.path_mtu, 1500u);
  EXPECT_THAT(run.sizes, ElementsAre(1500u));
}

TEST(MtuSearchTest, BlackHoleFindsTheExactPathMtu) {
  const SearchRun run = Search({1500, 576, 2}, SimulatedPath{1400, false});
  EXPECT_EQ(run.verdict.kind, Kind::kBlackHole);
  EXPECT_EQ(run.verdict.path_mtu, 1400u);
  EXPECT_EQ(run.verdict.docker_mtu, 1500u);
  EXPECT_EQ(run.verdict.reported_mtu, 0u);
  // The docker MTU and the floor first; every lost size was tried twice.
  ASSERT_GE(run.sizes.size(), 4u);
  EXPECT_EQ(run.sizes[0], 1500u);
  EXPECT_EQ(run.sizes[1], 1500u);
  EXPECT_EQ(run.sizes[2], 576u);
}

TEST(MtuSearchTest, BlackHoleAtOddSizes) {
  for (Mtu mtu : {577u, 1000u, 1279u, 1450u, 1499u}) {
    const SearchRun run = Search({1500, 576, 1}, SimulatedPath{mtu, false});
    EXPECT_EQ(run.verdict.kind, Kind::kBlackHole) << mtu;
    EXPECT_EQ(run.verdict.path_mtu, mtu);
  }
}

TEST(MtuSearchTest, ReportedMtuIsConfirmedWithOneEcho) {
  const SearchRun run = Search({1500, 576, 2}, SimulatedPath{1400, true});
  EXPECT_EQ(run.verdict.kind, Kind::kDiscoveryWorks);
  EXPECT_EQ(run.verdict.path_mtu, 1400u);
  EXPECT_EQ(run.verdict.reported_mtu, 1400u);
  // A router's answer is not retried.
  EXPECT_THAT(run.sizes, ElementsAre(1500u, 576u, 1400u));
}

TEST(MtuSearchTest, ReportedMtuThatVanishesFurtherOnIsStillABlackHole) {
  // The first router reports 1450, a later one silently drops anything over 1400.
  const auto path = [](Mtu size) -> EchoResult {
    if (size <= 1400) return {EchoResult::Kind::kReplied, 0};
    if (size > 1450) return {EchoResult::Kind::kFragmentationNeeded, 1450};
    return {EchoResult::Kind::kLost, 0};
  };
  const SearchRun run = Search({1500, 576, 2}, path);
  EXPECT_EQ(run.verdict.kind, Kind::kBlackHole);
  EXPECT_EQ(run.verdict.path_mtu, 1400u);
  EXPECT_EQ(run.verdict.reported_mtu, 1450u);
}

TEST(MtuSearchTest, TargetThatNeverAnswersIsUnanswered) {
  const SearchRun run = Search({1500, 576, 2}, SimulatedPath{1500, false, false});
  EXPECT_EQ(run.verdict.kind, Kind::kUnanswered);
  EXPECT_EQ(run.verdict.path_mtu, 0u);
  EXPECT_THAT(run.sizes, ElementsAre(1500u, 1500u, 576u, 576u));
}

TEST(MtuSearchTest, OneLostEchoIsRetriedNotConcluded) {
  int sent = 0;
  const SearchRun run = Search({1500, 576, 2}, [&](Mtu) -> EchoResult {
    return {++sent == 1 ? EchoResult::Kind::kLost : EchoResult::Kind::kReplied, 0};
  });
  EXPECT_EQ(run.verdict.kind, Kind::kFits);
  EXPECT_THAT(run.sizes, ElementsAre(1500u, 1500u));
}

TEST(MtuSearchTest, NonsenseReportedMtuIsLeftToTheSearch) {
  // A router reporting 68 (below the floor) or more than it was sent says nothing useful.
  for (Mtu reported : {68u, 1600u}) {
    const SearchRun run = Search({1500, 576, 1}, SimulatedPath{1400, true, true, reported});
    EXPECT_EQ(run.verdict.kind, Kind::kBlackHole) << reported;
    EXPECT_EQ(run.verdict.path_mtu, 1400u) << reported;
  }
}

TEST(MtuSearchTest, DockerMtuAtTheFloor) {
  const SearchRun run = Search({576, 576, 1}, SimulatedPath{1500});
  EXPECT_EQ(run.verdict.kind, Kind::kFits);
  const SearchRun silent = Search({500, 576, 1}, SimulatedPath{1500, false, false});
  EXPECT_EQ(silent.verdict.kind, Kind::kUnanswered);
  EXPECT_THAT(silent.sizes, ElementsAre(500u));
}

TEST(MtuSearchTest, RecordsForOtherSizesAreIgnored) {
  MtuSearch search({1500, 576, 1});
  search.Record(1400, {EchoResult::Kind::kReplied, 0});
  EXPECT_EQ(search.NextSize(), 1500u);
}

TEST(DescribeMtuVerdictTest, EachVerdictSaysWhatToDo) {
  const std::string from = "from the docker bridge (probe 172.17.255.254)";
  EXPECT_EQ(DescribeMtuVerdict({Kind::kFits, 1500, 1500, 0, 576}, "10.0.0.5", from),
            "ICMP echo to 10.0.0.5 from the docker bridge (probe 172.17.255.254): 1500-byte "
            "packets with DF set get through (docker MTU 1500)");
  const std::string black_hole =
      DescribeMtuVerdict({Kind::kBlackHole, 1500, 1400, 0, 576}, "10.0.0.5", from);
  EXPECT_THAT(black_hole, HasSubstr("MTU black hole"));
  EXPECT_THAT(black_hole, HasSubstr("the largest that gets through is 1400 bytes"));
  EXPECT_THAT(black_hole, HasSubstr("dind-netcfg init --mtu 1400"));
  EXPECT_THAT(DescribeMtuVerdict({Kind::kBlackHole, 1500, 1400, 1450, 576}, "10.0.0.5", from),
              HasSubstr("a router reported 1450"));
  const std::string works =
      DescribeMtuVerdict({Kind::kDiscoveryWorks, 1500, 1400, 1400, 576}, "10.0.0.5", from);
  EXPECT_THAT(works, HasSubstr("path MTU is 1400, below the docker MTU 1500"));
  EXPECT_THAT(works, HasSubstr("routers report it"));
  const std::string silent =
      DescribeMtuVerdict({Kind::kUnanswered, 1500, 0, 0, 576}, "10.0.0.5", from);
  EXPECT_THAT(silent, HasSubstr("no answer even to 576-byte packets"));
  EXPECT_THAT(silent, HasSubstr("--probe-mtu-target"));
}

TEST(DescribeMtuVerdictTest, Ipv6SpeaksOfIcmpv6AndPacketTooBig) {
  const std::string from = "from the docker bridge (probe fd00:db8:1::ffff)";
  EXPECT_EQ(
      DescribeMtuVerdict({Kind::kFits, 1500, 1500, 0, 1280}, "2001:db8::5", from, Family::kIPv6),
      "ICMPv6 echo to 2001:db8::5 from the docker bridge (probe fd00:db8:1::ffff): "
      "1500-byte IPv6 packets get through (docker MTU 1500)");
  const std::string black_hole = DescribeMtuVerdict({Kind::kBlackHole, 1500, 1400, 0, 1280},
                                                    "2001:db8::5", from, Family::kIPv6);
  EXPECT_THAT(black_hole, HasSubstr("MTU black hole: 1500-byte IPv6 packets vanish without an "
                                    "ICMPv6 Packet Too Big; the largest that gets through is "
                                    "1400 bytes"));
  EXPECT_THAT(black_hole, HasSubstr("Packet Too Big must never be filtered"));
  EXPECT_THAT(DescribeMtuVerdict({Kind::kDiscoveryWorks, 1500, 1400, 1400, 1280}, "2001:db8::5",
                                 from, Family::kIPv6),
              HasSubstr("routers report it (ICMPv6 Packet Too Big arrives)"));
  EXPECT_THAT(
      DescribeMtuVerdict({Kind::kUnanswered, 1500, 0, 0, 1280}, "2001:db8::5", from, Family::kIPv6),
      HasSubstr("no answer even to 1280-byte packets"));
}

TEST(MtuSearchTest, Ipv6FloorIsItsMinimumMtu) {
  MtuSearch search({1500, kIpv6MtuFloor, 1});
  search.Record(1500, {EchoResult::Kind::kLost, 0});
  EXPECT_EQ(search.NextSize(), 1280u) << "IPv6 links carry 1280 bytes, never less";
  search.Record(1280, {EchoResult::Kind::kReplied, 0});
  EXPECT_EQ(search.NextSize(), 1390u);
}

}  // namespace
}  // namespace dind::egress
