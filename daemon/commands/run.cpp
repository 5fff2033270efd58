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
#include "daemon/commands/sidecar_flags.h"
#include "daemon/egress/probe_target.h"
#include "daemon/pod/configure_here.h"
#include "daemon/pod/detect_here.h"
#include "daemon/pod/rule_sources.h"
#include "daemon/privileges/process_capabilities.h"
#include "daemon/sidecar/live_sidecar.h"
#include "daemon/sidecar/reconciler.h"
#include "netcfg/netlink/rtnl_reader.h"

namespace dind::cli {
namespace {

using sidecar::SidecarOptions;

struct RunFlags {
  DetectionFlags detection;
  std::string daemon_json = std::string(pod::kDefaultDaemonJsonPath);
  BackendFlags backend;
  bool no_rules = false;
  SidecarFlags sidecar;
};

int Fail(const Error& error) {
  return ReportFailure(error.Wrap("run"));
}

privileges::Needs NeedsOf(const RunFlags& flags, const SidecarOptions& options) {
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
  auto requested = ParseBackendFlags(flags.backend);
  if (!requested) return Fail(requested.error());
  auto detect_options = ParseDetectionFlags(flags.detection);
  if (!detect_options) return Fail(detect_options.error());
  auto options = ParseSidecarFlags(flags.sidecar, flags.detection.sources.resolv_conf);
  if (!options) return Fail(options.error());
  if (auto valid = pod::CheckExistingDaemonJson(flags.daemon_json); !valid) {
    return Fail(valid.error());
  }

  if (auto kept = KeepNeededCapabilities(flags, *options); !kept) return Fail(kept.error());

  netcfg::RtnlReader netlink;
  pod::DetectorHere detector(netlink, *detect_options, flags.detection.sources);
  // The backend is chosen once: the proof is worth its 10 ms at start, not at every check.
  auto report = detector.Detect();
  if (!report) return Fail(report.error());
  std::optional<pod::ChosenBackend> chosen;
  if (!flags.no_rules) {
    auto made = pod::ChooseBackendHere(report->kernel, *requested);
    if (!made) return Fail(made.error());
    chosen = std::move(made).value();
  }

  const sidecar::ProcSysctls sysctls;
  sidecar::Reconciler reconciler(flags.daemon_json, detector, sysctls, chosen ? &*chosen : nullptr,
                                 &netlink);
  reconciler.set_clamp_mss(options->clamp_mss);
  if (auto started = reconciler.Start(std::move(report).value()); !started) {
    return Fail(started.error());
  }
  return sidecar::RunSidecar(reconciler, *options);
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
  AddBackendFlags(*command, flags->backend);
  AddFlag(*command, "--no-rules", flags->no_rules,
          "manage no masquerade rules (readiness then ignores them)");
  AddSidecarFlags(*command, flags->sidecar,
                  "dockerd's API socket, followed for networks and their MTU ('' to not follow)");
  return [flags]() { return RunCommand(*flags); };
}

}  // namespace dind::cli
