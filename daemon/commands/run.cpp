// SPDX-License-Identifier: Apache-2.0
// `run`: the long-running sidecar. Flags are parsed and checked here (exit 2 before anything is
// changed), then it does what `init` does and hands over to the event loop (sidecar.h).
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "common/files.h"
#include "common/log.h"
#include "daemon/commands/commands.h"
#include "daemon/commands/detection_flags.h"
#include "daemon/commands/flags.h"
#include "daemon/commands/rules_command.h"
#include "daemon/core/configure_here.h"
#include "daemon/core/detect_here.h"
#include "daemon/core/rule_sources.h"
#include "daemon/privileges/process_capabilities.h"
#include "daemon/probe/probe_target.h"
#include "daemon/run/reconciler.h"
#include "daemon/run/sidecar.h"
#include "netcfg/netlink/rtnl_reader.h"

namespace dind::cli {
namespace {

using run::EgressOptions;
using run::SidecarOptions;

struct RunFlags {
  DetectionFlags detection;
  std::string daemon_json = std::string(core::kDefaultDaemonJsonPath);
  std::string backend = "auto";
  bool no_rules = false;
  std::string listen = std::string(http::kDefaultListenAddress);
  std::string docker_socket = std::string(docker::kDefaultSocketPath);
  std::string bridge = "docker0";
  std::vector<std::string> probe_targets;
  std::string probe_mtu_target;
  bool no_probes = false;
  std::string probe_interval = "10s";
  std::string probe_timeout = "2s";
  std::string poll_interval = "1s";
  bool cleanup_on_exit = false;
};

std::optional<std::string> Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::optional<std::string>(value) : std::nullopt;
}

Result<std::optional<EgressOptions>> ParseEgress(const RunFlags& flags) {
  if (flags.no_probes) return std::optional<EgressOptions>();
  EgressOptions egress;
  egress.bridge = flags.bridge;
  auto interval = ParseDuration("--probe-interval", flags.probe_interval);
  if (!interval) return interval.error();
  auto timeout = ParseDuration("--probe-timeout", flags.probe_timeout);
  if (!timeout) return timeout.error();
  egress.prober.interval = *interval;
  egress.prober.jitter = *interval / 10;
  egress.settings.timeout = *timeout;
  for (const auto& text : flags.probe_targets) {
    auto target = probe::ParseProbeTarget(text, "--probe-target (DIND_NETCFG_PROBE_TARGET)");
    if (!target) return target.error();
    egress.targets.push_back(*target);
  }
  if (!flags.probe_mtu_target.empty()) {
    auto target = probe::ParseMtuTarget(flags.probe_mtu_target,
                                        "--probe-mtu-target (DIND_NETCFG_PROBE_MTU_TARGET)");
    if (!target) return target.error();
    egress.targets.push_back(*target);
  }
  // Targets given replace the defaults: the user knows what the nested containers must reach.
  if (egress.targets.empty()) {
    auto resolv_conf = ReadFile(flags.detection.sources.resolv_conf);
    auto defaults = probe::MakeDefaultTargets(
        {Env("KUBERNETES_SERVICE_HOST"), Env("KUBERNETES_SERVICE_PORT"),
         resolv_conf.ok() ? std::optional(std::move(resolv_conf).value()) : std::nullopt});
    if (!defaults) return defaults.error();
    for (const auto& note : defaults->notes) log::Info(note);
    egress.targets = std::move(defaults->targets);
  }
  if (egress.targets.empty()) {
    return Error::BadInput(
        "no egress probe target: KUBERNETES_SERVICE_HOST is not set and " +
            flags.detection.sources.resolv_conf + " names no nameserver a container can reach",
        "give --probe-target HOST:PORT (something nested containers must reach), or "
        "--no-probes to run without egress verification");
  }
  return std::optional<EgressOptions>(std::move(egress));
}

Result<SidecarOptions> ParseSidecarOptions(const RunFlags& flags) {
  SidecarOptions options;
  auto listen = http::ParseListenAddress(flags.listen);
  if (!listen) return listen.error();
  options.listen = *listen;
  auto poll = ParseDuration("--poll-interval", flags.poll_interval);
  if (!poll) return poll.error();
  options.poll_interval = *poll;
  if (!flags.docker_socket.empty()) {
    docker::ClientOptions docker;
    docker.socket_path = flags.docker_socket;
    options.docker = docker;
  }
  auto egress = ParseEgress(flags);
  if (!egress) return egress.error();
  options.egress = std::move(egress).value();
  options.cleanup_on_exit = flags.cleanup_on_exit;
  return options;
}

int Fail(const Error& error) {
  return ReportFailure(error.Wrap("run"));
}

privileges::Needs NeedsOf(const RunFlags& flags, const SidecarOptions& options) {
  privileges::RunFeatures features;
  features.rules = !flags.no_rules;
  features.backend_auto = flags.backend == "auto";
  features.probes = options.egress.has_value();
  features.mtu_probe =
      options.egress && std::any_of(options.egress->targets.begin(), options.egress->targets.end(),
                                    [](const probe::ProbeTarget& target) {
                                      return target.kind == probe::ProbeKind::kPathMtu;
                                    });
  features.listen_port = options.listen.port;
  const auto access = privileges::ReadDaemonJsonAccess(flags.daemon_json);
  features.daemon_json_other_owner = access.other_owner;
  features.daemon_json_not_writable = access.not_writable;
  return privileges::RunNeeds(features);
}

// Keeps only the capabilities this configuration needs, before any thread is started (they
// are per thread; the event loop's and the probe's threads inherit what is kept).
Status KeepNeededCapabilities(const RunFlags& flags, const SidecarOptions& options) {
  const auto needs = NeedsOf(flags, options);
  auto kept = privileges::KeepOnly(needs);
  if (!kept) return kept.error();
  log::Info("capabilities kept",
            {{"kept", privileges::Describe(kept->kept)},
             {"bounding", privileges::Describe(kept->bounding)},
             {"bounding_trimmed", kept->bounding_trimmed ? "yes" : "no (no CAP_SETPCAP)"},
             {"uid", std::to_string(::geteuid())}});
  for (const auto& need : needs.list()) {
    if ((kept->optional_missing & privileges::Bit(need.capability)) != 0) {
      log::Warn("running without " + privileges::KernelName(need.capability) + ": " + need.why +
                " works less well without it");
    }
  }
  return OkStatus();
}

int RunCommand(const RunFlags& flags) {
  // Every flag is checked before anything is read or changed.
  auto requested = ParseBackendFlag(flags.backend);
  if (!requested) return Fail(requested.error());
  auto detect_options = ParseDetectionFlags(flags.detection);
  if (!detect_options) return Fail(detect_options.error());
  auto options = ParseSidecarOptions(flags);
  if (!options) return Fail(options.error());
  if (auto valid = core::CheckExistingDaemonJson(flags.daemon_json); !valid) {
    return Fail(valid.error());
  }

  if (auto kept = KeepNeededCapabilities(flags, *options); !kept) return Fail(kept.error());

  netcfg::RtnlReader netlink;
  core::DetectorHere detector(netlink, *detect_options, flags.detection.sources);
  // The backend is chosen once: the proof is worth its 10 ms at start, not at every check.
  auto report = detector.Detect();
  if (!report) return Fail(report.error());
  std::optional<core::ChosenBackend> chosen;
  if (!flags.no_rules) {
    auto made = core::ChooseBackendHere(report->kernel, *requested);
    if (!made) return Fail(made.error());
    chosen = std::move(made).value();
  }

  run::Reconciler reconciler(flags.daemon_json, detector, chosen ? &*chosen : nullptr);
  if (auto started = reconciler.Start(std::move(report).value()); !started) {
    return Fail(started.error());
  }
  return run::RunSidecar(reconciler, *options);
}

}  // namespace

Runner AddRunCommand(CLI::App& app) {
  auto* command = app.add_subcommand(
      "run",
      "The sidecar: do what init does, then keep daemon.json and the masquerade rules right, "
      "verify nested egress and serve /healthz /readyz /metrics /status");
  auto flags = std::make_shared<RunFlags>();
  AddOption(*command, "--daemon-json", "PATH", flags->daemon_json,
            "daemon.json to create or merge into, and rewrite when the MTU changes")
      ->default_str(flags->daemon_json);
  AddDetectionFlags(*command, flags->detection);
  AddBackendFlag(*command, flags->backend);
  AddFlag(*command, "--no-rules", flags->no_rules,
          "manage no masquerade rules (readiness then ignores them)");
  AddOption(*command, "--listen", "ADDR:PORT", flags->listen,
            "ADDR:PORT of the health endpoint ([ADDR]:PORT for IPv6)")
      ->default_str(flags->listen);
  AddOption(*command, "--docker-socket", "PATH", flags->docker_socket,
            "dockerd's API socket, followed for networks and their MTU ('' to not follow)")
      ->default_str(flags->docker_socket);
  AddOption(*command, "--bridge", "NAME", flags->bridge,
            "dockerd's default bridge, where the egress probe attaches")
      ->default_str(flags->bridge);
  AddOption(*command, "--probe-target", "HOST:PORT", flags->probe_targets,
            "HOST:PORT nested containers must reach (repeatable, or comma-separated; "
            "replaces the defaults: the Kubernetes API service and the first nameserver)")
      ->delimiter(',');
  AddOption(*command, "--probe-mtu-target", "IP", flags->probe_mtu_target,
            "IPv4 address that answers ping, for the path-MTU probe (default with the "
            "default targets: the first nameserver)");
  AddFlag(*command, "--no-probes", flags->no_probes,
          "do not verify egress (readiness then ignores it)");
  AddOption(*command, "--probe-interval", "DURATION", flags->probe_interval,
            "time between probe rounds (±10% jitter)")
      ->default_str(flags->probe_interval);
  AddOption(*command, "--probe-timeout", "DURATION", flags->probe_timeout,
            "time each probe may take")
      ->default_str(flags->probe_timeout);
  AddOption(*command, "--poll-interval", "DURATION", flags->poll_interval,
            "how often the legacy (ip_tables) rules are checked; nf_tables notifies")
      ->default_str(flags->poll_interval);
  AddFlag(*command, "--cleanup-on-exit", flags->cleanup_on_exit,
          "remove the masquerade rules on SIGTERM/SIGINT (default: leave them for dockerd)");
  return [flags]() { return RunCommand(*flags); };
}

}  // namespace dind::cli
