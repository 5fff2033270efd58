// SPDX-License-Identifier: Apache-2.0
// `doctor`: runs every check of daemon/doctor/ in this pod, read-only, and prints one line each
// (or --json). Exit 0 when nothing failed, 1 when a check failed, 2 on bad usage.
#include <iostream>
#include <memory>

#include "daemon/commands/commands.h"
#include "daemon/commands/flags.h"
#include "daemon/docker/docker_api.h"
#include "daemon/doctor/doctor_facts.h"
#include "daemon/doctor/report.h"

namespace dind::cli {
namespace {

struct DoctorFlags {
  bool json = false;
  std::string daemon_json = "/etc/docker/daemon.json";
  std::string docker_socket{docker::kDefaultSocketPath};
  std::string for_what;  // "" or "kind"
  std::string pid = "auto";
};

int DoctorCommand(const DoctorFlags& flags) {
  const doctor::HostFiles files;
  doctor::DoctorContext context{files};
  context.daemon_json = flags.daemon_json;
  context.docker_socket = flags.docker_socket;
  context.for_kind = flags.for_what == "kind";
  auto process = doctor::ChooseFactsProcess(files, flags.pid, flags.docker_socket);
  if (!process) return ReportFailure(process.error().Wrap("doctor"));
  context.process = std::move(process).value();
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
      "floor, DNS, conntrack, user namespace; with --for kind what KIND needs): one line per "
      "check with the fix; exit 1 when a check fails");
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
  return [flags]() { return DoctorCommand(*flags); };
}

}  // namespace dind::cli
