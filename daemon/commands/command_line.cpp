// SPDX-License-Identifier: Apache-2.0
#include "daemon/commands/commands.h"
#include "daemon/commands/flags.h"

namespace dind::cli {

std::unique_ptr<CommandLine> MakeCommandLine() {
  auto line = std::make_unique<CommandLine>();
  CLI::App& app = line->app;
  app.require_subcommand(1);
  app.fallthrough();
  AddOption(app, "--log-level", "LEVEL", line->log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->default_str("info");
  AddOption(app, "--log-format", "FORMAT", line->log_format, "text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->default_str("text");
  line->runners = {
      {"detect", AddDetectCommand(app)},         {"init", AddInitCommand(app)},
      {"version", AddVersionCommand(app)},       {"probe", AddProbeCommand(app)},
      {"rules", AddRulesCommand(app)},           {"run", AddRunCommand(app)},
      {"entrypoint", AddEntrypointCommand(app)}, {"kind-config", AddKindConfigCommand(app)},
      {"doctor", AddDoctorCommand(app)}};
  return line;
}

}  // namespace dind::cli
