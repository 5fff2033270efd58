// SPDX-License-Identifier: Apache-2.0
// The entrypoint's seams to the world outside its state machine (entrypoint.h): the processes it
// starts and the signals it gets as PID 1, dockerd's /_ping, the kernel's modules, its own
// environment, the clock and the sidecar's loop that gates the command. The cgroup file system is
// netcfg::CgroupFs. They come in through the Entrypoint's constructor (live_entrypoint_ports.h
// opens the real ones), so every phase and exit code is tested on the fakes of
// tests/mocks/fake_entrypoint_ports.h, without root.
//
// Every callback runs from the io_context the Entrypoint runs, never from inside the call that
// registered it, as the real ones do.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/http/health_routes.h"
#include "daemon/process/child_process.h"
#include "daemon/process/supervisor.h"
#include "netcfg/cgroups/cgroup_fs.h"
#include "netcfg/detect/detector.h"

namespace dind::entrypoint {

// The children the entrypoint starts, and what being their PID 1 reports (process/supervisor.h).
class Processes {
 public:
  using ExitCallback = std::function<void(const process::ExitStatus&)>;
  using SignalCallback = std::function<void(int signal_number)>;
  // The pids still alive at the timeout; empty when no child is left.
  using NoChildrenCallback = std::function<void(const std::vector<pid_t>& still_running)>;
  virtual ~Processes() = default;

  // Reaps every child from now on and reports each forwarded signal (SIGTERM, SIGINT, SIGHUP, …)
  // to `on_signal`, after forwarding it to the group ForwardSignalsTo set.
  virtual Status Start(SignalCallback on_signal) = 0;
  // A program that cannot be started is kBadInput (exit 2).
  virtual Result<pid_t> Launch(const process::LaunchSpec& spec) = 0;
  // `on_exit` runs once, when `pid` is reaped; call it in the loop turn that launched it.
  virtual Status Watch(pid_t pid, ExitCallback on_exit) = 0;
  virtual void ForwardSignalsTo(pid_t process_group) = 0;
  // SIGTERM, then SIGKILL after `timeout`; `done` runs after the Watch callbacks of `pid`.
  virtual Status StopGracefully(pid_t pid, std::chrono::milliseconds timeout,
                                process::StopScope scope, ExitCallback done) = 0;
  // `done` once no child at all is left, or at `timeout` with the ones still there.
  virtual void WaitForNoChildren(std::chrono::milliseconds timeout, NoChildrenCallback done) = 0;
  // kill(2): a negative pid is a process group.
  virtual void Kill(pid_t pid, int signal_number) = 0;
};

// dockerd's Engine API, as far as the entrypoint waits for it.
class DockerdPing {
 public:
  using PingCallback = std::function<void(Result<std::string>)>;
  virtual ~DockerdPing() = default;
  // GET /_ping once, with a deadline of its own; the body of a 200 answer, an Error otherwise.
  virtual void Ping(PingCallback done) = 0;
};

// modprobe and the node's module directory it reads.
class ModuleLoader {
 public:
  virtual ~ModuleLoader() = default;
  // Where the running kernel's modules are: /lib/modules/<release>.
  virtual std::string ModulesDir() = 0;
  // Whether that directory is there (pods often do not mount the node's /lib/modules).
  virtual bool ModulesDirMounted() = 0;
  // `modprobe -q module`: false when it failed.
  virtual bool Load(const std::string& module) = 0;
};

// This process's environment and the programs on its file system.
class Environment {
 public:
  virtual ~Environment() = default;
  virtual std::optional<std::string> Get(const std::string& name) = 0;
  // An executable file (access X_OK): where dockerd's iptables links may point.
  virtual bool IsExecutable(const std::string& path) = 0;
};

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual TimePoint Now() = 0;
};

// The sidecar's loop in this process (rules applied and repaired, dockerd's networks followed,
// the egress probe, the endpoint): its readiness gates the command.
class SidecarGate {
 public:
  using ReadinessCallback = std::function<void(const http::Readiness&)>;
  virtual ~SidecarGate() = default;
  // Starts the reconciler on `report` and the sidecar beside it; `on_readiness` hears readiness
  // after every probe round and event. An Error (the endpoint's address taken, say) ends the
  // entrypoint with its exit code.
  virtual Status Start(const netcfg::DetectionReport& report, ReadinessCallback on_readiness) = 0;
  virtual http::Readiness Readiness() const = 0;
  // Stops following and probing (then --cleanup-on-exit removes the rules): the exit code, 1
  // when removing them failed. Called once, after Start, whether Start succeeded or not.
  virtual int Stop() = 0;
};

// What the Entrypoint reaches the world through; each outlives it.
struct EntrypointPorts {
  Processes& processes;
  DockerdPing& dockerd_ping;
  netcfg::CgroupFs& cgroups;
  ModuleLoader& modules;
  Environment& environment;
  Clock& clock;
  SidecarGate& sidecar;
};

}  // namespace dind::entrypoint
