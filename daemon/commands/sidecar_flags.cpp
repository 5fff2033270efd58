// SPDX-License-Identifier: Apache-2.0
#include "daemon/commands/sidecar_flags.h"

#include <cstdlib>

#include "common/files.h"
#include "common/log.h"
#include "daemon/commands/flags.h"
#include "daemon/egress/probe_target.h"
#include "daemon/sidecar/mss_clamp.h"

namespace dind::cli {
namespace {

using sidecar::EgressOptions;
using sidecar::SidecarOptions;

std::optional<std::string> Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::optional<std::string>(value) : std::nullopt;
}

Result<std::optional<EgressOptions>> ParseEgress(const SidecarFlags& flags,
                                                 const std::string& resolv_conf) {
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
    auto target = egress::ParseProbeTarget(text, "--probe-target (DIND_NETCFG_PROBE_TARGET)");
    if (!target) return target.error();
    egress.targets.push_back(*target);
  }
  if (!flags.probe_mtu_target.empty()) {
    auto target = egress::ParseMtuTarget(flags.probe_mtu_target,
                                         "--probe-mtu-target (DIND_NETCFG_PROBE_MTU_TARGET)");
    if (!target) return target.error();
    egress.targets.push_back(*target);
  }
  // Targets given replace the defaults: the user knows what the nested containers must reach.
  if (egress.targets.empty()) {
    auto nameservers = ReadFile(resolv_conf);
    auto defaults = egress::MakeDefaultTargets(
        {Env("KUBERNETES_SERVICE_HOST"), Env("KUBERNETES_SERVICE_PORT"),
         nameservers.ok() ? std::optional(std::move(nameservers).value()) : std::nullopt});
    if (!defaults) return defaults.error();
    for (const auto& note : defaults->notes) log::Info(note);
    egress.targets = std::move(defaults->targets);
  }
  if (egress.targets.empty()) {
    return Error::BadInput(
        "no egress probe target: KUBERNETES_SERVICE_HOST is not set and " + resolv_conf +
            " names no nameserver a container can reach",
        "give --probe-target HOST:PORT (something nested containers must reach), or "
        "--no-probes to run without egress verification");
  }
  return std::optional<EgressOptions>(std::move(egress));
}

}  // namespace

Result<SidecarOptions> ParseSidecarFlags(const SidecarFlags& flags,
                                         const std::string& resolv_conf) {
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
  auto egress = ParseEgress(flags, resolv_conf);
  if (!egress) return egress.error();
  options.egress = std::move(egress).value();
  auto clamp = sidecar::ParseClampMss(flags.clamp_mss, {"--clamp-mss", EnvName("--clamp-mss")});
  if (!clamp) return clamp.error();
  options.clamp_mss = *clamp;
  options.cleanup_on_exit = flags.cleanup_on_exit;
  return options;
}

void AddSidecarFlags(CLI::App& command, SidecarFlags& flags,
                     const std::string& docker_socket_help) {
  AddOption(command, "--listen", "ADDR:PORT", flags.listen,
            "ADDR:PORT of the health endpoint ([ADDR]:PORT for IPv6)")
      ->default_str(flags.listen);
  AddOption(command, "--docker-socket", "PATH", flags.docker_socket, docker_socket_help)
      ->default_str(flags.docker_socket);
  AddOption(command, "--bridge", "NAME", flags.bridge,
            "dockerd's default bridge, where the egress probe attaches")
      ->default_str(flags.bridge);
  AddOption(command, "--probe-target", "HOST:PORT", flags.probe_targets,
            "HOST:PORT nested containers must reach (repeatable, or comma-separated; "
            "replaces the defaults: the Kubernetes API service and the first nameserver)")
      ->delimiter(',');
  AddOption(command, "--probe-mtu-target", "IP", flags.probe_mtu_target,
            "IPv4 address that answers ping, for the path-MTU probe (default with the "
            "default targets: the first nameserver)");
  AddFlag(command, "--no-probes", flags.no_probes,
          "do not verify egress (readiness then ignores it)");
  AddOption(command, "--probe-interval", "DURATION", flags.probe_interval,
            "time between probe rounds (±10% jitter)")
      ->default_str(flags.probe_interval);
  AddOption(command, "--probe-timeout", "DURATION", flags.probe_timeout, "time each probe may take")
      ->default_str(flags.probe_timeout);
  AddOption(command, "--poll-interval", "DURATION", flags.poll_interval,
            "how often the legacy (ip_tables) rules are checked; nf_tables notifies")
      ->default_str(flags.poll_interval);
  AddOption(command, "--clamp-mss", "auto|off|BYTES", flags.clamp_mss,
            "MSS clamp for nested TCP: auto clamps when the path-MTU probe measures a path below "
            "the docker MTU, or a docker network's MTU is above it; BYTES always clamps to it")
      ->default_str(flags.clamp_mss);
  AddFlag(command, "--cleanup-on-exit", flags.cleanup_on_exit,
          "remove the masquerade rules on SIGTERM/SIGINT (default: leave them for dockerd)");
}

void AddPodFlags(CLI::App& command, PodFlags& flags, const PodFlagsHelp& help) {
  AddOption(command, "--daemon-json", "PATH", flags.daemon_json, help.daemon_json)
      ->default_str(flags.daemon_json);
  AddDetectionFlags(command, flags.detection);
  AddBackendFlags(command, flags.backend);
  AddFlag(command, "--no-rules", flags.no_rules, help.no_rules);
  AddSidecarFlags(command, flags.sidecar, help.docker_socket);
}

Result<ParsedPodFlags> ParsePodFlags(const PodFlags& flags) {
  auto requested = ParseBackendFlags(flags.backend);
  if (!requested) return requested.error();
  auto detect = ParseDetectionFlags(flags.detection);
  if (!detect) return detect.error();
  auto sidecar = ParseSidecarFlags(flags.sidecar, flags.detection.sources.resolv_conf);
  if (!sidecar) return sidecar.error();
  ParsedPodFlags parsed;
  parsed.session.detect = std::move(detect).value();
  parsed.session.sources = flags.detection.sources;
  // dockerd's version from its API when it answers there, from its binary otherwise.
  parsed.session.sources.docker_socket = flags.sidecar.docker_socket;
  parsed.session.backend = std::move(requested).value();
  parsed.session.daemon_json = flags.daemon_json;
  parsed.session.manage_rules = !flags.no_rules;
  parsed.session.clamp_mss = sidecar->clamp_mss;
  parsed.sidecar = std::move(sidecar).value();
  return parsed;
}

}  // namespace dind::cli
