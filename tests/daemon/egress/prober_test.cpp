// SPDX-License-Identifier: Apache-2.0
// The scheduler with a fake attachment and fake probes on a real io_context: rounds, timeouts,
// the in-flight bound, the "no bridge yet" state, readiness and stopping.
#include "daemon/egress/prober.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <stdexcept>

#include "tests/mocks/fake_prober.h"

namespace dind::egress {
namespace {

namespace asio = boost::asio;
using dind::testing::Behaviour;
using dind::testing::Docker0DualStackVantage;
using dind::testing::Docker0Vantage;
using dind::testing::FakeAttachment;
using dind::testing::FakeFactory;
using std::chrono::milliseconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

IpAddress Ip(const char* text) {
  return IpAddress::Parse(text).value();
}

ProbeTarget Tcp(const char* host, std::uint16_t port = 443) {
  return {ProbeKind::kTcpConnect, host, port, "test"};
}

struct Harness {
  asio::io_context io;
  FakeAttachment attachment;
  FakeFactory factory{io};
  std::vector<ProberStatus> rounds;
  std::size_t stop_after = 1;

  std::unique_ptr<Prober> Make(std::vector<ProbeTarget> targets, ProberConfig config = {}) {
    return std::make_unique<Prober>(io, config, std::move(targets), attachment, factory,
                                    [this](const ProberStatus& status) {
                                      rounds.push_back(status);
                                      if (rounds.size() >= stop_after) io.stop();
                                    });
  }
  void Run() { io.run_for(std::chrono::seconds(20)); }
};

TEST(ProberTest, OneRoundKeepsAResultPerTargetInOrder) {
  Harness h;
  h.factory.behaviours["tcp 10.0.0.2:443"].delay = milliseconds(20);
  auto prober = h.Make({Tcp("10.0.0.1"), Tcp("10.0.0.2"), Tcp("10.0.0.3")});
  prober->Start();
  h.Run();
  ASSERT_EQ(h.rounds.size(), 1u);
  const ProberStatus& status = h.rounds[0];
  EXPECT_EQ(status.attachment, AttachStatus::State::kAttached);
  ASSERT_TRUE(status.vantage);
  EXPECT_EQ(status.vantage->address, Ip("172.17.255.254"));
  EXPECT_FALSE(status.vantage->netns) << "the status does not hold the namespace";
  ASSERT_EQ(status.results.size(), 3u);
  EXPECT_EQ(status.results[0].target.host, "10.0.0.1");
  EXPECT_EQ(status.results[1].target.host, "10.0.0.2");
  EXPECT_EQ(status.results[2].target.host, "10.0.0.3");
  EXPECT_EQ(status.results[1].outcome, Outcome::kPassed);
  EXPECT_EQ(status.results[1].detail,
            "TCP connect to 10.0.0.2:443 from the docker bridge (probe 172.17.255.254) passed");
  EXPECT_GE(status.results[1].latency, milliseconds(20));
  EXPECT_EQ(status.rounds, 1u);
  EXPECT_EQ(status.rounds_since_attach, 1u);
  EXPECT_EQ(EgressNotReadyReason(status), std::nullopt);
}

TEST(ProberTest, SettlingAttachmentIsPolledNotProbed) {
  Harness h;
  h.attachment.settling = 3;
  ProberConfig config;
  config.settle_poll = milliseconds(5);
  auto prober = h.Make({Tcp("10.0.0.1")}, config);
  prober->Start();
  h.Run();
  ASSERT_EQ(h.rounds.size(), 1u) << "settling polls are not rounds";
  EXPECT_EQ(h.attachment.ensured, 4);
  EXPECT_EQ(h.rounds[0].attachment, AttachStatus::State::kAttached);
  EXPECT_EQ(h.rounds[0].rounds, 1u);
  EXPECT_EQ(h.factory.counters.made, 1);
}

TEST(ProberTest, TimeoutIsAFailureThatSaysWhatAndWhere) {
  Harness h;
  Behaviour& hang = h.factory.behaviours["tcp 10.96.0.1:443"];
  hang.never_finishes = true;
  hang.timeout = milliseconds(100);
  auto prober = h.Make({Tcp("10.96.0.1")});
  prober->Start();
  h.Run();
  ASSERT_EQ(h.rounds.size(), 1u);
  const TargetResult& result = h.rounds[0].results.at(0);
  EXPECT_EQ(result.outcome, Outcome::kFailed);
  EXPECT_EQ(result.detail,
            "TCP connect to 10.96.0.1:443 from the docker bridge (probe 172.17.255.254) timed "
            "out after 100ms; the fake never answers");
  EXPECT_EQ(result.latency, milliseconds(100));
  EXPECT_EQ(h.factory.counters.cancelled, 1) << "the timed-out probe was cancelled";
  EXPECT_EQ(EgressNotReadyReason(h.rounds[0]), result.detail);
}

TEST(ProberTest, NeverMoreThanMaxInFlight) {
  Harness h;
  std::vector<ProbeTarget> targets;
  for (int i = 1; i <= 7; ++i) {
    targets.push_back(Tcp(("10.0.0." + std::to_string(i)).c_str()));
    h.factory.behaviours[targets.back().Key()].delay = milliseconds(10 + i);
  }
  ProberConfig config;
  config.max_in_flight = 2;
  auto prober = h.Make(targets, config);
  prober->Start();
  h.Run();
  ASSERT_EQ(h.rounds.size(), 1u);
  EXPECT_EQ(h.rounds[0].results.size(), 7u);
  EXPECT_EQ(h.factory.counters.made, 7);
  EXPECT_EQ(h.factory.counters.most_running, 2);
}

TEST(ProberTest, NoBridgeYetIsItsOwnStateWithAPlainReason) {
  Harness h;
  h.attachment.next = {AttachStatus::State::kNoBridge,
                       "no docker bridge docker0 yet: dockerd still starting?", std::nullopt};
  auto prober = h.Make({Tcp("10.96.0.1")});
  prober->Start();
  h.Run();
  ASSERT_EQ(h.rounds.size(), 1u);
  EXPECT_EQ(h.rounds[0].attachment, AttachStatus::State::kNoBridge);
  EXPECT_TRUE(h.rounds[0].results.empty());
  EXPECT_EQ(h.factory.counters.made, 0);
  EXPECT_EQ(EgressNotReadyReason(h.rounds[0]),
            "no docker bridge docker0 yet: dockerd still starting?");
}

TEST(ProberTest, ProbeThatCannotStartIsAFailedResult) {
  Harness h;
  h.factory.behaviours["tcp 10.96.0.1:443"].make_error = "raw socket refused; grant CAP_NET_RAW";
  auto prober = h.Make({Tcp("10.96.0.1"), Tcp("10.0.0.9")});
  prober->Start();
  h.Run();
  ASSERT_EQ(h.rounds.size(), 1u);
  ASSERT_EQ(h.rounds[0].results.size(), 2u);
  EXPECT_EQ(h.rounds[0].results[0].outcome, Outcome::kFailed);
  EXPECT_EQ(h.rounds[0].results[0].detail, "raw socket refused; grant CAP_NET_RAW");
  EXPECT_EQ(h.rounds[0].results[1].outcome, Outcome::kPassed);
}

TEST(ProberTest, RoundsAreAtLeastTheIntervalApart) {
  Harness h;
  h.stop_after = 3;
  std::vector<std::chrono::steady_clock::time_point> ends;
  ProberConfig config;
  config.interval = milliseconds(40);
  config.jitter = milliseconds(0);
  auto prober = std::make_unique<Prober>(h.io, config, std::vector{Tcp("10.0.0.1")}, h.attachment,
                                         h.factory, [&](const ProberStatus&) {
                                           ends.push_back(std::chrono::steady_clock::now());
                                           if (ends.size() >= 3) h.io.stop();
                                         });
  prober->Start();
  h.Run();
  ASSERT_EQ(ends.size(), 3u);
  EXPECT_GE(ends[1] - ends[0], milliseconds(40));
  EXPECT_GE(ends[2] - ends[1], milliseconds(40));
  EXPECT_EQ(h.attachment.ensured, 3) << "every round checks the attachment";
}

TEST(ProberTest, ProbeSoonDuringARoundRunsAnotherRightAfter) {
  Harness h;
  h.stop_after = 2;
  ProberConfig config;
  config.interval = milliseconds(60000);
  std::unique_ptr<Prober> prober;
  prober = std::make_unique<Prober>(h.io, config, std::vector{Tcp("10.0.0.1")}, h.attachment,
                                    h.factory, [&](const ProberStatus& status) {
                                      h.rounds.push_back(status);
                                      if (h.rounds.size() == 1) prober->ProbeSoon();
                                      if (h.rounds.size() >= 2) h.io.stop();
                                    });
  prober->Start();
  const auto started = std::chrono::steady_clock::now();
  h.Run();
  EXPECT_EQ(h.rounds.size(), 2u);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

TEST(ProberTest, ProbeSoonWhileWaitingStartsARoundNow) {
  Harness h;
  ProberConfig config;
  config.interval = milliseconds(60000);
  h.stop_after = 2;
  auto prober = h.Make({Tcp("10.0.0.1")}, config);
  prober->Start();
  asio::steady_timer nudge(h.io);
  nudge.expires_after(milliseconds(50));
  nudge.async_wait([&](const boost::system::error_code&) { prober->ProbeSoon(); });
  const auto started = std::chrono::steady_clock::now();
  h.Run();
  EXPECT_EQ(h.rounds.size(), 2u);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

TEST(ProberTest, StopCancelsProbesAndEndsAllWork) {
  Harness h;
  h.factory.behaviours["tcp 10.0.0.1:443"].never_finishes = true;
  auto prober = h.Make({Tcp("10.0.0.1")});
  prober->Start();
  asio::steady_timer stop(h.io);
  stop.expires_after(milliseconds(30));
  stop.async_wait([&](const boost::system::error_code&) { prober->Stop(); });
  const auto started = std::chrono::steady_clock::now();
  h.io.run();  // returns only when no work is left
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(1));
  EXPECT_TRUE(h.rounds.empty());
  EXPECT_EQ(h.factory.counters.cancelled, 1);
  EXPECT_EQ(h.factory.counters.running, 0);
}

TEST(ProberTest, DestroyingTheProberMidRoundIsSafe) {
  Harness h;
  h.factory.behaviours["tcp 10.0.0.1:443"].delay = milliseconds(50);
  auto prober = h.Make({Tcp("10.0.0.1")});
  prober->Start();
  asio::steady_timer destroy(h.io);
  destroy.expires_after(milliseconds(10));
  destroy.async_wait([&](const boost::system::error_code&) { prober.reset(); });
  h.io.run();
  EXPECT_TRUE(h.rounds.empty());
}

TEST(ProberTest, ThrowingCallbackDoesNotEscapeIntoTheLoop) {
  Harness h;
  int calls = 0;
  ProberConfig config;
  config.interval = milliseconds(5);
  config.jitter = milliseconds(0);
  auto prober = std::make_unique<Prober>(h.io, config, std::vector{Tcp("10.0.0.1")}, h.attachment,
                                         h.factory, [&](const ProberStatus&) {
                                           if (++calls >= 2) h.io.stop();
                                           throw std::runtime_error("metrics exploded");
                                         });
  prober->Start();
  EXPECT_NO_THROW(h.Run());
  EXPECT_EQ(calls, 2) << "the next round still came";
}

TEST(ProberTest, NewAttachmentStartsCountingAgain) {
  Harness h;
  h.stop_after = 2;
  ProberConfig config;
  config.interval = milliseconds(5);
  config.jitter = milliseconds(0);
  std::unique_ptr<Prober> prober;
  prober = std::make_unique<Prober>(h.io, config, std::vector{Tcp("10.0.0.1")}, h.attachment,
                                    h.factory, [&](const ProberStatus& status) {
                                      h.rounds.push_back(status);
                                      h.attachment.next.vantage = Docker0Vantage(9);  // remade
                                      if (h.rounds.size() >= 2) h.io.stop();
                                    });
  prober->Start();
  h.Run();
  ASSERT_EQ(h.rounds.size(), 2u);
  EXPECT_EQ(h.rounds[1].rounds, 2u);
  EXPECT_EQ(h.rounds[1].rounds_since_attach, 1u);
  EXPECT_EQ(h.rounds[1].vantage->bridge.index, 9);
}

TEST(ProberTest, Ipv6TargetsRunFromADualStackBridgeAndSayTheirFamily) {
  Harness h;
  h.attachment.next.vantage = Docker0DualStackVantage();
  auto prober = h.Make({Tcp("10.0.0.1"), Tcp("2001:db8::1")});
  prober->Start();
  h.Run();
  ASSERT_EQ(h.rounds.size(), 1u);
  const auto& results = h.rounds[0].results;
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].family, Family::kIPv4);
  EXPECT_EQ(results[1].family, Family::kIPv6);
  EXPECT_EQ(results[1].outcome, Outcome::kPassed);
  EXPECT_EQ(results[1].detail,
            "TCP connect to [2001:db8::1]:443 from the docker bridge (probe "
            "fd00:db8:1:0:ffff:ffff:ffff:ffff) passed");
  EXPECT_EQ(h.factory.counters.made, 2);
  EXPECT_EQ(EgressNotReadyReason(h.rounds[0], Family::kIPv6), std::nullopt);
}

TEST(ProberTest, Ipv6TargetWithoutIpv6OnTheBridgeFailsSayingHowToFixIt) {
  Harness h;  // docker0 with IPv4 only
  ProbeTarget skippable = Tcp("fd00:10:96::1");
  skippable.skip_without_family = true;
  auto prober = h.Make({Tcp("10.0.0.1"), Tcp("2001:db8::1"), skippable});
  prober->Start();
  h.Run();
  ASSERT_EQ(h.rounds.size(), 1u);
  const auto& results = h.rounds[0].results;
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(h.factory.counters.made, 1) << "no probe is made for a family the bridge lacks";
  EXPECT_EQ(results[1].outcome, Outcome::kFailed);
  EXPECT_EQ(results[1].family, Family::kIPv6);
  EXPECT_THAT(results[1].detail,
              HasSubstr("TCP connect to [2001:db8::1]:443 from the docker bridge (probe "
                        "172.17.255.254) cannot run: docker bridge docker0 has no IPv6 address"));
  EXPECT_THAT(results[1].detail, HasSubstr("dind-netcfg init --ipv6 on"));
  EXPECT_THAT(results[1].detail, HasSubstr("\"fixed-cidr-v6\""));
  EXPECT_EQ(results[2].outcome, Outcome::kInconclusive) << "a default target is skipped";
  EXPECT_THAT(results[2].detail, HasSubstr("not counted as a failure"));

  EXPECT_EQ(EgressNotReadyReason(h.rounds[0], Family::kIPv4), std::nullopt);
  EXPECT_THAT(EgressNotReadyReason(h.rounds[0], Family::kIPv6),
              ::testing::Optional(HasSubstr("has no IPv6 address")));
  EXPECT_THAT(EgressNotReadyReason(h.rounds[0]),
              ::testing::Optional(HasSubstr("has no IPv6 address")));
}

TEST(FamilyUnavailableTest, OnlyForAFamilyTheVantageLacks) {
  const Vantage v4 = Docker0Vantage();
  const Vantage dual = Docker0DualStackVantage();
  const ProbeTarget mtu6{ProbeKind::kPathMtu, "2001:db8::5", 0, "test"};
  EXPECT_EQ(FamilyUnavailable(Tcp("10.0.0.1"), v4), std::nullopt);
  EXPECT_EQ(FamilyUnavailable(mtu6, dual), std::nullopt);
  const auto report = FamilyUnavailable(mtu6, v4);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->outcome, Outcome::kFailed);
  EXPECT_EQ(report->family, Family::kIPv6);
  EXPECT_THAT(report->detail, HasSubstr("ICMPv6 echo to 2001:db8::5 from the docker bridge"));
}

TEST(EgressNotReadyReasonTest, PerFamilyIgnoresTheOtherAndWantsAResult) {
  ProberStatus status;
  status.attachment = AttachStatus::State::kAttached;
  status.rounds_since_attach = 1;
  TargetResult v4{Tcp("10.0.0.1"), Outcome::kFailed, "v4 failure", {}, {}, {}};
  TargetResult v6{Tcp("2001:db8::1"), Outcome::kPassed, "v6 ok", {}, {}, {}, Family::kIPv6};
  status.results = {v4, v6};
  EXPECT_EQ(EgressNotReadyReason(status, Family::kIPv6), std::nullopt);
  EXPECT_EQ(EgressNotReadyReason(status, Family::kIPv4), "v4 failure");
  status.results = {v6};
  EXPECT_THAT(EgressNotReadyReason(status, Family::kIPv4),
              ::testing::Optional(HasSubstr("no IPv4 egress probe target")));
}

TEST(EgressNotReadyReasonTest, InconclusiveIsNotAFailure) {
  ProberStatus status;
  status.attachment = AttachStatus::State::kAttached;
  status.rounds_since_attach = 1;
  status.results.push_back({Tcp("10.0.0.1"), Outcome::kInconclusive, "no ping", {}, {}, {}});
  EXPECT_EQ(EgressNotReadyReason(status), std::nullopt);
}

TEST(EgressNotReadyReasonTest, FirstFailureAndHowManyMore) {
  ProberStatus status;
  status.attachment = AttachStatus::State::kAttached;
  status.rounds_since_attach = 3;
  status.results.push_back({Tcp("10.0.0.1"), Outcome::kPassed, "ok", {}, {}, {}});
  status.results.push_back({Tcp("10.0.0.2"), Outcome::kFailed, "first failure", {}, {}, {}});
  status.results.push_back({Tcp("10.0.0.3"), Outcome::kFailed, "second failure", {}, {}, {}});
  EXPECT_EQ(EgressNotReadyReason(status), "first failure (and 1 more failing)");
}

TEST(EgressNotReadyReasonTest, AttachedButNoRoundYet) {
  ProberStatus status;
  status.attachment = AttachStatus::State::kAttached;
  EXPECT_THAT(EgressNotReadyReason(status), ::testing::Optional(HasSubstr("not finished a round")));
  status.attachment = AttachStatus::State::kFailed;
  status.attachment_reason = "egress probe: attaching to docker bridge docker0: EPERM";
  EXPECT_EQ(EgressNotReadyReason(status), status.attachment_reason);
}

TEST(NextRoundDelayTest, JitterSpansBothSidesAndNeverGoesNegative) {
  EXPECT_EQ(NextRoundDelay(milliseconds(10000), milliseconds(1000), 0.0), milliseconds(9000));
  EXPECT_EQ(NextRoundDelay(milliseconds(10000), milliseconds(1000), 0.5), milliseconds(10000));
  EXPECT_EQ(NextRoundDelay(milliseconds(10000), milliseconds(1000), 0.75), milliseconds(10500));
  EXPECT_EQ(NextRoundDelay(milliseconds(100), milliseconds(1000), 0.0), milliseconds(0));
  EXPECT_EQ(NextRoundDelay(milliseconds(10000), milliseconds(0), 0.9), milliseconds(10000));
}

TEST(FormatDurationTest, SecondsWhenWholeElseDecimals) {
  EXPECT_EQ(FormatDuration(milliseconds(2000)), "2s");
  EXPECT_EQ(FormatDuration(milliseconds(1500)), "1.5s");
  EXPECT_EQ(FormatDuration(milliseconds(12250)), "12.25s");
  EXPECT_EQ(FormatDuration(milliseconds(1001)), "1.001s");
  EXPECT_EQ(FormatDuration(milliseconds(500)), "500ms");
  EXPECT_EQ(FormatDuration(milliseconds(0)), "0ms");
}

}  // namespace
}  // namespace dind::egress
