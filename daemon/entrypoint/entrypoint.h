// SPDX-License-Identifier: Apache-2.0
// `entrypoint`: dind-netcfg as the dind container's PID 1, beside the dockerd it starts. In
// order, on one event loop:
//
//   cgroups nested (v2: init/dind split) → kernel modules (best effort) → dockerd's iptables in the
//   chosen backend → daemon.json → dockerd started, supervised, /_ping awaited → rules applied and
//   the sidecar's loop running in this process → nested egress verified → COMMAND run with
//   DOCKER_HOST → COMMAND's end → dockerd (and its containerd) stopped → empty cgroups removed →
//   exit with COMMAND's status
//
// Without a COMMAND it keeps dockerd running, as docker:dind does, until SIGTERM; dockerd
// ending on its own ends the entrypoint with a non-zero status, so the pod never hangs. Every
// decision about this container (its backend, its cgroup) is made here, in the container that
// runs dockerd, from this process's own view of the kernel.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "daemon/entrypoint/dockerd_command.h"
#include "daemon/entrypoint/entrypoint_ports.h"
#include "daemon/sidecar/reconciler.h"
#include "daemon/sidecar/sidecar.h"
#include "netcfg/detect/detector.h"
#include "rules/masquerade.h"

namespace dind::entrypoint {

struct EntrypointOptions {
  std::string daemon_json;
  DockerdLaunch dockerd;  // daemon_json and socket are filled from the fields here
  // The private directory of dockerd's iptables links; empty: dockerd's iptables as the image
  // has it (--no-dockerd-iptables).
  std::string iptables_dir;
  bool load_modules = true;
  std::chrono::milliseconds ready_timeout{std::chrono::seconds(120)};
  std::chrono::milliseconds stop_timeout{std::chrono::seconds(10)};
  bool wait_egress = true;
  std::vector<std::string> command;  // empty: keep dockerd running until SIGTERM
  // How cgroup-parent is chosen (an explicit --cgroup-parent wins over the nesting's).
  netcfg::CgroupParentOptions cgroup;
  sidecar::SidecarOptions sidecar;  // its docker socket is the one dockerd serves
};

// What was decided in this container before dockerd starts.
struct Decided {
  // Its cgroup_nesting plan is carried out here, before dockerd starts, and the cgroup-parent
  // written follows what was done.
  netcfg::DetectionReport report;
  rules::BackendKind backend;  // for our rules and for dockerd's own iptables
};

// The sequence as a state machine on `io`, reaching the world only through `ports` (tests drive
// it with fakes). Each phase is entered once, in this order, skipping those that do not apply:
//
//   starting → nesting-cgroups → loading-modules → preparing-dockerd → starting-dockerd (/_ping)
//   → starting-sidecar → { serving | waiting-for-egress → starting-command → running-command }
//   → stopping-command → stopping-dockerd → waiting-for-children → killing-orphans
//   → removing-cgroups → done
//
// Any phase before stopping-command may jump there (a signal, dockerd's end, a timeout, a
// failure); the exit code is then fixed.
class Entrypoint {
 public:
  enum class Phase {
    kStarting,            // becoming PID 1: reaping, signals
    kNestingCgroups,      // the cgroup nesting plan carried out
    kLoadingModules,      // modprobe of the backend's modules
    kPreparingDockerd,    // dockerd's iptables links, daemon.json, stale pidfiles
    kStartingDockerd,     // dockerd launched, GET /_ping until it answers
    kStartingSidecar,     // the reconciler and the sidecar's loop
    kServing,             // no command: dockerd runs until SIGTERM
    kWaitingForEgress,    // the command waits for nested egress
    kStartingCommand,     // egress verified, the command about to start
    kRunningCommand,      // signals go to it; its end ends the rest
    kStoppingCommand,     // the sidecar stopped, the command given stop-timeout
    kStoppingDockerd,     // dockerd given what is left of stop-timeout
    kWaitingForChildren,  // containerd and the rest it leaves behind
    kKillingOrphans,      // rounds of SIGKILL to the orphans that keep coming
    kRemovingCgroups,     // the empty cgroups dockerd's containers left
    kDone
  };
  // "starting-dockerd", as the debug log and the tests name it.
  static std::string_view PhaseName(Phase phase);

  // After dockerd: how long one round waits for killed processes to go and their orphans to
  // come (containerd, then each shim, then each container's init: three generations), and how
  // many.
  static constexpr std::chrono::milliseconds kOrphanWait{1000};
  static constexpr int kOrphanRounds = 4;
  // How often GET /_ping is retried while dockerd starts.
  static constexpr std::chrono::milliseconds kPingEvery{50};

  // `io`, `options` and the ports outlive the Entrypoint.
  Entrypoint(boost::asio::io_context& io, const EntrypointOptions& options, Decided decided,
             EntrypointPorts ports);
  Entrypoint(const Entrypoint&) = delete;
  Entrypoint& operator=(const Entrypoint&) = delete;

  // Runs the whole sequence on `io` until its end; returns the exit code: COMMAND's status
  // (128+N when signal N ended it), 0 after SIGTERM without a COMMAND, 1 when dockerd or nested
  // egress failed, 2 for bad input found on the way (a COMMAND that does not exist).
  int Run();

  Phase phase() const { return phase_; }

 private:
  using TimePoint = Clock::TimePoint;

  void Enter(Phase phase);
  bool Stopping() const { return phase_ >= Phase::kStoppingCommand; }
  std::chrono::milliseconds Since(TimePoint start);
  void NestCgroups();
  void LoadKernelModules();
  void RemoveLeftCgroups();
  Result<std::vector<std::string>> DockerdEnvironment();
  Status StartDockerd();
  void Ping();
  void OnDockerdAnswers();
  void WaitForEgress();
  void OnReadiness(const http::Readiness& readiness);
  void StartCommand();
  void OnSignal(int signal_number);
  void OnDockerdExit(const process::ExitStatus& status);
  // Stops everything that still runs, in order, then the loop; exits with `exit_code`.
  void Shutdown(int exit_code, const std::string& why);
  void StopDockerd();
  void AfterDockerd(TimePoint deadline);
  void KillOrphans(int rounds_left);
  // SIGKILL to each; returns their pids for the log.
  std::string KillEach(const std::vector<pid_t>& pids);

  boost::asio::io_context& io_;
  const EntrypointOptions& options_;
  Decided decided_;
  EntrypointPorts ports_;
  std::vector<std::string> cgroup_cleanup_below_;
  bool sidecar_started_ = false;  // SidecarGate::Start was called: Stop is owed
  boost::asio::steady_timer ping_timer_;
  boost::asio::steady_timer egress_deadline_;
  boost::asio::steady_timer command_kill_timer_;
  Phase phase_ = Phase::kStarting;
  TimePoint phase_started_;
  pid_t dockerd_ = 0;
  pid_t command_ = 0;
  int exit_code_ = 0;
};

// Runs the whole sequence against the real world (live_entrypoint_ports.h) and returns the exit
// code, as Entrypoint::Run. `reconciler` has not started.
int RunEntrypoint(const EntrypointOptions& options, sidecar::Reconciler& reconciler,
                  Decided decided);

}  // namespace dind::entrypoint
