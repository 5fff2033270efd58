// SPDX-License-Identifier: Apache-2.0
#include "daemon/entrypoint/entrypoint.h"

#include <signal.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>

#include "common/files.h"
#include "common/log.h"
#include "common/strings.h"
#include "daemon/docker/docker_client.h"
#include "daemon/egress/probe.h"
#include "daemon/entrypoint/dockerd_iptables.h"
#include "daemon/entrypoint/dockerd_pidfiles.h"
#include "daemon/pod/configure_here.h"
#include "daemon/process/child_process.h"
#include "daemon/process/supervisor.h"
#include "daemon/sidecar/live_sidecar.h"
#include "netcfg/cgroups/cgroup_fs.h"
#include "netcfg/cgroups/cgroup_nesting.h"
#include "netcfg/daemon_json/atomic_file.h"

namespace dind::entrypoint {
namespace {

namespace asio = boost::asio;
using process::ExitStatus;
using process::Launch;
using process::LaunchSpec;
using process::ProcessSupervisor;
using process::StopScope;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kPingEvery{50};
// After dockerd: how long one round waits for killed processes to go and their orphans to come
// (containerd, then each shim, then each container's init: three generations), and how many.
constexpr milliseconds kOrphanWait{1000};
constexpr int kOrphanRounds = 4;

// SIGKILL to each; returns their pids for the log.
std::string KillEach(const std::vector<pid_t>& pids) {
  std::vector<std::string> killed;
  for (pid_t pid : pids) {
    killed.push_back(std::to_string(pid));
    ::kill(pid, SIGKILL);
  }
  return Join(killed, " ");
}

std::string Seconds(milliseconds duration) {
  return egress::FormatDuration(duration);
}

std::string EnvOr(const char* name, std::string fallback) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::string(value) : std::move(fallback);
}

// docker:dind loads the backend's modules because a container cannot see which are built in;
// modprobe needs the node's /lib/modules, which pods often do not mount. Never fatal: the
// backend choice already proved what works.
void LoadKernelModules(rules::BackendKind backend, bool ipv6) {
  struct utsname kernel {};
  ::uname(&kernel);
  const std::string modules_dir = std::string("/lib/modules/") + kernel.release;
  if (!std::filesystem::is_directory(modules_dir)) {
    log::Info("kernel modules not loaded: " + modules_dir +
                  " is not mounted in this container (mount the node's /lib/modules read-only "
                  "to let the entrypoint modprobe them; what is built in or already loaded works)",
              {{"backend", std::string(rules::BackendName(backend))}});
    return;
  }
  std::vector<std::string> loaded, failed;
  for (const auto& module : ModulesFor(backend, ipv6)) {
    (RunAndCapture({"modprobe", "-q", module}).ok() ? loaded : failed).push_back(module);
  }
  log::Info("kernel modules", {{"loaded", Join(loaded, " ")},
                               {"not_loaded", failed.empty() ? "none" : Join(failed, " ")},
                               {"read_from", modules_dir}});
}

class Entrypoint {
 public:
  Entrypoint(asio::io_context& io, const EntrypointOptions& options,
             sidecar::Reconciler& reconciler, Decided decided)
      : io_(io),
        options_(options),
        reconciler_(reconciler),
        decided_(std::move(decided)),
        ping_timer_(io),
        egress_deadline_(io),
        command_kill_timer_(io) {}

  int Run();

 private:
  enum class Phase {
    kStartingDockerd,
    kWaitingForEgress,
    kStartingCommand,
    kRunningCommand,
    kServing,
    kStopping
  };

  void NestCgroups();
  void RemoveLeftCgroups();
  Result<std::vector<std::string>> DockerdEnvironment();
  Status StartDockerd();
  void Ping();
  void OnDockerdAnswers();
  void WaitForEgress();
  void OnReadiness(const http::Readiness& readiness);
  void StartCommand();
  void OnSignal(int signal_number);
  void OnDockerdExit(const ExitStatus& status);
  // Stops everything that still runs, in order, then the loop; exits with `exit_code`.
  void Shutdown(int exit_code, const std::string& why);
  void StopDockerd();
  void AfterDockerd(Clock::time_point deadline);
  void KillOrphans(int rounds_left);

  asio::io_context& io_;
  const EntrypointOptions& options_;
  sidecar::Reconciler& reconciler_;
  Decided decided_;
  netcfg::LocalCgroupFs cgroup_fs_;
  std::vector<std::string> cgroup_cleanup_below_;
  std::unique_ptr<ProcessSupervisor> supervisor_;
  std::unique_ptr<docker::DockerClient> ping_client_;
  std::optional<sidecar::Sidecar> sidecar_;
  asio::steady_timer ping_timer_;
  asio::steady_timer egress_deadline_;
  asio::steady_timer command_kill_timer_;
  Phase phase_ = Phase::kStartingDockerd;
  Clock::time_point phase_started_ = Clock::now();
  pid_t dockerd_ = 0;
  pid_t command_ = 0;
  int exit_code_ = 0;
};

// Before dockerd starts: with cgroup v2, a cgroup that holds processes cannot give controllers
// to children, so this container's processes move to <own>/init and dockerd's go below
// <own>/dind. Whatever cannot be done is said; dockerd then runs with its default.
void Entrypoint::NestCgroups() {
  const netcfg::CgroupNestingPlan& plan = decided_.report.cgroup_nesting;
  auto applied = netcfg::ApplyCgroupNesting(plan, cgroup_fs_);
  if (!applied) {
    log::Warn("cgroup nesting failed; dockerd keeps its default cgroup-parent",
              {{"mode", netcfg::CgroupNestingModeName(plan.mode)},
               {"error", applied.error().Message()},
               {"read_from", plan.read_from}});
    return;
  }
  for (const auto& line : applied->evidence) log::Info("cgroups: " + line);
  for (const auto& line : applied->warnings) log::Warn("cgroups: " + line);
  netcfg::RecordAppliedNesting(decided_.report, *applied, options_.cgroup);
  cgroup_cleanup_below_ = applied->cleanup_below;
  const auto& parent = decided_.report.cgroup.parent;
  log::Info("cgroup-parent for dockerd: " + (parent ? *parent : std::string("none")),
            {{"mode", netcfg::CgroupNestingModeName(applied->mode)},
             {"reason", decided_.report.cgroup.reason},
             {"read_from", applied->read_from}});
}

// After dockerd: the cgroups its containers left are empty now; nothing is leaked.
void Entrypoint::RemoveLeftCgroups() {
  for (const auto& parent : cgroup_cleanup_below_) {
    auto cleaned = netcfg::RemoveEmptyCgroupsBelow(parent, cgroup_fs_);
    if (!cleaned) {
      log::Warn("cgroups left below cgroup-parent could not be listed",
                {{"parent", parent}, {"error", cleaned.error().Message()}});
      continue;
    }
    if (!cleaned->removed.empty() || !cleaned->kept.empty()) {
      log::Info("cgroups left by dockerd's containers removed",
                {{"parent", parent},
                 {"removed", std::to_string(cleaned->removed.size())},
                 {"kept", cleaned->kept.empty() ? "none" : Join(cleaned->kept, " ")}});
    }
  }
}

Result<std::vector<std::string>> Entrypoint::DockerdEnvironment() {
  if (options_.iptables_dir.empty()) {
    log::Info("dockerd's iptables: as the image has it (--no-dockerd-iptables)");
    return std::vector<std::string>{};
  }
  const std::string path =
      EnvOr("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  auto plan =
      PlanIptablesShim(decided_.backend, IptablesSearchDirs(path),
                       [](const std::string& file) { return ::access(file.c_str(), X_OK) == 0; });
  if (!plan) return plan.error();
  DIND_RETURN_IF_ERROR(WriteIptablesShim(options_.iptables_dir, *plan));
  log::Info("dockerd's iptables: " + std::string(rules::BackendName(decided_.backend)) +
                ", the backend chosen for this container",
            {{"links", options_.iptables_dir},
             {"to", plan->links.front().target},
             {"missing", plan->missing.empty() ? "none" : Join(plan->missing, " ")}});
  return std::vector<std::string>{"PATH=" + PathWithFirst(options_.iptables_dir, path)};
}

Status Entrypoint::StartDockerd() {
  auto environment = DockerdEnvironment();
  if (!environment) return environment.error();
  auto written = pod::WriteDaemonJson(options_.daemon_json, decided_.report);
  if (!written) return written.error();
  DockerdLaunch launch = options_.dockerd;
  launch.daemon_json = options_.daemon_json;
  launch.socket = options_.sidecar.docker->socket_path;
  auto argv = DockerdArgv(launch);
  if (!argv) return argv.error();
  auto daemon_json = netcfg::ReadDaemonJson(options_.daemon_json);
  if (!daemon_json) return daemon_json.error();
  DIND_RETURN_IF_ERROR(
      RemoveStalePidfiles(DockerdPidfiles(*argv, daemon_json->value_or(std::string()))));
  // dockerd's output goes to the container's stderr beside ours: `kubectl logs` shows both.
  auto pid = Launch({.argv = *argv,
                     .extra_environment = *environment,
                     .new_process_group = true,
                     .output_fd = STDERR_FILENO});
  if (!pid) return pid.error().Wrap("starting dockerd");
  dockerd_ = *pid;
  DIND_RETURN_IF_ERROR(
      supervisor_->Watch(dockerd_, [this](const ExitStatus& status) { OnDockerdExit(status); }));
  log::Info("dockerd started", {{"pid", std::to_string(dockerd_)}, {"argv", Join(*argv, " ")}});
  docker::ClientOptions client = *options_.sidecar.docker;
  client.request_timeout = milliseconds(1000);
  ping_client_ = std::make_unique<docker::DockerClient>(io_, client);
  phase_started_ = Clock::now();
  Ping();
  return OkStatus();
}

void Entrypoint::Ping() {
  ping_client_->Get("/_ping", [this](Result<std::string> answer) {
    if (phase_ != Phase::kStartingDockerd) return;
    if (answer) return OnDockerdAnswers();
    const auto waited = std::chrono::duration_cast<milliseconds>(Clock::now() - phase_started_);
    if (waited >= options_.ready_timeout) {
      return Shutdown(1, "dockerd did not answer GET /_ping on " +
                             options_.sidecar.docker->socket_path + " within " +
                             Seconds(options_.ready_timeout) +
                             " (last: " + answer.error().Message() +
                             "); its log above says why; raise --ready-timeout if it is only slow");
    }
    ping_timer_.expires_after(kPingEvery);
    ping_timer_.async_wait([this](const boost::system::error_code& error) {
      if (!error) Ping();
    });
  });
}

void Entrypoint::OnDockerdAnswers() {
  const auto waited = std::chrono::duration_cast<milliseconds>(Clock::now() - phase_started_);
  log::Info("dockerd answers",
            {{"socket", options_.sidecar.docker->socket_path}, {"after", Seconds(waited)}});
  if (auto started = reconciler_.Start(decided_.report); !started) {
    return Shutdown(started.error().ExitCode(), started.error().Wrap("entrypoint").Message());
  }
  auto ports = sidecar::OpenLivePorts(io_, options_.sidecar, reconciler_.state().rules.backend);
  if (!ports) return Shutdown(ports.error().ExitCode(), ports.error().Wrap("entrypoint").Message());
  // Readiness is published after every probe round and event: the command starts on the round
  // that verifies egress, not on a later tick.
  sidecar_.emplace(io_, reconciler_, options_.sidecar, std::move(ports).value(),
                   [this](const http::Readiness& readiness) { OnReadiness(readiness); });
  if (auto started = sidecar_->Start(); !started) {
    return Shutdown(started.error().ExitCode(), started.error().Wrap("entrypoint").Message());
  }
  if (options_.command.empty()) {
    phase_ = Phase::kServing;
    log::Info("no command: dockerd keeps running until SIGTERM",
              {{"docker_host", "unix://" + options_.sidecar.docker->socket_path}});
    return;
  }
  if (options_.wait_egress && options_.sidecar.egress) {
    phase_ = Phase::kWaitingForEgress;
    phase_started_ = Clock::now();
    return WaitForEgress();
  }
  StartCommand();
}

void Entrypoint::WaitForEgress() {
  egress_deadline_.expires_after(options_.ready_timeout);
  egress_deadline_.async_wait([this](const boost::system::error_code& error) {
    if (error || phase_ != Phase::kWaitingForEgress) return;
    Shutdown(1, "nested egress was not verified within " + Seconds(options_.ready_timeout) + ": " +
                    sidecar_->Readiness().reason +
                    "; the command was not started (--no-wait-egress starts it anyway)");
  });
  OnReadiness(sidecar_->Readiness());
}

void Entrypoint::OnReadiness(const http::Readiness& readiness) {
  if (phase_ != Phase::kWaitingForEgress || !readiness.ready) return;
  phase_ = Phase::kStartingCommand;
  egress_deadline_.cancel();
  const auto waited = std::chrono::duration_cast<milliseconds>(Clock::now() - phase_started_);
  log::Info("nested egress verified", {{"after", Seconds(waited)}});
  // Not from inside the sidecar's callback: a command that cannot start stops the sidecar.
  asio::post(io_, [this] {
    if (phase_ == Phase::kStartingCommand) StartCommand();
  });
}

void Entrypoint::StartCommand() {
  const std::string docker_host = "unix://" + options_.sidecar.docker->socket_path;
  // Its own group: the signals the entrypoint gets go to it and whatever it starts.
  LaunchSpec command{.argv = options_.command,
                     .extra_environment = {"DOCKER_HOST=" + docker_host},
                     .new_process_group = true,
                     .take_terminal = true};
  auto pid = Launch(command);
  if (!pid)
    return Shutdown(pid.error().ExitCode(), pid.error().Wrap("starting the command").Message());
  command_ = *pid;
  phase_ = Phase::kRunningCommand;
  if (auto watched = supervisor_->Watch(
          command_,
          [this](const ExitStatus& status) {
            command_ = 0;
            command_kill_timer_.cancel();
            log::Info("the command " + status.Describe(), {{"pid", std::to_string(status.pid)}});
            Shutdown(status.ShellStatus(), "");
          });
      !watched) {
    return Shutdown(1, watched.error().Message());
  }
  supervisor_->ForwardSignalsTo(command_);
  log::Info("command started", {{"pid", std::to_string(command_)},
                                {"argv", Join(options_.command, " ")},
                                {"DOCKER_HOST", docker_host}});
}

void Entrypoint::OnSignal(int signal_number) {
  const bool stop = signal_number == SIGTERM || signal_number == SIGINT;
  if (phase_ == Phase::kRunningCommand) {
    // Forwarded already; the command's end ends the rest. One that ignores it is killed.
    if (stop) {
      log::Info(
          "signal forwarded to the command; it has " + Seconds(options_.stop_timeout) + " to end",
          {{"signal", ::strsignal(signal_number)}});
      command_kill_timer_.expires_after(options_.stop_timeout);
      command_kill_timer_.async_wait([this](const boost::system::error_code& error) {
        if (error || command_ == 0) return;
        log::Warn("the command did not end in time: killing its process group",
                  {{"pid", std::to_string(command_)}});
        ::kill(-command_, SIGKILL);
      });
    }
    return;
  }
  if (stop) {
    // Without a command, a stop is the normal end; before the command ran, the job did not.
    const int code = phase_ == Phase::kServing ? 0 : 128 + signal_number;
    return Shutdown(code, "");
  }
  // As dockerd's own PID 1 would: SIGHUP makes it reload daemon.json.
  if (signal_number == SIGHUP && dockerd_ != 0) ::kill(dockerd_, SIGHUP);
}

void Entrypoint::OnDockerdExit(const ExitStatus& status) {
  dockerd_ = 0;
  if (phase_ == Phase::kStopping) return;  // StopDockerd's own callback goes on
  Shutdown(1, "dockerd " + status.Describe() +
                  " on its own; its log above on stderr says why. Everything it ran is gone, "
                  "so the entrypoint ends too");
}

void Entrypoint::Shutdown(int exit_code, const std::string& why) {
  if (phase_ == Phase::kStopping) return;
  phase_ = Phase::kStopping;
  exit_code_ = exit_code;
  if (!why.empty()) log::Error(why, {{"exit_code", std::to_string(exit_code)}});
  ping_timer_.cancel();
  egress_deadline_.cancel();
  if (sidecar_ && sidecar_->Stop() != 0 && exit_code_ == 0) exit_code_ = 1;
  if (command_ != 0) {
    // The command outlives dockerd only when dockerd failed first: it gets the same warning.
    const pid_t command = command_;
    auto stopping =
        supervisor_->StopGracefully(command, options_.stop_timeout, StopScope::kProcessGroup,
                                    [this](const ExitStatus&) { StopDockerd(); });
    if (stopping) return;
    log::Warn("stopping the command failed", {{"error", stopping.error().Message()}});
  }
  StopDockerd();
}

void Entrypoint::StopDockerd() {
  // One budget for dockerd and the containerd it leaves behind.
  const Clock::time_point deadline = Clock::now() + options_.stop_timeout;
  if (dockerd_ == 0) return AfterDockerd(deadline);
  log::Info("stopping dockerd",
            {{"pid", std::to_string(dockerd_)}, {"timeout", Seconds(options_.stop_timeout)}});
  auto stopping = supervisor_->StopGracefully(dockerd_, options_.stop_timeout, StopScope::kProcess,
                                              [this, deadline](const ExitStatus& status) {
                                                log::Info("dockerd " + status.Describe());
                                                AfterDockerd(deadline);
                                              });
  if (!stopping) {
    log::Warn("stopping dockerd failed", {{"error", stopping.error().Message()}});
    AfterDockerd(deadline);
  }
}

void Entrypoint::AfterDockerd(Clock::time_point deadline) {
  const auto left = std::max(milliseconds(100),
                             std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
  supervisor_->WaitForNoChildren(left, [this](const std::vector<pid_t>& still_running) {
    if (still_running.empty()) return KillOrphans(0);
    log::Warn("processes left after dockerd stopped were killed",
              {{"pids", KillEach(still_running)}});
    KillOrphans(kOrphanRounds);
  });
}

// A containerd-shim killed above orphans its container's processes (a dockerd stopped by SIGKILL
// never stopped them): only then do they come to us, the subreaper, still in the cgroups below
// cgroup-parent. Each round kills the children that arrived, until none is left, so those
// cgroups are empty when they are removed (a cgroup that holds a process cannot be).
void Entrypoint::KillOrphans(int rounds_left) {
  if (rounds_left == 0) {
    RemoveLeftCgroups();
    log::Info("entrypoint done", {{"exit_code", std::to_string(exit_code_)}});
    io_.stop();
    return;
  }
  supervisor_->WaitForNoChildren(
      kOrphanWait, [this, rounds_left](const std::vector<pid_t>& still_running) {
        if (still_running.empty()) return KillOrphans(0);
        log::Warn("orphans of the killed processes (a nested container's own) were killed",
                  {{"pids", KillEach(still_running)}});
        KillOrphans(rounds_left - 1);
      });
}

int Entrypoint::Run() {
  auto supervisor =
      ProcessSupervisor::Start(io_, [this](int signal_number) { OnSignal(signal_number); });
  if (!supervisor) {
    log::Error(supervisor.error().Wrap("entrypoint").Message());
    return supervisor.error().ExitCode();
  }
  supervisor_ = std::move(supervisor).value();
  NestCgroups();
  if (options_.load_modules) {
    LoadKernelModules(decided_.backend, decided_.report.uplinks.ipv6.has_value());
  }
  if (auto started = StartDockerd(); !started) {
    log::Error(started.error().Wrap("entrypoint").Message(),
               {{"exit_code", std::to_string(started.error().ExitCode())}});
    if (dockerd_ == 0) return started.error().ExitCode();
    Shutdown(started.error().ExitCode(), "");
  }
  io_.run();
  sidecar_.reset();  // the probe leaves docker0 while the loop's objects exist
  return exit_code_;
}

}  // namespace

int RunEntrypoint(const EntrypointOptions& options, sidecar::Reconciler& reconciler,
                  Decided decided) {
  asio::io_context io;
  Entrypoint entrypoint(io, options, reconciler, std::move(decided));
  return entrypoint.Run();
}

}  // namespace dind::entrypoint
