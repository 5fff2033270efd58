// SPDX-License-Identifier: Apache-2.0
// The entrypoint's state machine on a real io_context, every port a fake
// (tests/mocks/fake_entrypoint_ports.h): each phase transition and each row of the README's
// exit-code table, without root. daemon.json, dockerd's iptables links and its pidfiles live in a
// temporary directory; the cgroups in FakeCgroupFs. The clock stands still unless a test moves
// it, so the durations in the log are exact; the only real waits are the few ms of the egress
// deadline and the command's kill timer that a test sets short.
#include "daemon/entrypoint/entrypoint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "common/log.h"
#include "daemon/process/child_process.h"
#include "netcfg/daemon_json/daemon_json.h"
#include "tests/mocks/fake_cgroup_fs.h"
#include "tests/mocks/fake_detector.h"
#include "tests/mocks/fake_entrypoint_ports.h"
#include "tests/mocks/temp_dir.h"

namespace dind::entrypoint {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using Phase = Entrypoint::Phase;

using testing::FakeCgroupFs;
using testing::FakeClock;
using testing::FakeDockerdPing;
using testing::FakeEnvironment;
using testing::FakeModuleLoader;
using testing::FakeProcesses;
using testing::FakeSidecarGate;
using testing::PortJournal;
using testing::ReadTestFile;
using testing::TempDir;
using testing::WriteTestFile;

// What the process writes on fd 2 (one write(2) per log line) while it is held.
class StderrCapture {
 public:
  StderrCapture() : file_(std::tmpfile()), saved_(::dup(STDERR_FILENO)) {
    if (file_ != nullptr) ::dup2(::fileno(file_), STDERR_FILENO);
  }
  ~StderrCapture() {
    Restore();
    if (file_ != nullptr) std::fclose(file_);
  }
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;

  std::string Take() {
    Restore();
    std::string text;
    if (file_ == nullptr) return text;
    std::rewind(file_);
    char buffer[4096];
    for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, file_)) > 0;) text.append(buffer, n);
    return text;
  }

 private:
  void Restore() {
    if (saved_ < 0) return;
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    saved_ = -1;
  }
  std::FILE* file_;
  int saved_;
};

// cgroup v2 seen from the container's own namespace: split into init and dind.
netcfg::CgroupNestingPlan V2SplitPlan() {
  netcfg::CgroupNestingPlan plan;
  plan.version = "v2";
  plan.own_path = "/";
  plan.mode = netcfg::CgroupNestingMode::kV2Split;
  plan.reason = "split into init and dind";
  plan.read_from = "/proc/self of pid 1, the entrypoint";
  plan.create = {{"/sys/fs/cgroup/init", "this container's processes"},
                 {"/sys/fs/cgroup/dind", "dockerd's containers"}};
  plan.move = netcfg::CgroupMoveStep{"/sys/fs/cgroup", "/sys/fs/cgroup/init", "every process"};
  plan.enable_controllers_in = {"/sys/fs/cgroup", "/sys/fs/cgroup/dind"};
  plan.controllers_reason = "every controller";
  plan.cgroup_parent = "/dind";
  plan.cgroup_parent_reason = "dockerd's containers go below /sys/fs/cgroup/dind";
  plan.cleanup_below = {"/sys/fs/cgroup/dind"};
  return plan;
}

class EntrypointTest : public ::testing::Test {
 protected:
  EntrypointTest() {
    options_.daemon_json = dir_ / "daemon.json";
    // Pidfiles in the test's directory, never the machine's /var/run.
    options_.dockerd.extra = {"--pidfile", dir_ / "docker.pid", "--exec-root", dir_ / "exec-root"};
    options_.ready_timeout = milliseconds(200);
    options_.stop_timeout = std::chrono::seconds(10);
    options_.command = {"ci-job", "--all"};
    options_.cgroup = {.runs_dockerd = true, .reader = "the entrypoint"};
    docker::ClientOptions docker;
    docker.socket_path = dir_ / "docker.sock";
    options_.sidecar.docker = docker;
    options_.sidecar.egress = sidecar::EgressOptions{};
    auto report = testing::FakeDetector().Detect();
    EXPECT_TRUE(report.ok());
    if (report) report_ = *report;
    modules_.mounted = false;  // as in most pods
  }
  ~EntrypointTest() override {
    if (HasFailure()) std::fprintf(stderr, "--- the entrypoint's log ---\n%s", log_.c_str());
  }

  // Runs the machine to its end (or a watchdog's); keeps its log and its last phase.
  int Run() {
    Entrypoint entrypoint(io_, options_, Decided{report_, backend_},
                          {.processes = processes_,
                           .dockerd_ping = ping_,
                           .cgroups = cgroups_,
                           .modules = modules_,
                           .environment = environment_,
                           .clock = clock_,
                           .sidecar = gate_});
    asio::steady_timer watchdog(io_, std::chrono::seconds(5));
    bool hung = false;
    watchdog.async_wait([&](const boost::system::error_code& error) {
      if (error) return;
      hung = true;
      io_.stop();
    });
    log::Configure(log::Level::kDebug, log::Format::kText);
    int exit_code = 0;
    {
      StderrCapture capture;
      exit_code = entrypoint.Run();
      log_ = capture.Take();
    }
    log::Configure(log::Level::kInfo, log::Format::kText);
    watchdog.cancel();
    EXPECT_FALSE(hung) << "the entrypoint did not end within 5s";
    phase_ = entrypoint.phase();
    return exit_code;
  }

  std::vector<std::string> LogLines() const {
    std::vector<std::string> lines;
    std::istringstream in(log_);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  // The first line holding `text`, "" when none does.
  std::string Line(const std::string& text) const {
    for (const auto& line : LogLines()) {
      if (line.find(text) != std::string::npos) return line;
    }
    return "";
  }
  bool Logged(const std::string& text) const { return !Line(text).empty(); }
  // Both logged, `first` on an earlier line.
  bool LoggedBefore(const std::string& first, const std::string& second) const {
    const auto lines = LogLines();
    std::optional<size_t> a, b;
    for (size_t i = 0; i < lines.size(); ++i) {
      if (!a && lines[i].find(first) != std::string::npos) a = i;
      if (!b && lines[i].find(second) != std::string::npos) b = i;
    }
    return a && b && *a < *b;
  }
  // The phases in the order they were entered, from the debug log.
  std::vector<std::string> Phases() const {
    std::vector<std::string> phases;
    const std::string key = "entrypoint phase phase=";
    for (const auto& line : LogLines()) {
      if (auto at = line.find(key); at != std::string::npos) {
        phases.push_back(line.substr(at + key.size()));
      }
    }
    return phases;
  }
  const std::vector<std::string>& Calls() const { return journal_.calls; }
  // The calls from the first `from` on.
  std::vector<std::string> CallsFrom(const std::string& from) const {
    auto it = std::find(journal_.calls.begin(), journal_.calls.end(), from);
    return {it, journal_.calls.end()};
  }
  netcfg::OrderedJson DaemonJson() const {
    return netcfg::OrderedJson::parse(ReadTestFile(options_.daemon_json));
  }
  // Runs `action` on a later loop turn (after what is queued now).
  void Later(std::function<void()> action) { asio::post(io_, std::move(action)); }
  void WhenLaunched(const std::string& program, std::function<void(pid_t)> action) {
    processes_.on_launch = [program, action](pid_t pid, const process::LaunchSpec& spec) {
      if (spec.argv.front() == program) action(pid);
    };
  }
  pid_t Dockerd() const { return processes_.PidOf("dockerd"); }
  std::string Socket() const { return options_.sidecar.docker->socket_path; }

  TempDir dir_;
  EntrypointOptions options_;
  netcfg::DetectionReport report_;
  rules::BackendKind backend_ = rules::BackendKind::kNft;
  asio::io_context io_;
  PortJournal journal_;
  FakeProcesses processes_{io_, journal_};
  FakeDockerdPing ping_{io_, journal_};
  FakeCgroupFs cgroups_;
  FakeModuleLoader modules_{journal_};
  FakeEnvironment environment_;
  FakeClock clock_;
  FakeSidecarGate gate_{io_, journal_};
  std::string log_;
  Phase phase_ = Phase::kStarting;
};

// --- The command's status ------------------------------------------------------------------

TEST_F(EntrypointTest, RunsTheCommandOnceEgressIsVerifiedAndExitsWithItsStatus) {
  processes_.programs["ci-job"].exits_with = 7;
  EXPECT_EQ(Run(), 7);
  EXPECT_THAT(Calls(),
              ElementsAre("start", "launch dockerd", "watch dockerd", "ping", "sidecar start",
                          "launch ci-job", "watch ci-job", "forward ci-job", "sidecar stop",
                          "stop dockerd process 10000ms", "wait-for-no-children 10000ms"));
  EXPECT_EQ(phase_, Phase::kDone);

  ASSERT_EQ(processes_.launched.size(), 2u);
  const process::LaunchSpec& dockerd = processes_.launched[0];
  EXPECT_THAT(dockerd.argv, ElementsAre("dockerd", "--config-file", options_.daemon_json, "--host",
                                        "unix://" + Socket(), "--pidfile", dir_ / "docker.pid",
                                        "--exec-root", dir_ / "exec-root"))
      << "the entrypoint's file and socket, then --dockerd-arg";
  EXPECT_TRUE(dockerd.new_process_group);
  EXPECT_EQ(dockerd.output_fd, STDERR_FILENO);
  EXPECT_THAT(dockerd.extra_environment, IsEmpty()) << "--no-dockerd-iptables: PATH as it is";
  const process::LaunchSpec& command = processes_.launched[1];
  EXPECT_THAT(command.argv, ElementsAre("ci-job", "--all"));
  EXPECT_THAT(command.extra_environment, ElementsAre("DOCKER_HOST=unix://" + Socket()));
  EXPECT_TRUE(command.new_process_group);
  EXPECT_TRUE(command.take_terminal);

  EXPECT_TRUE(LoggedBefore("dockerd's iptables: as the image has it", "dockerd started"));
  EXPECT_TRUE(LoggedBefore("dockerd started", "dockerd answers"));
  EXPECT_THAT(Line("dockerd answers"), HasSubstr("after=0ms"));
  EXPECT_TRUE(LoggedBefore("dockerd answers", "nested egress verified"));
  EXPECT_TRUE(LoggedBefore("nested egress verified", "command started"));
  EXPECT_THAT(Line("command started"), HasSubstr("argv=\"ci-job --all\""));
  EXPECT_TRUE(LoggedBefore("command started", "the command exited with status 7"));
  EXPECT_TRUE(LoggedBefore("the command exited with status 7", "stopping dockerd"));
  EXPECT_THAT(Line("stopping dockerd"), HasSubstr("timeout=10s"));
  EXPECT_TRUE(LoggedBefore("stopping dockerd", "dockerd killed by signal 15 (SIGTERM)"));
  EXPECT_THAT(LogLines().back(), HasSubstr("info entrypoint done exit_code=7"));
  EXPECT_FALSE(Logged(" error ")) << "a command's failure is its own, not the entrypoint's";
  EXPECT_TRUE(DaemonJson().is_object()) << "daemon.json written before dockerd";
}

TEST_F(EntrypointTest, ACommandThatSucceedsExitsZero) {
  processes_.programs["ci-job"].exits_with = 0;
  EXPECT_EQ(Run(), 0);
  EXPECT_TRUE(Logged("the command exited with status 0"));
  EXPECT_TRUE(Logged("entrypoint done exit_code=0"));
}

TEST_F(EntrypointTest, ACommandEndedBySignalNExits128PlusN) {
  WhenLaunched("ci-job", [this](pid_t pid) { processes_.Exit(pid, {.signal = SIGSEGV}); });
  EXPECT_EQ(Run(), 128 + SIGSEGV);
  EXPECT_TRUE(Logged("the command killed by signal 11 (SIGSEGV)"));
  EXPECT_TRUE(Logged("entrypoint done exit_code=139"));
}

TEST_F(EntrypointTest, ACommandThatDoesNotExistIsBadInputExitTwo) {
  const std::string missing = dir_ / "no-such-job";
  options_.command = {missing};
  // What Launch itself answers for it.
  auto launched = process::Launch({.argv = {missing}});
  ASSERT_FALSE(launched.ok());
  processes_.launch_errors.emplace(missing, launched.error());
  EXPECT_EQ(Run(), 2);
  EXPECT_THAT(Line("starting the command"), HasSubstr("does not exist"));
  EXPECT_THAT(Line("starting the command"), HasSubstr("exit_code=2"));
  EXPECT_THAT(CallsFrom("launch " + missing),
              ElementsAre("launch " + missing, "sidecar stop", "stop dockerd process 10000ms",
                          "wait-for-no-children 10000ms"));
}

TEST_F(EntrypointTest, ACommandThatCannotBeWatchedEndsWithOne) {
  processes_.programs["ci-job"].watch_fails = true;
  EXPECT_EQ(Run(), 1);
  EXPECT_THAT(Line("watching pid 101"), HasSubstr("error"));
  EXPECT_THAT(Calls(), Not(Contains("forward ci-job")));
}

// --- dockerd -------------------------------------------------------------------------------

TEST_F(EntrypointTest, DockerdDyingBeforeItAnswersEndsWithOne) {
  ping_.otherwise = Error::Environment("connection refused");
  ping_.on_ping = [this](int ping) {
    if (ping == 1) processes_.Exit(Dockerd(), {.code = 1});
  };
  EXPECT_EQ(Run(), 1);
  EXPECT_THAT(Line("on its own"),
              HasSubstr("error dockerd exited with status 1 on its own; its log above on stderr "
                        "says why. Everything it ran is gone, so the entrypoint ends too"));
  EXPECT_THAT(Calls(), ElementsAre("start", "launch dockerd", "watch dockerd", "ping",
                                   "wait-for-no-children 10000ms"))
      << "no sidecar, no command, no dockerd left to stop";
  EXPECT_FALSE(Logged("stopping dockerd"));
  EXPECT_EQ(ping_.pings, 1) << "no ping after dockerd's end";
}

TEST_F(EntrypointTest, DockerdDyingWhileTheCommandRunsStopsTheCommandAndEndsWithOne) {
  WhenLaunched("ci-job", [this](pid_t) { processes_.Exit(Dockerd(), {.signal = SIGKILL}); });
  EXPECT_EQ(Run(), 1);
  EXPECT_TRUE(Logged("error dockerd killed by signal 9 (SIGKILL) on its own"));
  EXPECT_THAT(CallsFrom("sidecar stop"), ElementsAre("sidecar stop", "stop ci-job group 10000ms",
                                                     "wait-for-no-children 10000ms"));
  EXPECT_TRUE(Logged("the command killed by signal 15 (SIGTERM)"));
  EXPECT_TRUE(Logged("entrypoint done exit_code=1")) << "not the command's 143";
}

TEST_F(EntrypointTest, DockerdNotAnsweringWithinTheReadyTimeoutEndsWithOne) {
  ping_.otherwise = Error::Environment("connection refused");
  // The second ping fails after --ready-timeout has passed.
  ping_.on_ping = [this](int ping) {
    if (ping == 2) clock_.Advance(options_.ready_timeout);
  };
  EXPECT_EQ(Run(), 1);
  EXPECT_EQ(ping_.pings, 2);
  EXPECT_THAT(Line("GET /_ping"),
              HasSubstr("error dockerd did not answer GET /_ping on " + Socket() +
                        " within 200ms (last: connection refused); its log above says why; "
                        "raise --ready-timeout if it is only slow"));
  EXPECT_THAT(CallsFrom("stop dockerd process 10000ms"),
              ElementsAre("stop dockerd process 10000ms", "wait-for-no-children 10000ms"));
  EXPECT_THAT(Calls(), Not(Contains("sidecar start")));
}

TEST_F(EntrypointTest, ASlowDockerdIsPingedAgainUntilItAnswers) {
  ping_.answers = {Error::Environment("connection refused"), Error::Environment("EOF")};
  ping_.on_ping = [this](int) { clock_.Advance(milliseconds(60)); };
  processes_.programs["ci-job"].exits_with = 0;
  EXPECT_EQ(Run(), 0);
  EXPECT_EQ(ping_.pings, 3);
  EXPECT_THAT(Line("dockerd answers"), HasSubstr("after=180ms"));
}

TEST_F(EntrypointTest, DockerdThatCannotStartEndsWithWhatLaunchSaid) {
  options_.dockerd.dockerd = "dind-test-no-such-dockerd";
  auto launched = process::Launch({.argv = {"dind-test-no-such-dockerd"}});
  ASSERT_FALSE(launched.ok());
  processes_.launch_errors.emplace("dind-test-no-such-dockerd", launched.error());
  EXPECT_EQ(Run(), 2);
  EXPECT_THAT(Line("entrypoint: starting dockerd"), HasSubstr("exit_code=2"));
  EXPECT_THAT(Calls(), ElementsAre("start", "launch dind-test-no-such-dockerd"));
  EXPECT_EQ(phase_, Phase::kStartingDockerd);
  EXPECT_FALSE(Logged("entrypoint done")) << "nothing ran that needs stopping";
}

TEST_F(EntrypointTest, DockerdThatCannotBeWatchedIsStoppedAndEndsWithOne) {
  processes_.programs["dockerd"].watch_fails = true;
  EXPECT_EQ(Run(), 1);
  EXPECT_THAT(Line("entrypoint: watching pid 100"), HasSubstr("exit_code=1"));
  EXPECT_TRUE(Logged("warn stopping dockerd failed"));
  EXPECT_THAT(CallsFrom("stop dockerd process 10000ms"),
              ElementsAre("stop dockerd process 10000ms", "wait-for-no-children 10000ms"));
}

TEST_F(EntrypointTest, DockerdThatCannotBeStoppedIsSaidAndTheRestGoesOn) {
  processes_.programs["dockerd"].stop_fails = true;
  processes_.programs["ci-job"].exits_with = 0;
  EXPECT_EQ(Run(), 0);
  EXPECT_TRUE(LoggedBefore("warn stopping dockerd failed", "entrypoint done exit_code=0"));
  EXPECT_THAT(Calls(), Contains("wait-for-no-children 10000ms"));
}

TEST_F(EntrypointTest, DockerdsChildrenGetWhatIsLeftOfTheStopTimeout) {
  processes_.programs["ci-job"].exits_with = 0;
  // dockerd takes 4s of its 10s to end.
  processes_.on_stop = [this](pid_t pid) {
    if (pid == Dockerd()) clock_.Advance(std::chrono::seconds(4));
  };
  EXPECT_EQ(Run(), 0);
  EXPECT_THAT(CallsFrom("stop dockerd process 10000ms"),
              ElementsAre("stop dockerd process 10000ms", "wait-for-no-children 6000ms"));
}

TEST_F(EntrypointTest, DockerdsChildrenGetAtLeastATenthOfASecond) {
  processes_.programs["ci-job"].exits_with = 0;
  processes_.on_stop = [this](pid_t pid) {
    if (pid == Dockerd()) clock_.Advance(std::chrono::seconds(12));
  };
  EXPECT_EQ(Run(), 0);
  EXPECT_THAT(Calls(), Contains("wait-for-no-children 100ms"));
}

TEST_F(EntrypointTest, ADockerdArgSettingTheHostIsBadUsageBeforeAnythingStarts) {
  options_.dockerd.extra.push_back("--host=tcp://0.0.0.0:2375");
  EXPECT_EQ(Run(), 2);
  EXPECT_THAT(Calls(), ElementsAre("start"));
  EXPECT_EQ(phase_, Phase::kPreparingDockerd);
}

// --- daemon.json and dockerd's iptables ----------------------------------------------------

TEST_F(EntrypointTest, DaemonJsonThatCannotBeWrittenEndsWithOneBeforeDockerdStarts) {
  WriteTestFile(dir_ / "a-file", "", 0644);
  options_.daemon_json = dir_ / "a-file/daemon.json";
  EXPECT_EQ(Run(), 1);
  EXPECT_THAT(Calls(), ElementsAre("start"));
  EXPECT_THAT(Line("error entrypoint:"), HasSubstr("exit_code=1"));
  EXPECT_EQ(phase_, Phase::kPreparingDockerd);
}

TEST_F(EntrypointTest, AMalformedDaemonJsonIsBadInputExitTwo) {
  WriteTestFile(options_.daemon_json, "{\"mtu\": ", 0644);
  EXPECT_EQ(Run(), 2);
  EXPECT_THAT(Calls(), ElementsAre("start"));
  EXPECT_THAT(Line("error entrypoint:"), HasSubstr("exit_code=2"));
}

TEST_F(EntrypointTest, DockerdsIptablesLinksComeFirstOnItsPath) {
  options_.iptables_dir = dir_ / "iptables";
  environment_.variables["PATH"] = "/image/sbin:/image/bin";
  environment_.executables = {"/image/sbin/xtables-nft-multi"};
  processes_.programs["ci-job"].exits_with = 0;
  EXPECT_EQ(Run(), 0);
  ASSERT_FALSE(processes_.launched.empty());
  EXPECT_THAT(processes_.launched[0].extra_environment,
              ElementsAre("PATH=" + options_.iptables_dir + ":/image/sbin:/image/bin"));
  EXPECT_EQ(std::filesystem::read_symlink(options_.iptables_dir + "/iptables"),
            "/image/sbin/xtables-nft-multi");
  EXPECT_THAT(Line("dockerd's iptables: nft, the backend chosen for this container"),
              HasSubstr("to=/image/sbin/xtables-nft-multi"));
  EXPECT_TRUE(LoggedBefore("dockerd's iptables: nft", "dockerd started"));
}

TEST_F(EntrypointTest, WithoutPathDockerdsIptablesAreLookedForInTheDefaultOne) {
  options_.iptables_dir = dir_ / "iptables";
  environment_.executables = {"/usr/sbin/xtables-nft-multi"};
  processes_.programs["ci-job"].exits_with = 0;
  EXPECT_EQ(Run(), 0);
  ASSERT_FALSE(processes_.launched.empty());
  EXPECT_THAT(processes_.launched[0].extra_environment,
              ElementsAre("PATH=" + options_.iptables_dir +
                          ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
}

TEST_F(EntrypointTest, AnImageWithoutTheBackendsIptablesEndsBeforeDockerdStarts) {
  options_.iptables_dir = dir_ / "iptables";
  environment_.variables["PATH"] = "/image/sbin";
  EXPECT_EQ(Run(), 1);
  EXPECT_THAT(Calls(), ElementsAre("start"));
  EXPECT_THAT(Line("error entrypoint:"), HasSubstr("/image/sbin"));
}

// --- Nested egress gates the command -------------------------------------------------------

TEST_F(EntrypointTest, EgressNotVerifiedWithinTheReadyTimeoutEndsWithOneWithoutTheCommand) {
  options_.ready_timeout = milliseconds(20);
  gate_.ready_on_start = false;
  gate_.readiness = {.ready = false, .reason = "egress: tcp 192.0.2.10:443 timed out"};
  EXPECT_EQ(Run(), 1);
  EXPECT_THAT(Line("nested egress was not verified"),
              HasSubstr("error nested egress was not verified within 20ms: egress: tcp "
                        "192.0.2.10:443 timed out; the command was not started "
                        "(--no-wait-egress starts it anyway) exit_code=1"));
  EXPECT_THAT(Calls(), Not(Contains("launch ci-job")));
  EXPECT_THAT(CallsFrom("sidecar start"),
              ElementsAre("sidecar start", "sidecar stop", "stop dockerd process 10000ms",
                          "wait-for-no-children 10000ms"));
}

TEST_F(EntrypointTest, EgressVerifiedLaterStartsTheCommandOnThatRound) {
  gate_.ready_on_start = false;
  processes_.programs["ci-job"].exits_with = 0;
  gate_.on_start = [this] {
    gate_.Publish({.ready = false, .reason = "egress: no route"});
    Later([this] {
      EXPECT_THAT(Calls(), Not(Contains("launch ci-job"))) << "not on a round that failed";
      clock_.Advance(std::chrono::seconds(2));
      gate_.Publish({.ready = true, .reason = ""});
    });
  };
  EXPECT_EQ(Run(), 0);
  EXPECT_THAT(Line("nested egress verified"), HasSubstr("after=2s"));
  EXPECT_THAT(Calls(), Contains("launch ci-job"));
}

TEST_F(EntrypointTest, NoWaitEgressStartsTheCommandAtOnce) {
  options_.wait_egress = false;
  gate_.ready_on_start = false;
  processes_.programs["ci-job"].exits_with = 3;
  EXPECT_EQ(Run(), 3);
  EXPECT_FALSE(Logged("nested egress verified"));
  EXPECT_THAT(Phases(), Not(Contains("waiting-for-egress")));
  EXPECT_THAT(
      CallsFrom("sidecar start"),
      ElementsAre("sidecar start", "launch ci-job", "watch ci-job", "forward ci-job",
                  "sidecar stop", "stop dockerd process 10000ms", "wait-for-no-children 10000ms"));
}

TEST_F(EntrypointTest, WithoutProbesTheCommandDoesNotWaitForEgress) {
  options_.sidecar.egress.reset();
  gate_.ready_on_start = false;
  processes_.programs["ci-job"].exits_with = 0;
  EXPECT_EQ(Run(), 0);
  EXPECT_THAT(Phases(), Not(Contains("waiting-for-egress")));
  EXPECT_THAT(Calls(), Contains("launch ci-job"));
}

// --- The sidecar ---------------------------------------------------------------------------

TEST_F(EntrypointTest, TheSidecarFailingToStartEndsWithItsExitCode) {
  gate_.start_error = Error::Environment("listening on 127.0.0.1:9254: Address already in use");
  EXPECT_EQ(Run(), 1);
  EXPECT_THAT(Line("Address already in use"),
              HasSubstr("error entrypoint: listening on 127.0.0.1:9254"));
  EXPECT_THAT(CallsFrom("sidecar start"),
              ElementsAre("sidecar start", "sidecar stop", "stop dockerd process 10000ms",
                          "wait-for-no-children 10000ms"));
}

TEST_F(EntrypointTest, RulesThatCouldNotBeRemovedTurnASuccessIntoOne) {
  gate_.stop_code = 1;  // --cleanup-on-exit failed
  processes_.programs["ci-job"].exits_with = 0;
  EXPECT_EQ(Run(), 1);
}

TEST_F(EntrypointTest, RulesThatCouldNotBeRemovedLeaveAFailuresOwnStatus) {
  gate_.stop_code = 1;
  processes_.programs["ci-job"].exits_with = 7;
  EXPECT_EQ(Run(), 7);
}

// --- Signals -------------------------------------------------------------------------------

TEST_F(EntrypointTest, WithoutACommandDockerdServesUntilSigtermThenExitsZero) {
  options_.command.clear();
  gate_.on_start = [this] { processes_.Signal(SIGTERM); };
  EXPECT_EQ(Run(), 0);
  EXPECT_THAT(Line("no command: dockerd keeps running until SIGTERM"),
              HasSubstr("docker_host=unix://" + Socket()));
  EXPECT_THAT(CallsFrom("sidecar start"),
              ElementsAre("sidecar start", "signal SIGTERM", "sidecar stop",
                          "stop dockerd process 10000ms", "wait-for-no-children 10000ms"));
  EXPECT_TRUE(Logged("entrypoint done exit_code=0"));
}

TEST_F(EntrypointTest, WithoutACommandSigintEndsWithZeroToo) {
  options_.command.clear();
  gate_.on_start = [this] { processes_.Signal(SIGINT); };
  EXPECT_EQ(Run(), 0);
}

TEST_F(EntrypointTest, WithoutACommandDockerdEndingOnItsOwnIsOne) {
  options_.command.clear();
  gate_.on_start = [this] { processes_.Exit(Dockerd(), {.code = 0}); };
  EXPECT_EQ(Run(), 1);
  EXPECT_TRUE(Logged("error dockerd exited with status 0 on its own"));
}

TEST_F(EntrypointTest, SighupIsForwardedToDockerdWhichReloadsDaemonJson) {
  options_.command.clear();
  gate_.on_start = [this] {
    processes_.Signal(SIGHUP);
    processes_.Signal(SIGTERM);
  };
  EXPECT_EQ(Run(), 0);
  EXPECT_THAT(CallsFrom("signal SIGHUP"),
              ElementsAre("signal SIGHUP", "kill dockerd SIGHUP", "signal SIGTERM", "sidecar stop",
                          "stop dockerd process 10000ms", "wait-for-no-children 10000ms"))
      << "SIGHUP does not end anything";
}

TEST_F(EntrypointTest, SighupWhileTheCommandRunsGoesToTheCommandAlone) {
  WhenLaunched("ci-job", [this](pid_t pid) {
    processes_.Signal(SIGHUP);
    processes_.Exit(pid, {.code = 0});
  });
  EXPECT_EQ(Run(), 0);
  EXPECT_THAT(Calls(), Contains("signal SIGHUP"));
  EXPECT_THAT(Calls(), Not(Contains("kill dockerd SIGHUP")));
}

TEST_F(EntrypointTest, SigtermWhileStartingDockerdEndsWith143) {
  ping_.hang = true;
  ping_.on_ping = [this](int) { processes_.Signal(SIGTERM); };
  EXPECT_EQ(Run(), 128 + SIGTERM);
  EXPECT_THAT(Calls(),
              ElementsAre("start", "launch dockerd", "watch dockerd", "ping", "signal SIGTERM",
                          "stop dockerd process 10000ms", "wait-for-no-children 10000ms"));
  EXPECT_FALSE(Logged(" error ")) << "a stop is said by the exit code, not as a failure";
  EXPECT_TRUE(Logged("entrypoint done exit_code=143"));
}

TEST_F(EntrypointTest, SigtermWhileWaitingForEgressEndsWith143WithoutTheCommand) {
  gate_.ready_on_start = false;
  gate_.on_start = [this] { processes_.Signal(SIGTERM); };
  EXPECT_EQ(Run(), 128 + SIGTERM);
  EXPECT_THAT(CallsFrom("sidecar start"),
              ElementsAre("sidecar start", "signal SIGTERM", "sidecar stop",
                          "stop dockerd process 10000ms", "wait-for-no-children 10000ms"));
}

TEST_F(EntrypointTest, SigintBetweenEgressAndTheCommandStartsNoCommand) {
  // Readiness is published first, the signal comes on the next turn, before the command starts.
  gate_.on_start = [this] { processes_.Signal(SIGINT); };
  EXPECT_EQ(Run(), 128 + SIGINT);
  EXPECT_TRUE(Logged("nested egress verified"));
  EXPECT_THAT(Calls(), Not(Contains("launch ci-job")));
  EXPECT_THAT(Phases(), Contains("starting-command"));
}

TEST_F(EntrypointTest, SigtermWhileTheCommandRunsIsForwardedAndItsStatusIsTheExitCode) {
  WhenLaunched("ci-job", [this](pid_t) { processes_.Signal(SIGTERM); });
  EXPECT_EQ(Run(), 128 + SIGTERM);
  EXPECT_TRUE(Logged("info signal forwarded to the command; it has 10s to end signal=Terminated"));
  EXPECT_THAT(CallsFrom("forward ci-job"),
              ElementsAre("forward ci-job", "signal SIGTERM", "sidecar stop",
                          "stop dockerd process 10000ms", "wait-for-no-children 10000ms"));
  EXPECT_TRUE(Logged("the command killed by signal 15 (SIGTERM)"));
}

TEST_F(EntrypointTest, ACommandIgnoringSigtermIsKilledAfterTheStopTimeout) {
  options_.stop_timeout = milliseconds(20);
  processes_.programs["ci-job"].ignores_stop = true;
  WhenLaunched("ci-job", [this](pid_t) { processes_.Signal(SIGTERM); });
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(Run(), 128 + SIGKILL);
  EXPECT_GE(std::chrono::steady_clock::now() - started, milliseconds(20));
  EXPECT_TRUE(LoggedBefore("signal forwarded to the command; it has 20ms to end",
                           "warn the command did not end in time: killing its process group"));
  EXPECT_THAT(CallsFrom("signal SIGTERM"),
              ElementsAre("signal SIGTERM", "kill -ci-job SIGKILL", "sidecar stop",
                          "stop dockerd process 20ms", "wait-for-no-children 100ms"))
      << "at least 100ms for dockerd's children";
}

// --- PID 1, cgroups and modules ------------------------------------------------------------

TEST_F(EntrypointTest, ASupervisorThatCannotStartEndsBeforeAnythingElse) {
  processes_.start_error = Error::Environment("signalfd", EMFILE);
  report_.cgroup_nesting = V2SplitPlan();
  cgroups_.AddRoot("/sys/fs/cgroup", {"memory"});
  EXPECT_EQ(Run(), 1);
  EXPECT_THAT(Calls(), ElementsAre("start"));
  EXPECT_FALSE(cgroups_.Exists("/sys/fs/cgroup/init")) << "no cgroup touched";
  EXPECT_THAT(Line("error entrypoint: signalfd"), Not(IsEmpty()));
}

TEST_F(EntrypointTest, CgroupsAreNestedBeforeDockerdAndTheEmptyOnesRemovedAfterIt) {
  report_.cgroup_nesting = V2SplitPlan();
  cgroups_.AddRoot("/sys/fs/cgroup", {"memory", "pids"});
  cgroups_.AddPid("/sys/fs/cgroup", 1);
  processes_.programs["ci-job"].exits_with = 0;
  WhenLaunched("dockerd", [this](pid_t) {
    EXPECT_EQ(cgroups_.Pids("/sys/fs/cgroup/init"), std::set<int>{1}) << "nested before dockerd";
    // What dockerd's containers leave: one emptied, one whose process outlived everything.
    cgroups_.AddCgroup("/sys/fs/cgroup/dind/docker-aaa");
    cgroups_.AddCgroup("/sys/fs/cgroup/dind/docker-bbb", {300});
  });
  bool present_while_waiting = false;
  processes_.on_wait_for_no_children = [&] {
    present_while_waiting = cgroups_.Exists("/sys/fs/cgroup/dind/docker-aaa");
  };
  EXPECT_EQ(Run(), 0);
  EXPECT_TRUE(present_while_waiting) << "removed only once dockerd's children are gone";
  EXPECT_FALSE(cgroups_.Exists("/sys/fs/cgroup/dind/docker-aaa"));
  EXPECT_TRUE(cgroups_.Exists("/sys/fs/cgroup/dind/docker-bbb"));
  EXPECT_TRUE(cgroups_.Exists("/sys/fs/cgroup/dind")) << "cgroup-parent itself stays";
  EXPECT_THAT(Line("cgroup-parent for dockerd: /dind"), HasSubstr("mode=v2-split"));
  EXPECT_EQ(DaemonJson()["cgroup-parent"], "/dind");
  ASSERT_TRUE(gate_.started_with.has_value());
  EXPECT_EQ(gate_.started_with->cgroup.parent, "/dind") << "the rules see what was done";
  EXPECT_THAT(Line("cgroups left by dockerd's containers removed"),
              HasSubstr("parent=/sys/fs/cgroup/dind removed=1"));
  EXPECT_THAT(Line("cgroups left by dockerd's containers removed"), HasSubstr("300"));
  EXPECT_TRUE(LoggedBefore("cgroups left by dockerd's containers removed", "entrypoint done"));
}

TEST_F(EntrypointTest, CgroupNestingThatFailsIsSaidAndDockerdStartsWithItsDefault) {
  report_.cgroup_nesting = V2SplitPlan();
  cgroups_.AddRoot("/sys/fs/cgroup", {"memory"});
  cgroups_.AddPid("/sys/fs/cgroup", 1);
  cgroups_.Fail(FakeCgroupFs::Op::kMakeDir, "/sys/fs/cgroup/init", EIO);
  processes_.programs["ci-job"].exits_with = 0;
  EXPECT_EQ(Run(), 0);
  EXPECT_THAT(Line("cgroup nesting failed; dockerd keeps its default cgroup-parent"),
              HasSubstr("warn"));
  EXPECT_THAT(Line("cgroup nesting failed"), HasSubstr("mode=v2-split"));
  EXPECT_FALSE(DaemonJson().contains("cgroup-parent"));
  EXPECT_THAT(Calls(), Contains("launch dockerd"));
  EXPECT_FALSE(Logged("cgroups left by dockerd's containers removed"));
}

TEST_F(EntrypointTest, ProcessesLeftAfterDockerdAreKilledInRoundsUntilNoneComes) {
  processes_.programs["ci-job"].exits_with = 0;
  processes_.children_left = {{200, 201}, {300}, {}};
  EXPECT_EQ(Run(), 0);
  EXPECT_THAT(CallsFrom("wait-for-no-children 10000ms"),
              ElementsAre("wait-for-no-children 10000ms", "kill 200 SIGKILL", "kill 201 SIGKILL",
                          "wait-for-no-children 1000ms", "kill 300 SIGKILL",
                          "wait-for-no-children 1000ms"));
  EXPECT_TRUE(Logged("warn processes left after dockerd stopped were killed pids=\"200 201\""));
  EXPECT_TRUE(
      Logged("warn orphans of the killed processes (a nested container's own) were killed "
             "pids=300"));
  EXPECT_THAT(
      Phases(),
      ElementsAre("starting", "nesting-cgroups", "loading-modules", "preparing-dockerd",
                  "starting-dockerd", "starting-sidecar", "waiting-for-egress", "starting-command",
                  "running-command", "stopping-command", "stopping-dockerd", "waiting-for-children",
                  "killing-orphans", "killing-orphans", "removing-cgroups", "done"));
}

TEST_F(EntrypointTest, OrphanRoundsAreBounded) {
  processes_.programs["ci-job"].exits_with = 0;
  processes_.children_left = {{400}, {401}, {402}, {403}, {404}, {405}};
  EXPECT_EQ(Run(), 0);
  EXPECT_EQ(processes_.waits.size(), 1u + Entrypoint::kOrphanRounds);
  EXPECT_THAT(processes_.waits, Contains(Entrypoint::kOrphanWait).Times(Entrypoint::kOrphanRounds));
  EXPECT_EQ(processes_.children_left.size(), 1u);
  EXPECT_THAT(Calls(), Contains("kill 404 SIGKILL"));
  EXPECT_THAT(Calls(), Not(Contains("kill 405 SIGKILL")));
  EXPECT_TRUE(Logged("entrypoint done exit_code=0"));
}

TEST_F(EntrypointTest, TheBackendsModulesAreLoadedWhenTheNodesModulesAreMounted) {
  modules_.mounted = true;
  modules_.failing = {"nft_masq"};
  processes_.programs["ci-job"].exits_with = 0;
  EXPECT_EQ(Run(), 0);
  std::vector<std::string> expected{"start"};
  for (const auto& module : ModulesFor(rules::BackendKind::kNft, false)) {
    expected.push_back("modprobe " + module);
  }
  expected.push_back("launch dockerd");
  EXPECT_THAT(std::vector<std::string>(Calls().begin(), Calls().begin() + expected.size()),
              ElementsAreArray(expected));
  EXPECT_THAT(Line("info kernel modules"), HasSubstr("not_loaded=nft_masq"));
  EXPECT_THAT(Line("info kernel modules"), HasSubstr("read_from=/lib/modules/6.1.0-test-amd64"));
}

TEST_F(EntrypointTest, WithoutTheNodesModulesNoneIsLoadedAndThatIsSaid) {
  processes_.programs["ci-job"].exits_with = 0;
  EXPECT_EQ(Run(), 0);
  EXPECT_THAT(Line("kernel modules not loaded"),
              HasSubstr("/lib/modules/6.1.0-test-amd64 is not mounted in this container"));
  EXPECT_THAT(Line("kernel modules not loaded"), HasSubstr("backend=nft"));
  for (const auto& call : Calls()) EXPECT_THAT(call, Not(HasSubstr("modprobe")));
}

TEST_F(EntrypointTest, NoModulesLoadsNoneAndSaysNothing) {
  options_.load_modules = false;
  modules_.mounted = true;
  processes_.programs["ci-job"].exits_with = 0;
  EXPECT_EQ(Run(), 0);
  EXPECT_FALSE(Logged("kernel modules"));
  EXPECT_THAT(Phases(), Not(Contains("loading-modules")));
  for (const auto& call : Calls()) EXPECT_THAT(call, Not(HasSubstr("modprobe")));
}

// --- Phases --------------------------------------------------------------------------------

TEST_F(EntrypointTest, PhasesWithACommand) {
  processes_.programs["ci-job"].exits_with = 0;
  EXPECT_EQ(Run(), 0);
  EXPECT_THAT(Phases(),
              ElementsAre("starting", "nesting-cgroups", "loading-modules", "preparing-dockerd",
                          "starting-dockerd", "starting-sidecar", "waiting-for-egress",
                          "starting-command", "running-command", "stopping-command",
                          "stopping-dockerd", "waiting-for-children", "removing-cgroups", "done"));
}

TEST_F(EntrypointTest, PhasesWithoutACommand) {
  options_.command.clear();
  gate_.on_start = [this] { processes_.Signal(SIGTERM); };
  EXPECT_EQ(Run(), 0);
  EXPECT_THAT(Phases(),
              ElementsAre("starting", "nesting-cgroups", "loading-modules", "preparing-dockerd",
                          "starting-dockerd", "starting-sidecar", "serving", "stopping-command",
                          "stopping-dockerd", "waiting-for-children", "removing-cgroups", "done"));
}

TEST_F(EntrypointTest, EveryPhaseHasAName) {
  std::set<std::string_view> names;
  for (int phase = 0; phase <= static_cast<int>(Phase::kDone); ++phase) {
    names.insert(Entrypoint::PhaseName(static_cast<Phase>(phase)));
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(Phase::kDone) + 1) << "distinct";
  EXPECT_EQ(names.count("unknown"), 0u);
}

}  // namespace
}  // namespace dind::entrypoint
