// SPDX-License-Identifier: Apache-2.0
#include "daemon/entrypoint/entrypoint.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cstring>

#include "common/check.h"
#include "common/log.h"
#include "common/strings.h"
#include "daemon/egress/probe.h"
#include "daemon/entrypoint/dockerd_iptables.h"
#include "daemon/entrypoint/dockerd_pidfiles.h"
#include "daemon/pod/configure_here.h"
#include "netcfg/cgroups/cgroup_nesting.h"
#include "netcfg/daemon_json/atomic_file.h"

namespace dind::entrypoint {
namespace {

namespace asio = boost::asio;
using process::ExitStatus;
using process::LaunchSpec;
using process::StopScope;
using std::chrono::milliseconds;

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string Seconds(milliseconds duration) {
  return egress::FormatDuration(duration);
}

}  // namespace

std::string_view Entrypoint::PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kStarting:
      return "starting";
    case Phase::kNestingCgroups:
      return "nesting-cgroups";
    case Phase::kLoadingModules:
      return "loading-modules";
    case Phase::kPreparingDockerd:
      return "preparing-dockerd";
    case Phase::kStartingDockerd:
      return "starting-dockerd";
    case Phase::kStartingSidecar:
      return "starting-sidecar";
    case Phase::kServing:
      return "serving";
    case Phase::kWaitingForEgress:
      return "waiting-for-egress";
    case Phase::kStartingCommand:
      return "starting-command";
    case Phase::kRunningCommand:
      return "running-command";
    case Phase::kStoppingCommand:
      return "stopping-command";
    case Phase::kStoppingDockerd:
      return "stopping-dockerd";
    case Phase::kWaitingForChildren:
      return "waiting-for-children";
    case Phase::kKillingOrphans:
      return "killing-orphans";
    case Phase::kRemovingCgroups:
      return "removing-cgroups";
    case Phase::kDone:
      return "done";
  }
  return "unknown";
}

Entrypoint::Entrypoint(asio::io_context& io, const EntrypointOptions& options, Decided decided,
                       EntrypointPorts ports)
    : io_(io),
      options_(options),
      decided_(std::move(decided)),
      ports_(ports),
      ping_timer_(io),
      egress_deadline_(io),
      command_kill_timer_(io),
      phase_started_(ports.clock.Now()) {
  DIND_CHECK(options_.sidecar.docker.has_value(), "the entrypoint serves dockerd's API: a socket");
}

void Entrypoint::Enter(Phase phase) {
  phase_ = phase;
  log::Debug("entrypoint phase", {{"phase", std::string(PhaseName(phase))}});
}

milliseconds Entrypoint::Since(TimePoint start) {
  return std::chrono::duration_cast<milliseconds>(ports_.clock.Now() - start);
}

std::string Entrypoint::KillEach(const std::vector<pid_t>& pids) {
  std::vector<std::string> killed;
  for (pid_t pid : pids) {
    killed.push_back(std::to_string(pid));
    ports_.processes.Kill(pid, SIGKILL);
  }
  return Join(killed, " ");
}

// Before dockerd starts: with cgroup v2, a cgroup that holds processes cannot give controllers
// to children, so this container's processes move to <own>/init and dockerd's go below
// <own>/dind. Whatever cannot be done is said; dockerd then runs with its default.
void Entrypoint::NestCgroups() {
  Enter(Phase::kNestingCgroups);
  const netcfg::CgroupNestingPlan& plan = decided_.report.cgroup_nesting;
  auto applied = netcfg::ApplyCgroupNesting(plan, ports_.cgroups);
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

// docker:dind loads the backend's modules because a container cannot see which are built in;
// modprobe needs the node's /lib/modules, which pods often do not mount. Never fatal: the
// backend choice already proved what works.
void Entrypoint::LoadKernelModules() {
  Enter(Phase::kLoadingModules);
  const rules::BackendKind backend = decided_.backend;
  const std::string modules_dir = ports_.modules.ModulesDir();
  if (!ports_.modules.ModulesDirMounted()) {
    log::Info("kernel modules not loaded: " + modules_dir +
                  " is not mounted in this container (mount the node's /lib/modules read-only "
                  "to let the entrypoint modprobe them; what is built in or already loaded works)",
              {{"backend", std::string(rules::BackendName(backend))}});
    return;
  }
  std::vector<std::string> loaded, failed;
  for (const auto& module : ModulesFor(backend, decided_.report.uplinks.ipv6.has_value())) {
    (ports_.modules.Load(module) ? loaded : failed).push_back(module);
  }
  log::Info("kernel modules", {{"loaded", Join(loaded, " ")},
                               {"not_loaded", failed.empty() ? "none" : Join(failed, " ")},
                               {"read_from", modules_dir}});
}

// After dockerd: the cgroups its containers left are empty now; nothing is leaked.
void Entrypoint::RemoveLeftCgroups() {
  Enter(Phase::kRemovingCgroups);
  for (const auto& parent : cgroup_cleanup_below_) {
    auto cleaned = netcfg::RemoveEmptyCgroupsBelow(parent, ports_.cgroups);
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
  const std::string path = ports_.environment.Get("PATH").value_or(kDefaultPath);
  auto plan = PlanIptablesShim(
      decided_.backend, IptablesSearchDirs(path),
      [this](const std::string& file) { return ports_.environment.IsExecutable(file); });
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
  Enter(Phase::kPreparingDockerd);
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
  Enter(Phase::kStartingDockerd);
  // dockerd's output goes to the container's stderr beside ours: `kubectl logs` shows both.
  auto pid = ports_.processes.Launch({.argv = *argv,
                                      .extra_environment = *environment,
                                      .new_process_group = true,
                                      .output_fd = STDERR_FILENO});
  if (!pid) return pid.error().Wrap("starting dockerd");
  dockerd_ = *pid;
  DIND_RETURN_IF_ERROR(ports_.processes.Watch(
      dockerd_, [this](const ExitStatus& status) { OnDockerdExit(status); }));
  log::Info("dockerd started", {{"pid", std::to_string(dockerd_)}, {"argv", Join(*argv, " ")}});
  phase_started_ = ports_.clock.Now();
  Ping();
  return OkStatus();
}

void Entrypoint::Ping() {
  ports_.dockerd_ping.Ping([this](Result<std::string> answer) {
    if (phase_ != Phase::kStartingDockerd) return;
    if (answer) return OnDockerdAnswers();
    if (Since(phase_started_) >= options_.ready_timeout) {
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
  log::Info("dockerd answers", {{"socket", options_.sidecar.docker->socket_path},
                                {"after", Seconds(Since(phase_started_))}});
  Enter(Phase::kStartingSidecar);
  // Readiness is published after every probe round and event: the command starts on the round
  // that verifies egress, not on a later tick.
  sidecar_started_ = true;
  if (auto started = ports_.sidecar.Start(
          decided_.report, [this](const http::Readiness& readiness) { OnReadiness(readiness); });
      !started) {
    return Shutdown(started.error().ExitCode(), started.error().Wrap("entrypoint").Message());
  }
  if (options_.command.empty()) {
    Enter(Phase::kServing);
    log::Info("no command: dockerd keeps running until SIGTERM",
              {{"docker_host", "unix://" + options_.sidecar.docker->socket_path}});
    return;
  }
  if (options_.wait_egress && options_.sidecar.egress) {
    Enter(Phase::kWaitingForEgress);
    phase_started_ = ports_.clock.Now();
    return WaitForEgress();
  }
  StartCommand();
}

void Entrypoint::WaitForEgress() {
  egress_deadline_.expires_after(options_.ready_timeout);
  egress_deadline_.async_wait([this](const boost::system::error_code& error) {
    if (error || phase_ != Phase::kWaitingForEgress) return;
    Shutdown(1, "nested egress was not verified within " + Seconds(options_.ready_timeout) + ": " +
                    ports_.sidecar.Readiness().reason +
                    "; the command was not started (--no-wait-egress starts it anyway)");
  });
  OnReadiness(ports_.sidecar.Readiness());
}

void Entrypoint::OnReadiness(const http::Readiness& readiness) {
  if (phase_ != Phase::kWaitingForEgress || !readiness.ready) return;
  Enter(Phase::kStartingCommand);
  egress_deadline_.cancel();
  log::Info("nested egress verified", {{"after", Seconds(Since(phase_started_))}});
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
  auto pid = ports_.processes.Launch(command);
  if (!pid)
    return Shutdown(pid.error().ExitCode(), pid.error().Wrap("starting the command").Message());
  command_ = *pid;
  Enter(Phase::kRunningCommand);
  if (auto watched = ports_.processes.Watch(
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
  ports_.processes.ForwardSignalsTo(command_);
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
        ports_.processes.Kill(-command_, SIGKILL);
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
  if (signal_number == SIGHUP && dockerd_ != 0) ports_.processes.Kill(dockerd_, SIGHUP);
}

void Entrypoint::OnDockerdExit(const ExitStatus& status) {
  dockerd_ = 0;
  if (Stopping()) return;  // StopDockerd's own callback goes on
  Shutdown(1, "dockerd " + status.Describe() +
                  " on its own; its log above on stderr says why. Everything it ran is gone, "
                  "so the entrypoint ends too");
}

void Entrypoint::Shutdown(int exit_code, const std::string& why) {
  if (Stopping()) return;
  Enter(Phase::kStoppingCommand);
  exit_code_ = exit_code;
  if (!why.empty()) log::Error(why, {{"exit_code", std::to_string(exit_code)}});
  ping_timer_.cancel();
  egress_deadline_.cancel();
  if (sidecar_started_ && ports_.sidecar.Stop() != 0 && exit_code_ == 0) exit_code_ = 1;
  if (command_ != 0) {
    // The command outlives dockerd only when dockerd failed first: it gets the same warning.
    const pid_t command = command_;
    auto stopping =
        ports_.processes.StopGracefully(command, options_.stop_timeout, StopScope::kProcessGroup,
                                        [this](const ExitStatus&) { StopDockerd(); });
    if (stopping) return;
    log::Warn("stopping the command failed", {{"error", stopping.error().Message()}});
  }
  StopDockerd();
}

void Entrypoint::StopDockerd() {
  Enter(Phase::kStoppingDockerd);
  // One budget for dockerd and the containerd it leaves behind.
  const TimePoint deadline = ports_.clock.Now() + options_.stop_timeout;
  if (dockerd_ == 0) return AfterDockerd(deadline);
  log::Info("stopping dockerd",
            {{"pid", std::to_string(dockerd_)}, {"timeout", Seconds(options_.stop_timeout)}});
  auto stopping =
      ports_.processes.StopGracefully(dockerd_, options_.stop_timeout, StopScope::kProcess,
                                      [this, deadline](const ExitStatus& status) {
                                        log::Info("dockerd " + status.Describe());
                                        AfterDockerd(deadline);
                                      });
  if (!stopping) {
    log::Warn("stopping dockerd failed", {{"error", stopping.error().Message()}});
    AfterDockerd(deadline);
  }
}

void Entrypoint::AfterDockerd(TimePoint deadline) {
  Enter(Phase::kWaitingForChildren);
  const auto left = std::max(
      milliseconds(100), std::chrono::duration_cast<milliseconds>(deadline - ports_.clock.Now()));
  ports_.processes.WaitForNoChildren(left, [this](const std::vector<pid_t>& still_running) {
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
    Enter(Phase::kDone);
    log::Info("entrypoint done", {{"exit_code", std::to_string(exit_code_)}});
    io_.stop();
    return;
  }
  Enter(Phase::kKillingOrphans);
  ports_.processes.WaitForNoChildren(
      kOrphanWait, [this, rounds_left](const std::vector<pid_t>& still_running) {
        if (still_running.empty()) return KillOrphans(0);
        log::Warn("orphans of the killed processes (a nested container's own) were killed",
                  {{"pids", KillEach(still_running)}});
        KillOrphans(rounds_left - 1);
      });
}

int Entrypoint::Run() {
  Enter(Phase::kStarting);
  if (auto started = ports_.processes.Start([this](int signal_number) { OnSignal(signal_number); });
      !started) {
    log::Error(started.error().Wrap("entrypoint").Message());
    return started.error().ExitCode();
  }
  NestCgroups();
  if (options_.load_modules) LoadKernelModules();
  if (auto started = StartDockerd(); !started) {
    log::Error(started.error().Wrap("entrypoint").Message(),
               {{"exit_code", std::to_string(started.error().ExitCode())}});
    if (dockerd_ == 0) return started.error().ExitCode();
    Shutdown(started.error().ExitCode(), "");
  }
  io_.run();
  return exit_code_;
}

}  // namespace dind::entrypoint
