// SPDX-License-Identifier: Apache-2.0
// `run`: the long-running sidecar. Flags are parsed and checked here (exit 2 before anything is
// changed), capabilities trimmed, then the pod session does what `init` does and the event loop
// (sidecar.h) takes over.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "common/log.h"
#include "daemon/commands/commands.h"
#include "daemon/commands/flags.h"
#include "daemon/commands/sidecar_flags.h"
#include "daemon/doctor/preflight.h"
#include "daemon/egress/probe_target.h"
#include "daemon/pod/configure_here.h"
#include "daemon/privileges/process_capabilities.h"
#include "daemon/session/pod_session.h"
#include "daemon/sidecar/live_sidecar.h"

namespace dind::cli {
namespace {

using sidecar::SidecarOptions;

int Fail(const Error& error) {
  return ReportFailure(error.Wrap("run"));
}

privileges::Needs NeedsOf(const PodFlags& flags, const SidecarOptions& options) {
  privileges::RunFeatures features;
  features.rules = !flags.no_rules;
  features.backend_auto = flags.backend.kind == "auto";
  features.probes = options.egress.has_value();
  features.mtu_probe =
      options.egress && std::any_of(options.egress->targets.begin(), options.egress->targets.end(),
                                    [](const egress::ProbeTarget& target) {
                                      return target.kind == egress::ProbeKind::kPathMtu;
                                    });
  features.listen_port = options.listen.port;
  const auto access = privileges::ReadDaemonJsonAccess(flags.daemon_json);
  features.daemon_json_other_owner = access.other_owner;
  features.daemon_json_not_writable = access.not_writable;
  return privileges::RunNeeds(features);
}

// Keeps only the capabilities this configuration needs, before any thread is started (they
// are per thread; the event loop's and the probe's threads inherit what is kept).
Status KeepNeededCapabilities(const PodFlags& flags, const SidecarOptions& options) {
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

int RunCommand(const PodFlags& flags) {
  // Every flag is checked before anything is read or changed.
  auto parsed = ParsePodFlags(flags);
  if (!parsed) return Fail(parsed.error());
  if (auto valid = pod::CheckExistingDaemonJson(flags.daemon_json); !valid) {
    return Fail(valid.error());
  }
  // doctor's checks beside the loop: logged once each, served in /status and /metrics.
  parsed->sidecar.preflight =
      sidecar::PreflightOf(doctor::PreflightFor::kRun, flags.daemon_json,
                           flags.sidecar.docker_socket, ToldDockerdVersion(flags.detection));

  if (auto kept = KeepNeededCapabilities(flags, parsed->sidecar); !kept) {
    return Fail(kept.error());
  }

  auto opened = session::PodSession::Open(std::move(parsed->session));
  if (!opened) return Fail(opened.error());
  if (auto started = (*opened)->Start(); !started) return Fail(started.error());
  return sidecar::RunSidecar((*opened)->reconciler(), parsed->sidecar);
}

}  // namespace

Runner AddRunCommand(CLI::App& app) {
  auto* command = app.add_subcommand(
      "run",
      "The sidecar: do what init does, then keep daemon.json and the masquerade rules right, "
      "verify nested egress and serve /healthz /readyz /metrics /status");
  auto flags = std::make_shared<PodFlags>();
  AddPodFlags(
      *command, *flags,
      {.daemon_json = "daemon.json to create or merge into, and rewrite when the MTU changes",
       .no_rules = "manage no masquerade rules (readiness then ignores them)",
       .docker_socket = "dockerd's API socket, followed for networks and their MTU ('' to "
                        "not follow)"});
  return [flags]() { return RunCommand(*flags); };
}

}  // namespace dind::cli
