// SPDX-License-Identifier: Apache-2.0
// The subcommands. Each registers its flags on a CLI11 subcommand and returns a runner that
// yields the process exit code (0 ok, 1 the environment said no, 2 bad usage or input).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace dind::cli {

using Runner = std::function<int()>;

// dind-netcfg's whole command line: the global flags and every subcommand with its runner, built
// once for main.cpp and the flags fuzzer alike. Parsing fills the values the runners hold.
struct CommandLine {
  CLI::App app{"dind-netcfg: network configuration for Docker-in-Docker pods", "dind-netcfg"};
  std::string log_level = "info";
  std::string log_format = "text";
  std::map<std::string, Runner> runners;  // by subcommand name
};
// On the heap: CLI::App cannot move, and the runners point into it.
std::unique_ptr<CommandLine> MakeCommandLine();

Runner AddDetectCommand(CLI::App& app);
Runner AddInitCommand(CLI::App& app);
Runner AddVersionCommand(CLI::App& app);
// `rules apply|check|remove` (rules.cpp); the runner dispatches on the sub-subcommand.
Runner AddRulesCommand(CLI::App& app);
Runner AddProbeCommand(CLI::App& app);
// `run`, the sidecar daemon (run.cpp; its event loop is daemon/sidecar/).
Runner AddRunCommand(CLI::App& app);
// `entrypoint`, the dind container's PID 1 (entrypoint.cpp; the sequence is daemon/entrypoint/).
Runner AddEntrypointCommand(CLI::App& app);
// `kind-config`, a KIND config for a cluster nested in this pod (kind_config.cpp).
Runner AddKindConfigCommand(CLI::App& app);
// `doctor`, the read-only checks of this pod (doctor.cpp; the checks are daemon/doctor/).
Runner AddDoctorCommand(CLI::App& app);

// The --url of `probe`: http://HOST:PORT/PATH (HOST may be [IPv6]).
struct ProbeUrl {
  std::string host;
  std::uint16_t port = 0;
  std::string path;
};
Result<ProbeUrl> ParseProbeUrl(std::string_view url);

// Logs the error on one line and returns its exit code.
int ReportFailure(const Error& error);

}  // namespace dind::cli
