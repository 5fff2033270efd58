// SPDX-License-Identifier: Apache-2.0
// The entrypoint's ports (entrypoint_ports.h) against the real world: posix_spawn and the
// ProcessSupervisor (reaping, signals, subreaper), dockerd's API socket, uname and modprobe,
// getenv and access, the steady clock, and the reconciler with the sidecar's live ports.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <optional>
#include <string>

#include "daemon/docker/docker_client.h"
#include "daemon/entrypoint/entrypoint_ports.h"
#include "daemon/process/supervisor.h"
#include "daemon/sidecar/reconciler.h"
#include "daemon/sidecar/sidecar.h"
#include "netcfg/cgroups/cgroup_fs.h"

namespace dind::entrypoint {

class LiveProcesses final : public Processes {
 public:
  explicit LiveProcesses(boost::asio::io_context& io) : io_(io) {}
  Status Start(SignalCallback on_signal) override;
  Result<pid_t> Launch(const process::LaunchSpec& spec) override;
  Status Watch(pid_t pid, ExitCallback on_exit) override;
  void ForwardSignalsTo(pid_t process_group) override;
  Status StopGracefully(pid_t pid, std::chrono::milliseconds timeout, process::StopScope scope,
                        ExitCallback done) override;
  void WaitForNoChildren(std::chrono::milliseconds timeout, NoChildrenCallback done) override;
  void Kill(pid_t pid, int signal_number) override;

 private:
  boost::asio::io_context& io_;
  std::unique_ptr<process::ProcessSupervisor> supervisor_;  // set by Start
};

class LiveDockerdPing final : public DockerdPing {
 public:
  // One request at a time, each given at most a second: a dockerd that is still starting
  // accepts the connection before it answers.
  LiveDockerdPing(boost::asio::io_context& io, docker::ClientOptions options);
  void Ping(PingCallback done) override;

 private:
  boost::asio::io_context& io_;
  docker::ClientOptions options_;
  std::unique_ptr<docker::DockerClient> client_;  // made at the first ping
};

class LiveModuleLoader final : public ModuleLoader {
 public:
  std::string ModulesDir() override;
  bool ModulesDirMounted() override;
  bool Load(const std::string& module) override;
};

class LiveEnvironment final : public Environment {
 public:
  std::optional<std::string> Get(const std::string& name) override;
  bool IsExecutable(const std::string& path) override;
};

class SteadyClock final : public Clock {
 public:
  TimePoint Now() override { return std::chrono::steady_clock::now(); }
};

// The reconciler and the sidecar on the live ports of live_sidecar.h.
class LiveSidecarGate final : public SidecarGate {
 public:
  // `reconciler` has not started; it, `io` and `options` outlive the gate.
  LiveSidecarGate(boost::asio::io_context& io, sidecar::Reconciler& reconciler,
                  const sidecar::SidecarOptions& options)
      : io_(io), reconciler_(reconciler), options_(options) {}
  Status Start(const netcfg::DetectionReport& report, ReadinessCallback on_readiness) override;
  http::Readiness Readiness() const override;
  int Stop() override;
  // Destroys the sidecar while the loop's objects still exist: its probe leaves docker0.
  void Release() { sidecar_.reset(); }

 private:
  boost::asio::io_context& io_;
  sidecar::Reconciler& reconciler_;
  const sidecar::SidecarOptions& options_;
  std::optional<sidecar::Sidecar> sidecar_;
};

}  // namespace dind::entrypoint
