// SPDX-License-Identifier: Apache-2.0
// `doctor`: runs every check of daemon/doctor/ in this pod, read-only, and prints one line each
// (or --json). Exit 0 when nothing failed, 1 when a check failed, 2 on bad usage.
#include <unistd.h>

#include <iostream>
#include <memory>

#include "daemon/commands/backend_flags.h"
#include "daemon/commands/commands.h"
#include "daemon/commands/detection_flags.h"
#include "daemon/commands/flags.h"
#include "daemon/docker/docker_api.h"
#include "daemon/doctor/detection_checks.h"
#include "daemon/doctor/doctor_facts.h"
#include "daemon/doctor/report.h"
#include "daemon/pod/docker_report.h"
#include "netcfg/netlink/rtnl_reader.h"

namespace dind::cli {
namespace {

struct DoctorFlags {
  bool json = false;
  std::string daemon_json = "/etc/docker/daemon.json";
  std::string docker_socket{docker::kDefaultSocketPath};
  std::string for_what;      // "" or "kind"
  DetectionFlags detection;  // what `detect` takes, for the detection checks
  BackendFlags backend;
  std::string pid = "auto";
};

// What `detect` reports, made as detect makes it and read-only like it: the census only reads,
// the proof runs in throwaway namespaces, and the proof cache is neither read nor written.
// Only bad input is returned as an Error for the command to exit 2 on; any other failure is
// the outcome, which the checks report as unknown.
Result<Result<doctor::DetectionOutcome>> Detect(const DoctorFlags& flags,
                                                const doctor::DoctorContext& context) {
  if (auto parsed = ParseDetectionFlags(flags.detection); !parsed) return parsed.error();
  auto requested = ParseBackendFlags(flags.backend);
  if (!requested) return requested.error();
  requested->proof_cache.reset();
  DetectionFlags detection = flags.detection;
  // dockerd's version from its API first, as detect asks it: the answer doctor already has
  // (/version is asked once per run); when it did not answer, detection goes straight to the
  // binary instead of waiting again.
  const auto& version = doctor::DockerdVersion(context);
  detection.sources.docker_socket.clear();
  if (version) {
    detection.sources.served_dockerd = netcfg::DockerdVersionText{
        version->version, docker::VersionSource(context.docker_socket), version->api_version};
  }
  netcfg::RtnlReader netlink;
  auto report = RunDetection(detection, netlink);
  if (!report) {
    if (report.error().ExitCode() == 2) return report.error();
    return Result<doctor::DetectionOutcome>(report.error());
  }
  auto backend = pod::DecideBackendHere(report->kernel, *requested, /*to_change_rules=*/false);
  if (!backend && backend.error().ExitCode() == 2) return backend.error();
  pod::DockerState docker;
  if (version) {
    docker = pod::ReadDockerHere(context.docker_socket, report->mtu.docker);
  } else {
    docker.socket = context.docker_socket;
    docker.error = version.error().Message();
  }
  return Result<doctor::DetectionOutcome>(
      doctor::DetectionOutcome{.report = std::move(report).value(),
                               .read_by = "dind-netcfg doctor pid " + std::to_string(::getpid()),
                               .backend = std::move(backend),
                               .docker = std::move(docker)});
}

int DoctorCommand(const DoctorFlags& flags) {
  const doctor::HostFiles files;
  doctor::DoctorContext context{files};
  context.daemon_json = flags.daemon_json;
  context.docker_socket = flags.docker_socket;
  context.for_kind = flags.for_what == "kind";
  context.told_dockerd = ToldDockerdVersion(flags.detection);
  auto process = doctor::ChooseFactsProcess(files, flags.pid, flags.docker_socket);
  if (!process) return ReportFailure(process.error().Wrap("doctor"));
  context.process = std::move(process).value();
  auto detection = Detect(flags, context);
  if (!detection) return ReportFailure(detection.error().Wrap("doctor"));
  context.detection = &*detection;
  const auto results = doctor::RunAllChecks(context);
  if (flags.json) {
    std::cout << doctor::RenderJson(results, DIND_NETCFG_VERSION).dump(2) << "\n";
  } else {
    std::cout << doctor::RenderText(results);
  }
  return doctor::ExitCode(results);
}

}  // namespace

Runner AddDoctorCommand(CLI::App& app) {
  auto* command = app.add_subcommand(
      "doctor",
      "Check, read-only, everything that will break in this DinD pod (storage, iptables, API "
      "floor, DNS, conntrack, user namespace, and what detect reports: MTU, overlay, masquerade "
      "backend, cgroups, address pools, dockerd version; with --for kind what KIND needs): one "
      "line per check with the fix; exit 1 when a check fails");
  auto flags = std::make_shared<DoctorFlags>();
  AddFlag(*command, "--json", flags->json, "print one JSON document (schema 1, see README)");
  AddOption(*command, "--daemon-json", "PATH", flags->daemon_json,
            "the daemon.json dockerd reads (data-root, min-api-version, dns)")
      ->default_str(flags->daemon_json);
  AddOption(*command, "--docker-socket", "PATH", flags->docker_socket,
            "dockerd's API socket, asked for /version and /info when it answers")
      ->default_str(flags->docker_socket);
  AddOption(*command, "--for", "kind", flags->for_what,
            "also check what a KIND cluster nested in this pod needs")
      ->check(CLI::IsMember({"kind"}));
  AddOption(*command, "--pid", "auto|self|PID", flags->pid,
            "whose container the user namespace, cgroups, data-root and resolv.conf are read in: "
            "auto is the dockerd serving --docker-socket when this process namespace shows it "
            "(doctor in the dind container, or beside it with shareProcessNamespace), else "
            "doctor's own")
      ->default_str(flags->pid);
  // detect's flags, so detection here can be told what detect can be told.
  AddDetectionFlags(*command, flags->detection);
  AddBackendFlags(*command, flags->backend);
  // doctor writes nothing: no proof cache to name.
  command->remove_option(command->get_option("--proof-cache"));
  return [flags]() { return DoctorCommand(*flags); };
}

}  // namespace dind::cli
