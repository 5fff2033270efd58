// SPDX-License-Identifier: Apache-2.0
// The sidecar's event wiring on a real io_context, every port a fake: kernel notifications are
// bytes written to a pipe, dockerd is scripted, the probes stand on a fake attachment, the rules
// live in memory and daemon.json in a temporary directory.
#include "daemon/sidecar/sidecar.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "daemon/doctor/dns_check.h"
#include "daemon/sidecar/status_json.h"
#include "tests/mocks/docker_networks.h"
#include "tests/mocks/fake_backend.h"
#include "tests/mocks/fake_detector.h"
#include "tests/mocks/fake_netlink_reader.h"
#include "tests/mocks/fake_pod_sysctls.h"
#include "tests/mocks/fake_prober.h"
#include "tests/mocks/fake_sidecar_ports.h"
#include "tests/mocks/temp_dir.h"

namespace dind::sidecar {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Json = netcfg::OrderedJson;

using testing::BridgeNetwork;
using testing::DecisionFor;
using testing::FakeAttachment;
using testing::FakeBackend;
using testing::FakeChangeFeed;
using testing::FakeDetector;
using testing::FakeDockerFeed;
using testing::FakeFactory;
using testing::FakeNetlinkReader;
using testing::FakePodSysctls;
using testing::ReadTestFile;
using testing::TempDir;

constexpr milliseconds kSettle{40};

class SidecarTest : public ::testing::Test {
 protected:
  SidecarTest() {
    options_.listen = *http::ParseListenAddress("127.0.0.1:0");
    options_.network_settle = kSettle;
    options_.poll_interval = milliseconds(10);
    EgressOptions egress;
    egress.targets = {{egress::ProbeKind::kTcpConnect, "192.0.2.10", 443, "test"}};
    // Rounds come only from the start and from events within a test's time.
    egress.prober.interval = std::chrono::minutes(10);
    egress.prober.jitter = milliseconds(0);
    options_.egress = egress;
  }

  // Starts the reconciler, then the sidecar on ports whose fakes the test keeps pointers to.
  void Start(bool with_rule_feed = true, bool with_docker = true) {
    ASSERT_TRUE(reconciler_.Start().ok());
    SidecarPorts ports;
    ports.network_changes = std::make_unique<FakeChangeFeed>();
    network_ = static_cast<FakeChangeFeed*>(ports.network_changes.get());
    if (with_rule_feed) {
      ports.rule_changes = std::make_unique<FakeChangeFeed>();
      rule_changes_ = static_cast<FakeChangeFeed*>(ports.rule_changes.get());
    }
    if (with_docker) {
      ports.docker = std::make_unique<FakeDockerFeed>(io_);
      docker_ = static_cast<FakeDockerFeed*>(ports.docker.get());
    }
    ports.probe_attachment = std::make_unique<FakeAttachment>();
    attachment_ = static_cast<FakeAttachment*>(ports.probe_attachment.get());
    auto factory = std::make_unique<FakeFactory>(io_);
    factory->behaviours = behaviours_;
    factory_ = factory.get();
    ports.probe_factory = std::move(factory);
    sidecar_.emplace(io_, reconciler_, options_, std::move(ports),
                     [this](const http::Readiness& readiness) { published_.push_back(readiness); });
    ASSERT_TRUE(sidecar_->Start().ok());
    ASSERT_TRUE(RunUntil([this] { return Rounds() >= 1; })) << "the first probe round";
  }

  // Runs the loop until `done` holds (true) or a generous deadline passes (false).
  bool RunUntil(const std::function<bool()>& done, milliseconds deadline = milliseconds(5000)) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (!done()) {
      if (std::chrono::steady_clock::now() > until) return false;
      io_.restart();
      io_.run_for(milliseconds(2));
    }
    return true;
  }
  // Runs the loop for `span`, for checks that something did NOT happen.
  void RunFor(milliseconds span) {
    io_.restart();
    io_.run_for(span);
  }
  std::uint64_t Rounds() const { return sidecar_->Egress()->rounds; }
  Json DaemonJson() const { return Json::parse(ReadTestFile(path_)); }

  TempDir dir_;
  std::string path_ = dir_ / "daemon.json";
  FakeDetector detector_;
  FakePodSysctls sysctls_;
  pod::ChosenBackend chosen_{std::make_unique<FakeBackend>(),
                             DecisionFor(rules::BackendKind::kNft)};
  FakeBackend& backend_ = static_cast<FakeBackend&>(*chosen_.backend);
  // The pod's links as the kernel shows them: no bridge until a test adds one.
  FakeNetlinkReader netlink_{netcfg::NetworkSnapshot{}};
  Reconciler reconciler_{path_, detector_, sysctls_, &chosen_, &netlink_};
  SidecarOptions options_;
  asio::io_context io_;
  std::optional<Sidecar> sidecar_;
  std::vector<http::Readiness> published_;

  FakeChangeFeed* network_ = nullptr;
  FakeChangeFeed* rule_changes_ = nullptr;
  FakeDockerFeed* docker_ = nullptr;
  FakeAttachment* attachment_ = nullptr;
  FakeFactory* factory_ = nullptr;
  std::map<std::string, testing::Behaviour> behaviours_;  // the factory's, by target key
};

TEST_F(SidecarTest, StartsReadyWhenTheRulesAreInPlaceAndTheProbesPass) {
  Start();
  EXPECT_TRUE(sidecar_->Readiness().ready) << sidecar_->Readiness().reason;
  ASSERT_FALSE(published_.empty());
  EXPECT_TRUE(published_.back().ready);
  EXPECT_NE(sidecar_->endpoint_port(), 0);
  // The probe's veth takes the MTU nested containers get, not the bridge's.
  EXPECT_EQ(attachment_->docker_mtu, 1450u);
}

TEST_F(SidecarTest, TheFirstNetworkChangeIsHandledAtOnceAndTheBurstAfterItOnceBySettle) {
  // A quiet period that never passes here: what follows the first change waits for the settle
  // bound, long enough that the burst below (~10 ms) ends well inside it on a loaded machine.
  options_.network_quiet = std::chrono::hours(1);
  const milliseconds settle(500);
  options_.network_settle = settle;
  Start();
  const int detections = detector_.calls;
  network_->Notify();
  ASSERT_TRUE(RunUntil([&] { return detector_.calls == detections + 1; }))
      << "the first change is handled without waiting for the quiet period";
  for (int i = 0; i < 10; ++i) {
    network_->Notify();
    RunFor(milliseconds(1));
  }
  EXPECT_EQ(detector_.calls, detections + 1) << "the burst after it waits";
  ASSERT_TRUE(RunUntil([&] { return detector_.calls > detections + 1; }));
  RunFor(settle * 2);
  EXPECT_EQ(detector_.calls, detections + 2) << "the whole burst is handled once";
  EXPECT_GE(network_->drains, 3) << "every notification is read, not left queued";
}

TEST_F(SidecarTest, ABurstIsHandledOnceItFallsQuietAndTheNextChangeAtOnce) {
  options_.network_quiet = milliseconds(200);
  options_.network_settle = std::chrono::hours(1);  // only the quiet period ends the wait
  Start();
  const int detections = detector_.calls;
  for (int i = 0; i < 10; ++i) {
    network_->Notify();
    RunFor(milliseconds(1));
  }
  ASSERT_TRUE(RunUntil([&] { return detector_.calls == detections + 2; }))
      << "the first change at once, the rest once they fall quiet";
  RunFor(milliseconds(600));
  EXPECT_EQ(detector_.calls, detections + 2);

  // Quiet again: the next change is handled at once, not after another wait.
  network_->Notify();
  EXPECT_TRUE(RunUntil([&] { return detector_.calls == detections + 3; }));
}

TEST_F(SidecarTest, NotificationsReadWithAnErrorStillCountAsAChange) {
  Start();
  const int detections = detector_.calls;
  network_->fail_with = "netlink: No buffer space available";  // notifications were lost
  network_->Notify();
  EXPECT_TRUE(RunUntil([&] { return detector_.calls > detections; }));
}

TEST_F(SidecarTest, AnMtuChangeRewritesDaemonJsonAndResizesTheProbe) {
  Start();
  const std::uint64_t rounds = Rounds();
  detector_.uplink_mtu = 1400;
  network_->Notify();
  ASSERT_TRUE(RunUntil([&] { return attachment_->docker_mtu == 1400u; }));
  EXPECT_EQ(DaemonJson()["mtu"], 1400);
  EXPECT_TRUE(reconciler_.state().daemon_json.restart_required);
  // And it probes again at once, through the resized veth, instead of at the next interval.
  EXPECT_TRUE(RunUntil([&] { return Rounds() > rounds; }));
}

TEST_F(SidecarTest, TheProbesFollowTheBridgeAsItAppearsAndGoes) {
  Start();
  attachment_->next = {egress::AttachStatus::State::kNoBridge,
                       "no docker bridge docker0 yet: dockerd still starting?", std::nullopt};
  network_->Notify();  // docker0 deleted: dockerd restarting
  ASSERT_TRUE(RunUntil([&] { return !sidecar_->Readiness().ready; }));
  EXPECT_THAT(sidecar_->Readiness().reason, HasSubstr("no docker bridge docker0"));
  EXPECT_FALSE(published_.back().ready);

  attachment_->next = {egress::AttachStatus::State::kAttached, "", testing::Docker0Vantage(7)};
  network_->Notify();  // docker0 made again
  ASSERT_TRUE(RunUntil([&] { return sidecar_->Readiness().ready; }));
  EXPECT_EQ(sidecar_->Egress()->vantage->bridge.index, 7);
  EXPECT_TRUE(published_.back().ready);
}

TEST_F(SidecarTest, AnNftNotificationRepairsTheRulesAtOnce) {
  Start();
  backend_.installed.reset();  // someone ran `nft flush ruleset`
  rule_changes_->Notify();
  ASSERT_TRUE(RunUntil([&] { return backend_.installed.has_value(); }));
  EXPECT_EQ(reconciler_.state().rules.repairs, 1u);
  EXPECT_TRUE(RunUntil([&] { return sidecar_->Readiness().ready; }));
}

TEST_F(SidecarTest, NotificationsAboutOtherTablesAreNotChecked) {
  Start();
  const std::uint64_t checks = reconciler_.state().rules.checks;
  rule_changes_->relevant = false;
  rule_changes_->Notify();
  RunFor(milliseconds(30));
  EXPECT_EQ(rule_changes_->drains, 1);
  EXPECT_EQ(reconciler_.state().rules.checks, checks);
}

TEST_F(SidecarTest, WithoutNotificationsTheRulesArePolled) {
  backend_.stamp = 1;  // ip_tables: a change stamp instead of notifications
  Start(/*with_rule_feed=*/false);
  backend_.installed.reset();  // `iptables -t nat -F` by someone else
  ++*backend_.stamp;
  EXPECT_TRUE(RunUntil([&] { return backend_.installed.has_value(); }));
  EXPECT_EQ(reconciler_.state().rules.repairs, 1u);
}

TEST_F(SidecarTest, DockerNetworksAreListedWhenSubscribedAndOnCreateAndDestroy) {
  Start();
  ASSERT_TRUE(docker_->watching);
  EXPECT_EQ(reconciler_.state().docker.socket, "/run/fake-docker.sock");
  docker_->networks = {BridgeNetwork("bridge", "172.17.0.0/16", 1450, "docker0")};
  docker_->Subscribe();
  ASSERT_TRUE(RunUntil([&] { return reconciler_.state().docker.api_up; }));

  // A CI job makes its own network outside the pools: its containers get masqueraded too.
  docker_->networks.push_back(BridgeNetwork("ci", "10.99.0.0/24", 1450, "br-ci"));
  docker_->Event(docker::NetworkAction::kConnect);  // not a change of the networks
  RunFor(milliseconds(10));
  EXPECT_EQ(docker_->lists, 1);
  docker_->Event(docker::NetworkAction::kCreate);
  ASSERT_TRUE(RunUntil(
      [&] { return backend_.installed && CidrStrings(backend_.installed->sources).size() == 4u; }));
  EXPECT_THAT(CidrStrings(backend_.installed->sources), Contains("10.99.0.0/24"));
  EXPECT_EQ(docker_->lists, 2);
}

TEST_F(SidecarTest, DockerdsFirewallIsReadOnEverySubscription) {
  Start();
  // Docker 29 with its nftables backend, in a pod whose IPv4 forwarding is off.
  docker_->info.firewall_driver = "nftables";
  docker_->info.ipv4_forwarding = false;
  docker_->Subscribe();
  ASSERT_TRUE(RunUntil([&] { return reconciler_.state().docker.firewall.has_value(); }));
  EXPECT_EQ(reconciler_.state().docker.firewall->driver, "nftables");
  ASSERT_EQ(reconciler_.state().docker.firewall->warnings.size(), 1u);
  EXPECT_THAT(reconciler_.state().docker.firewall->warnings[0], HasSubstr("net.ipv4.ip_forward=1"));

  // dockerd restarted with the firewall-backend key removed: the next subscription says so.
  docker_->info.firewall_driver = "iptables";
  docker_->info.ipv4_forwarding = true;
  docker_->Disconnect("dockerd closed the event stream");
  docker_->Subscribe();
  ASSERT_TRUE(RunUntil([&] { return reconciler_.state().docker.firewall->driver == "iptables"; }));
  EXPECT_THAT(reconciler_.state().docker.firewall->warnings, IsEmpty());
  EXPECT_EQ(docker_->info_reads, 2);
  // A dockerd whose /info fails leaves the last report and the API up.
  docker_->info_error = "GET /info: 500";
  docker_->Subscribe();
  RunFor(milliseconds(10));
  EXPECT_EQ(reconciler_.state().docker.firewall->driver, "iptables");
  EXPECT_TRUE(reconciler_.state().docker.api_up);
}

TEST_F(SidecarTest, DockerApiDownIsReportedWhileReadinessAndRepairsGoOn) {
  Start();
  docker_->Subscribe();
  ASSERT_TRUE(RunUntil([&] { return reconciler_.state().docker.api_up; }));
  docker_->Disconnect("docker API /run/fake-docker.sock: connect: Connection refused");
  ASSERT_FALSE(reconciler_.state().docker.api_up);
  EXPECT_THAT(reconciler_.state().docker.error, HasSubstr("Connection refused"));
  // As the README says: dockerd's API only adds networks; the pools stay masqueraded.
  EXPECT_TRUE(sidecar_->Readiness().ready);
  backend_.installed.reset();
  rule_changes_->Notify();
  EXPECT_TRUE(RunUntil([&] { return backend_.installed.has_value(); }));
}

TEST_F(SidecarTest, WhenItRunsDockerdItIsNotReadyUntilTheApiAnswers) {
  options_.docker_api_required = true;  // the entrypoint
  Start();
  EXPECT_FALSE(sidecar_->Readiness().ready);
  EXPECT_THAT(sidecar_->Readiness().reason,
              HasSubstr("docker API /run/fake-docker.sock does not answer yet"));
  docker_->Subscribe();
  ASSERT_TRUE(RunUntil([&] { return sidecar_->Readiness().ready; }));
  docker_->Disconnect("connect: Connection refused");
  EXPECT_THAT(sidecar_->Readiness().reason,
              HasSubstr("does not answer: connect: Connection refused"));
}

TEST_F(SidecarTest, ListingFailingMarksTheApiDown) {
  Start();
  docker_->list_error = "docker API /run/fake-docker.sock: GET /networks timed out after 5s";
  docker_->Subscribe();
  ASSERT_TRUE(RunUntil([&] { return !reconciler_.state().docker.error.empty(); }));
  EXPECT_FALSE(reconciler_.state().docker.api_up);
  EXPECT_THAT(reconciler_.state().docker.error, HasSubstr("timed out"));
}

TEST_F(SidecarTest, StopEndsEveryFeedAndKeepsTheRulesByDefault) {
  Start();
  EXPECT_EQ(sidecar_->Stop(), 0);
  EXPECT_TRUE(docker_->stopped);
  EXPECT_TRUE(backend_.installed.has_value());
  const int detections = detector_.calls;
  network_->Notify();
  rule_changes_->Notify();
  RunFor(kSettle * 3);
  EXPECT_EQ(detector_.calls, detections);
  EXPECT_EQ(rule_changes_->drains, 0);
}

TEST_F(SidecarTest, CleanupOnExitRemovesTheRulesAndSaysWhenItCannot) {
  options_.cleanup_on_exit = true;
  Start();
  backend_.fail_remove = true;
  EXPECT_EQ(sidecar_->Stop(), 1);
  EXPECT_TRUE(backend_.installed.has_value());

  backend_.fail_remove = false;
  sidecar_.reset();
  Sidecar again(io_, reconciler_, options_, SidecarPorts{});
  ASSERT_TRUE(again.Start().ok());
  EXPECT_EQ(again.Stop(), 0);
  EXPECT_FALSE(backend_.installed.has_value());
}

TEST_F(SidecarTest, AnEndpointThatCannotListenFailsTheStart) {
  Start();
  options_.listen.port = sidecar_->endpoint_port();  // taken by the first sidecar
  Sidecar second(io_, reconciler_, options_, SidecarPorts{});
  auto started = second.Start();
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().ExitCode(), 1);
}

// docker0 at 1500 (made before the MTU was fixed) with 172.17.0.1/16, in the kernel's words.
void AddDocker0(netcfg::NetworkSnapshot& snapshot, int index, const std::string& name, Mtu mtu,
                const char* address) {
  snapshot.links.push_back({.index = index, .name = name, .kind = "bridge", .mtu = mtu});
  snapshot.addresses.push_back({index, IpAddress::Parse(address).value(), 16});
}

std::vector<std::string> Clamps(const FakeBackend& backend) {
  std::vector<std::string> out;
  if (!backend.installed) return out;
  for (const auto& clamp : backend.installed->clamps) {
    out.push_back(clamp.network.ToString() + " " + std::to_string(clamp.mss));
  }
  return out;
}

// No Docker API (--docker-socket ""): the bridges come from netlink, one above the safe MTU is
// clamped at start, and a bridge made later is clamped at the network change that shows it.
TEST_F(SidecarTest, WithoutTheDockerApiBridgesComeFromNetlinkAndAreClamped) {
  AddDocker0(netlink_.snapshot, 3, "docker0", 1500, "172.17.0.1");
  Start(/*with_rule_feed=*/true, /*with_docker=*/false);
  EXPECT_EQ(reconciler_.state().docker.networks_from,
            "netlink (docker API not followed: --docker-socket \"\")");
  EXPECT_EQ(Clamps(backend_), (std::vector<std::string>{"172.17.0.0/16 1410"}));

  AddDocker0(netlink_.snapshot, 7, "br-0123456789ab", 1500, "172.30.0.1");
  network_->Notify();
  ASSERT_TRUE(RunUntil([&] { return Clamps(backend_).size() == 2; }));
  EXPECT_EQ(Clamps(backend_).back(), "172.30.0.0/16 1410");
  const Json status = StatusToJson(reconciler_.state(), sidecar_->Egress(), sidecar_->Readiness());
  EXPECT_EQ(status["docker"]["networks_from"],
            "netlink (docker API not followed: --docker-socket \"\")");
  EXPECT_EQ(status["docker"]["mtu_too_high"].size(), 2u);
}

// The socket not mounted: the API fails, the bridges come from netlink; once it answers, its
// networks are the ones followed again.
TEST_F(SidecarTest, WhenTheDockerApiFailsBridgesComeFromNetlinkUntilItAnswers) {
  AddDocker0(netlink_.snapshot, 3, "docker0", 1500, "172.17.0.1");
  Start();
  docker_->Disconnect("docker API /run/fake-docker.sock: connect: No such file or directory");
  EXPECT_EQ(reconciler_.state().docker.networks_from,
            "netlink (docker API unavailable: docker API /run/fake-docker.sock: connect: No such "
            "file or directory)");
  EXPECT_EQ(Clamps(backend_), (std::vector<std::string>{"172.17.0.0/16 1410"}));

  docker_->networks = {BridgeNetwork("bridge", "172.17.0.0/16", 1450, "docker0")};
  docker_->Subscribe();
  ASSERT_TRUE(RunUntil([&] { return reconciler_.state().docker.api_up; }));
  EXPECT_EQ(reconciler_.state().docker.networks_from, "docker API /run/fake-docker.sock");
  EXPECT_THAT(Clamps(backend_), IsEmpty());
}

// The preflight's checks: a fake run that counts its calls and, when told, blocks until
// released, as a round waiting on a hanging dockerd does. Shared, so a thread left running
// after a test outlives nothing it uses.
struct FakePreflight {
  std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>(0);
  std::shared_ptr<std::promise<void>> release = std::make_shared<std::promise<void>>();
  PreflightOptions Options(bool block) {
    std::shared_future<void> released = release->get_future().share();
    PreflightOptions options;
    options.interval = std::chrono::minutes(10);
    options.run = [calls = calls, released, block](doctor::PreflightFeed) {
      ++*calls;
      if (block) released.wait();
      doctor::CheckResult fail{.id = "storage-fs", .status = doctor::CheckStatus::kFail};
      fail.summary = "data-root /var/lib/docker is on overlayfs";
      fail.fix = "an emptyDir volume at the data-root";
      return std::vector<doctor::CheckResult>{fail};
    };
    return options;
  }
};

TEST_F(SidecarTest, PreflightRunsOffTheLoopAgainWhenDockerdAnswersAndNeverDecidesReadiness) {
  FakePreflight preflight;
  options_.preflight = preflight.Options(/*block=*/true);
  // Start waits for the first probe round on the loop while the round blocks on its thread.
  Start();
  ASSERT_TRUE(RunUntil([&] { return *preflight.calls == 1; }));
  EXPECT_TRUE(reconciler_.state().preflight.enabled);
  EXPECT_EQ(reconciler_.state().preflight.rounds, 0u) << "nothing claimed before a round ends";
  network_->Notify();  // the loop still handles events
  ASSERT_TRUE(RunUntil([&] { return reconciler_.state().last_reconcile_at.has_value(); }));
  docker_->Subscribe();  // dockerd answers while the round runs: another round follows it
  RunFor(milliseconds(20));
  EXPECT_EQ(*preflight.calls, 1);
  preflight.release->set_value();
  ASSERT_TRUE(RunUntil([&] { return reconciler_.state().preflight.rounds == 2; }));
  EXPECT_EQ(*preflight.calls, 2);
  const PreflightState& state = reconciler_.state().preflight;
  ASSERT_EQ(state.checks.size(), 1u);
  EXPECT_EQ(state.checks[0].status, doctor::CheckStatus::kFail);
  EXPECT_TRUE(state.ran_at.has_value());
  EXPECT_TRUE(sidecar_->Readiness().ready) << "a failing check does not take the pod out";
  const auto json = StatusToJson(reconciler_.state(), sidecar_->Egress(), sidecar_->Readiness());
  EXPECT_EQ(json["preflight"]["checks"][0]["id"], "storage-fs");
  EXPECT_EQ(json["preflight"]["summary"]["fail"], 1);
}

TEST_F(SidecarTest, TheEntrypointsPreflightSawDockerdAtStartAndRunsAgainWhenItComesBack) {
  options_.docker_api_required = true;  // the entrypoint: dockerd answered before the sidecar
  FakePreflight preflight;
  options_.preflight = preflight.Options(/*block=*/false);
  Start();
  ASSERT_TRUE(RunUntil([&] { return reconciler_.state().preflight.rounds == 1; }));
  docker_->Subscribe();
  RunFor(milliseconds(30));
  EXPECT_EQ(*preflight.calls, 1) << "the first subscription is the dockerd it already saw";
  docker_->Disconnect("dockerd restarted");
  docker_->Subscribe();
  ASSERT_TRUE(RunUntil([&] { return reconciler_.state().preflight.rounds == 2; }));
}

TEST_F(SidecarTest, AfterStopARoundStillRunningHandsNothingOver) {
  FakePreflight preflight;
  options_.preflight = preflight.Options(/*block=*/true);
  Start();
  ASSERT_TRUE(RunUntil([&] { return *preflight.calls == 1; }));
  EXPECT_EQ(sidecar_->Stop(), 0);
  preflight.release->set_value();
  RunFor(milliseconds(30));
  EXPECT_EQ(reconciler_.state().preflight.rounds, 0u);
  sidecar_.reset();  // the round's thread has ended or ends on its own
}

// The preflight's dns-fallback as the real check judges it, for a pod whose resolv.conf (a
// test sets it) decides whether dockerd falls back to 8.8.8.8/8.8.4.4; every feed it was handed
// is kept. Shared with the rounds' threads, under a mutex.
struct DnsFallbackPreflight {
  struct Shared {
    std::mutex mutex;
    std::string resolv_conf = "nameserver 127.0.0.1\n";  // loopback only: the fallback
    std::vector<doctor::PreflightFeed> feeds;
  };
  std::shared_ptr<Shared> shared = std::make_shared<Shared>();
  PreflightOptions Options() {
    PreflightOptions options;
    options.interval = std::chrono::minutes(10);
    options.run = [shared = shared](doctor::PreflightFeed feed) {
      const std::lock_guard lock(shared->mutex);
      doctor::DnsFacts facts;
      facts.pod.etc = shared->resolv_conf;
      facts.dockerd = netcfg::DockerVersion{28, 5, 2};
      facts.fallback_probes = feed.dns_fallback;
      facts.fallback_reachable = doctor::FallbackReachable(feed.dns_fallback);
      shared->feeds.push_back(std::move(feed));
      return doctor::CheckDns(facts);
    };
    return options;
  }
};

const doctor::CheckResult* FindCheck(const SidecarState& state, const std::string& id) {
  for (const auto& check : state.preflight.checks) {
    if (check.id == id) return &check;
  }
  return nullptr;
}

// Where dockerd falls back to the public resolvers, the sidecar asks them from the docker bridge
// and the preflight's next round says whether they answered; their failure never takes the pod
// out of service nor shows among the egress probes (readiness, /status egress, the probe
// metrics and their alerts). Without a fallback they are asked no more.
TEST_F(SidecarTest, TheDnsFallbackIsProbedForThePreflightOnlyAndNeverDecidesReadiness) {
  DnsFallbackPreflight preflight;
  options_.preflight = preflight.Options();
  behaviours_["dns 8.8.8.8:53"].outcome = egress::Outcome::kFailed;
  behaviours_["dns 8.8.4.4:53"].outcome = egress::Outcome::kFailed;
  Start();
  // Round 1 finds the fallback; the fallback's first answers ask for round 2 at once.
  ASSERT_TRUE(RunUntil([&] { return reconciler_.state().preflight.rounds == 2; }));
  const auto* fallback = FindCheck(reconciler_.state(), doctor::kDnsFallbackCheckId);
  ASSERT_NE(fallback, nullptr);
  EXPECT_EQ(fallback->status, doctor::CheckStatus::kFail) << fallback->summary;
  EXPECT_THAT(fallback->summary, HasSubstr("unreachable from the docker bridge"));
  EXPECT_THAT(fallback->source, HasSubstr("egress prober from the docker bridge"));
  {
    const std::lock_guard lock(preflight.shared->mutex);
    ASSERT_EQ(preflight.shared->feeds.size(), 2u);
    EXPECT_THAT(preflight.shared->feeds[0].dns_fallback, IsEmpty()) << "not probed yet";
    const auto& fed = preflight.shared->feeds[1].dns_fallback;
    ASSERT_EQ(fed.size(), 2u);
    EXPECT_EQ(fed[0].server, "8.8.8.8");
    EXPECT_FALSE(fed[0].answered);
    EXPECT_EQ(fed[1].server, "8.8.4.4");
    EXPECT_FALSE(fed[1].answered);
  }
  EXPECT_TRUE(sidecar_->Readiness().ready) << sidecar_->Readiness().reason;
  for (const auto& result : sidecar_->Egress()->results) {
    EXPECT_EQ(result.target.origin, "test") << result.target.Key() << " among the egress probes";
  }
  const auto json = StatusToJson(reconciler_.state(), sidecar_->Egress(), sidecar_->Readiness());
  EXPECT_EQ(json["egress"]["results"].size(), 1u);

  // The pod gets a nameserver (dnsConfig fixed): the next round finds no fallback, and the
  // fallback's prober stops: a network change probes the egress target only.
  {
    const std::lock_guard lock(preflight.shared->mutex);
    preflight.shared->resolv_conf = "nameserver 10.96.0.10\n";
  }
  docker_->Subscribe();  // dockerd answers: a round now
  ASSERT_TRUE(RunUntil([&] { return reconciler_.state().preflight.rounds == 3; }));
  EXPECT_EQ(FindCheck(reconciler_.state(), doctor::kDnsFallbackCheckId)->status,
            doctor::CheckStatus::kOk);
  RunFor(milliseconds(20));
  const int made = factory_->counters.made;
  const std::uint64_t rounds = Rounds();
  network_->Notify();
  ASSERT_TRUE(RunUntil([&] { return Rounds() > rounds; }));
  RunFor(milliseconds(20));
  EXPECT_EQ(factory_->counters.made, made + 1) << "the egress target, not 8.8.8.8 or 8.8.4.4";
}

TEST_F(SidecarTest, OneAnsweringFallbackServerIsAWarnThatNamesIt) {
  DnsFallbackPreflight preflight;
  options_.preflight = preflight.Options();
  behaviours_["dns 8.8.4.4:53"].outcome = egress::Outcome::kFailed;  // 8.8.8.8 answers
  Start();
  ASSERT_TRUE(RunUntil([&] { return reconciler_.state().preflight.rounds == 2; }));
  const auto* fallback = FindCheck(reconciler_.state(), doctor::kDnsFallbackCheckId);
  ASSERT_NE(fallback, nullptr);
  EXPECT_EQ(fallback->status, doctor::CheckStatus::kWarn);
  EXPECT_THAT(fallback->summary, HasSubstr("8.8.8.8 answered, 8.8.4.4 did not"));
}

TEST(DnsFallbackFeedTest, TargetsAreDnsOverUdpAndOnlyProbedResultsAreFed) {
  const auto targets = FallbackTargets({"8.8.8.8", "2001:4860:4860::8888"});
  ASSERT_EQ(targets.size(), 2u);
  EXPECT_EQ(targets[0].Key(), "dns 8.8.8.8:53");
  EXPECT_EQ(targets[0].origin, "dns-fallback");
  EXPECT_FALSE(targets[0].skip_without_family);
  EXPECT_EQ(targets[1].Key(), "dns [2001:4860:4860::8888]:53");
  EXPECT_TRUE(targets[1].skip_without_family) << "a bridge without IPv6: inconclusive";

  egress::ProberStatus status;
  for (const auto& target : targets) {
    egress::TargetResult result;
    result.target = target;
    result.outcome = target.family() == Family::kIPv4 ? egress::Outcome::kPassed
                                                      : egress::Outcome::kInconclusive;
    result.detail = result.outcome == egress::Outcome::kPassed ? "answered" : "no IPv6 on docker0";
    status.results.push_back(result);
  }
  const auto probes = FallbackProbesOf(status);
  ASSERT_EQ(probes.size(), 1u);
  EXPECT_EQ(probes[0], (doctor::FallbackProbe{"8.8.8.8", true, "answered"}));
  status.results[0].outcome = egress::Outcome::kFailed;
  EXPECT_FALSE(FallbackProbesOf(status)[0].answered);
  EXPECT_THAT(FallbackProbesOf(egress::ProberStatus{}), IsEmpty());
}

// PreflightRounds alone: a round every interval after the last ended, a run that throws is a
// check that could not run (never ok), and the log says an unchanged round only once.
TEST(PreflightRoundsTest, RoundsFollowTheIntervalAndAThrowingRunIsUnknown) {
  asio::io_context io;
  int lines = 0;
  std::vector<PreflightState> done;
  PreflightOptions options;
  options.interval = milliseconds(5);
  options.run = [](doctor::PreflightFeed) -> std::vector<doctor::CheckResult> {
    throw std::runtime_error("statfs exploded");
  };
  PreflightRounds rounds(
      io, options, [&](PreflightState state) { done.push_back(std::move(state)); },
      [&](log::Level, std::string_view, const log::Fields&) { ++lines; });
  rounds.Start();
  const auto until = std::chrono::steady_clock::now() + milliseconds(5000);
  while (done.size() < 3 && std::chrono::steady_clock::now() < until) {
    io.restart();
    io.run_for(milliseconds(2));
  }
  rounds.Stop();
  ASSERT_GE(done.size(), 3u);
  EXPECT_EQ(done[2].rounds, 3u);
  ASSERT_EQ(done[0].checks.size(), 1u);
  EXPECT_EQ(done[0].checks[0].id, "preflight");
  EXPECT_EQ(done[0].checks[0].status, doctor::CheckStatus::kUnknown);
  EXPECT_THAT(done[0].checks[0].summary, HasSubstr("statfs exploded"));
  EXPECT_EQ(lines, 2) << "the unknown and the count line, once for all rounds";
}

}  // namespace
}  // namespace dind::sidecar
