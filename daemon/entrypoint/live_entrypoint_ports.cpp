// SPDX-License-Identifier: Apache-2.0
#include "daemon/entrypoint/live_entrypoint_ports.h"

#include <signal.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <utility>

#include "common/check.h"
#include "common/files.h"
#include "daemon/entrypoint/entrypoint.h"
#include "daemon/sidecar/live_sidecar.h"

namespace dind::entrypoint {

Status LiveProcesses::Start(SignalCallback on_signal) {
  auto supervisor = process::ProcessSupervisor::Start(io_, std::move(on_signal));
  if (!supervisor) return supervisor.error();
  supervisor_ = std::move(supervisor).value();
  return OkStatus();
}

Result<pid_t> LiveProcesses::Launch(const process::LaunchSpec& spec) {
  return process::Launch(spec);
}

Status LiveProcesses::Watch(pid_t pid, ExitCallback on_exit) {
  DIND_CHECK(supervisor_ != nullptr, "LiveProcesses::Start first");
  return supervisor_->Watch(pid, std::move(on_exit));
}

void LiveProcesses::ForwardSignalsTo(pid_t process_group) {
  DIND_CHECK(supervisor_ != nullptr, "LiveProcesses::Start first");
  supervisor_->ForwardSignalsTo(process_group);
}

Status LiveProcesses::StopGracefully(pid_t pid, std::chrono::milliseconds timeout,
                                     process::StopScope scope, ExitCallback done) {
  DIND_CHECK(supervisor_ != nullptr, "LiveProcesses::Start first");
  return supervisor_->StopGracefully(pid, timeout, scope, std::move(done));
}

void LiveProcesses::WaitForNoChildren(std::chrono::milliseconds timeout, NoChildrenCallback done) {
  DIND_CHECK(supervisor_ != nullptr, "LiveProcesses::Start first");
  supervisor_->WaitForNoChildren(timeout, std::move(done));
}

void LiveProcesses::Kill(pid_t pid, int signal_number) {
  ::kill(pid, signal_number);
}

LiveDockerdPing::LiveDockerdPing(boost::asio::io_context& io, docker::ClientOptions options)
    : io_(io), options_(std::move(options)) {
  options_.request_timeout = std::chrono::milliseconds(1000);
}

void LiveDockerdPing::Ping(PingCallback done) {
  if (!client_) client_ = std::make_unique<docker::DockerClient>(io_, options_);
  client_->Get("/_ping", std::move(done));
}

std::string LiveModuleLoader::ModulesDir() {
  struct utsname kernel {};
  ::uname(&kernel);
  return std::string("/lib/modules/") + kernel.release;
}

bool LiveModuleLoader::ModulesDirMounted() {
  return std::filesystem::is_directory(ModulesDir());
}

bool LiveModuleLoader::Load(const std::string& module) {
  return RunAndCapture({"modprobe", "-q", module}).ok();
}

std::optional<std::string> LiveEnvironment::Get(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

bool LiveEnvironment::IsExecutable(const std::string& path) {
  return ::access(path.c_str(), X_OK) == 0;
}

Status LiveSidecarGate::Start(const netcfg::DetectionReport& report,
                              ReadinessCallback on_readiness) {
  DIND_RETURN_IF_ERROR(reconciler_.Start(report));
  auto ports = sidecar::OpenLivePorts(io_, options_, reconciler_.state().rules.backend);
  if (!ports) return ports.error();
  sidecar_.emplace(io_, reconciler_, options_, std::move(ports).value(), std::move(on_readiness));
  return sidecar_->Start();
}

http::Readiness LiveSidecarGate::Readiness() const {
  DIND_CHECK(sidecar_.has_value(), "readiness is read after Start succeeded");
  return sidecar_->Readiness();
}

int LiveSidecarGate::Stop() {
  // Nothing to stop when the reconciler or the sidecar's ports failed to start.
  return sidecar_ ? sidecar_->Stop() : 0;
}

int RunEntrypoint(const EntrypointOptions& options, sidecar::Reconciler& reconciler,
                  Decided decided) {
  DIND_CHECK(options.sidecar.docker.has_value(), "the entrypoint serves dockerd's API: a socket");
  boost::asio::io_context io;
  LiveProcesses processes(io);
  LiveDockerdPing dockerd_ping(io, *options.sidecar.docker);
  netcfg::LocalCgroupFs cgroups;
  LiveModuleLoader modules;
  LiveEnvironment environment;
  SteadyClock clock;
  LiveSidecarGate sidecar(io, reconciler, options.sidecar);
  int exit_code = 0;
  {
    Entrypoint entrypoint(io, options, std::move(decided),
                          {.processes = processes,
                           .dockerd_ping = dockerd_ping,
                           .cgroups = cgroups,
                           .modules = modules,
                           .environment = environment,
                           .clock = clock,
                           .sidecar = sidecar});
    exit_code = entrypoint.Run();
    sidecar.Release();
  }
  return exit_code;
}

}  // namespace dind::entrypoint
