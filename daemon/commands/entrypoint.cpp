// SPDX-License-Identifier: Apache-2.0
// `entrypoint`: the dind container's PID 1. Flags are checked here (exit 2 before anything is
// changed); the backend is chosen and the network detected in this container, the one that
// runs dockerd; daemon/entrypoint/ does the rest.
#include "daemon/entrypoint/entrypoint.h"

#include <memory>
#include <string>
#include <vector>

#include "common/log.h"
#include "daemon/commands/commands.h"
#include "daemon/commands/flags.h"
#include "daemon/commands/sidecar_flags.h"
#include "daemon/doctor/preflight.h"
#include "daemon/pod/configure_here.h"
#include "daemon/session/pod_session.h"

namespace dind::cli {
namespace {

struct EntrypointFlags {
  PodFlags pod;
  std::string dockerd = "dockerd";
  std::vector<std::string> dockerd_args;
  std::string ready_timeout = "120s";
  std::string stop_timeout = "10s";
  bool no_wait_egress = false;
  std::string state_dir = "/run/dind-netcfg";
  bool no_dockerd_iptables = false;
  bool no_modprobe = false;
  std::vector<std::string> command;
};

int Fail(const Error& error) {
  return ReportFailure(error.Wrap("entrypoint"));
}

// The entrypoint's own flags, after the shared ones (`sidecar`, parsed by ParsePodFlags).
Result<entrypoint::EntrypointOptions> ParseOptions(const EntrypointFlags& flags,
                                                   sidecar::SidecarOptions sidecar) {
  entrypoint::EntrypointOptions options;
  options.sidecar = std::move(sidecar);
  // dockerd listens on it and the job gets it as DOCKER_HOST: a relative path would mean
  // something else to each of them.
  if (!options.sidecar.docker || !options.sidecar.docker->socket_path.starts_with("/")) {
    return Error::BadInput("--docker-socket (DIND_NETCFG_DOCKER_SOCKET) '" +
                               flags.pod.sidecar.docker_socket + "' is not an absolute path",
                           "the entrypoint starts dockerd on it: give one such as "
                           "/var/run/docker.sock");
  }
  // It runs dockerd itself: a dockerd that does not answer is not ready.
  options.sidecar.docker_api_required = true;
  auto ready = ParseDuration("--ready-timeout", flags.ready_timeout);
  if (!ready) return ready.error();
  auto stop = ParseDuration("--stop-timeout", flags.stop_timeout);
  if (!stop) return stop.error();
  options.ready_timeout = *ready;
  options.stop_timeout = *stop;
  options.daemon_json = flags.pod.daemon_json;
  options.dockerd = {flags.dockerd, flags.pod.daemon_json, options.sidecar.docker->socket_path,
                     flags.dockerd_args};
  // Checked now, not when dockerd is due: a conflicting --dockerd-arg is a usage error.
  if (auto argv = entrypoint::DockerdArgv(options.dockerd); !argv) return argv.error();
  if (!flags.no_dockerd_iptables) {
    options.iptables_dir = flags.state_dir + "/iptables";
  }
  options.load_modules = !flags.no_modprobe;
  options.wait_egress = !flags.no_wait_egress;
  options.command = flags.command;
  // The sidecar starts once dockerd answers: its first round judges the running dockerd, logs
  // each fail and warn once and serves them in /status and /metrics.
  options.sidecar.preflight = sidecar::PreflightOf(
      doctor::PreflightFor::kEntrypoint, flags.pod.daemon_json, options.sidecar.docker->socket_path,
      ToldDockerdVersion(flags.pod.detection));
  return options;
}

int EntrypointCommand(const EntrypointFlags& flags) {
  auto parsed = ParsePodFlags(flags.pod);
  if (!parsed) return Fail(parsed.error());
  session::PodSessionOptions& shared = parsed->session;
  // This is the container that runs dockerd: its own cgroup is the one to nest under.
  shared.detect.cgroup.runs_dockerd = true;
  // daemon.json is written for the dockerd this container will run, not one on PATH.
  shared.sources.dockerd = flags.dockerd;
  // Chosen here, in the container whose dockerd will run iptables: the same backend serves our
  // rules and dockerd's own, even with --no-rules.
  shared.choose_backend_without_rules = true;
  shared.bridges_from_netlink = false;
  auto options = ParseOptions(flags, std::move(parsed->sidecar));
  if (!options) return Fail(options.error());
  options->cgroup = shared.detect.cgroup;
  if (auto valid = pod::CheckExistingDaemonJson(flags.pod.daemon_json); !valid) {
    return Fail(valid.error());
  }

  auto opened = session::PodSession::Open(std::move(shared));
  if (!opened) return Fail(opened.error());
  // Open chose one: choose_backend_without_rules.
  const rules::BackendKind backend = *(*opened)->backend();
  return entrypoint::RunEntrypoint(*options, (*opened)->reconciler(),
                                   {(*opened)->TakeReport(), backend});
}

}  // namespace

Runner AddEntrypointCommand(CLI::App& app) {
  auto* command = app.add_subcommand(
      "entrypoint",
      "The dind container's PID 1: choose the backend for our rules and dockerd's, write "
      "daemon.json, start and supervise dockerd, keep the rules right, verify nested egress, "
      "then run COMMAND (after --) and exit with its status");
  auto flags = std::make_shared<EntrypointFlags>();
  AddPodFlags(
      *command, flags->pod,
      {.daemon_json = "daemon.json to create or merge into; dockerd gets it as --config-file",
       .no_rules = "install no masquerade rules of ours (dockerd's iptables still use the "
                   "chosen backend)",
       .docker_socket = "the socket dockerd serves its API on (passed to it as --host "
                        "unix://PATH)"});
  AddOption(*command, "--dockerd", "PATH", flags->dockerd,
            "dockerd to run: a path or a name on PATH")
      ->default_str(flags->dockerd);
  AddOption(*command, "--dockerd-arg", "ARG", flags->dockerd_args,
            "one more argument for dockerd (repeatable), e.g. --dockerd-arg=--debug; not "
            "--host or --config-file, which the entrypoint passes itself");
  AddOption(*command, "--ready-timeout", "DURATION", flags->ready_timeout,
            "how long dockerd may take to answer /_ping, and nested egress to be verified")
      ->default_str(flags->ready_timeout);
  AddOption(*command, "--stop-timeout", "DURATION", flags->stop_timeout,
            "how long COMMAND, then dockerd with its containerd, get after SIGTERM before "
            "SIGKILL")
      ->default_str(flags->stop_timeout);
  AddFlag(*command, "--no-wait-egress", flags->no_wait_egress,
          "start COMMAND once dockerd answers, without waiting for nested egress to be verified");
  AddOption(*command, "--state-dir", "PATH", flags->state_dir,
            "where the entrypoint keeps dockerd's iptables links")
      ->default_str(flags->state_dir);
  AddFlag(*command, "--no-dockerd-iptables", flags->no_dockerd_iptables,
          "leave dockerd's iptables as the image has it, whatever the backend chosen");
  AddFlag(*command, "--no-modprobe", flags->no_modprobe,
          "do not try to load the backend's kernel modules");
  command
      ->add_option("COMMAND", flags->command,
                   "the CI command and its arguments, after --; without one dockerd keeps "
                   "running until SIGTERM")
      ->type_name("ARGS...");
  return [flags]() { return EntrypointCommand(*flags); };
}

}  // namespace dind::cli
