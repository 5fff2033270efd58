// SPDX-License-Identifier: Apache-2.0
// dind-netcfg: network configuration for Docker-in-Docker pods. See README.md.
#include <CLI/CLI.hpp>
#include <iostream>
#include <map>

#include "common/log.h"
#include "daemon/commands/commands.h"
#include "daemon/commands/flags.h"
#include "daemon/run/run_command.h"

int main(int argc, char** argv) {
  using dind::cli::Runner;
  CLI::App app{"dind-netcfg: network configuration for Docker-in-Docker pods", "dind-netcfg"};
  app.require_subcommand(1);
  app.fallthrough();
  std::string log_level = "info";
  std::string log_format = "text";
  dind::cli::AddOption(app, "--log-level", "LEVEL", log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->default_str("info");
  dind::cli::AddOption(app, "--log-format", "FORMAT", log_format, "text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->default_str("text");

  std::map<std::string, Runner> runners{
      {"detect", dind::cli::AddDetectCommand(app)},   {"init", dind::cli::AddInitCommand(app)},
      {"version", dind::cli::AddVersionCommand(app)}, {"probe", dind::cli::AddProbeCommand(app)},
      {"rules", dind::cli::AddRulesCommand(app)},     {"run", dind::run::AddRunCommand(app)}};
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == 0) return app.exit(error);
    const auto unknown = dind::cli::FindUnknownArgument(app, {argv + 1, argv + argc});
    std::cerr << "dind-netcfg: " << unknown.value_or(error.what()) << "\n"
              << "Run 'dind-netcfg --help' or 'dind-netcfg <command> --help' for usage.\n";
    return 2;
  }
  dind::log::Level level = dind::log::Level::kInfo;
  dind::log::ParseLevel(log_level, level);
  dind::log::Configure(level,
                       log_format == "json" ? dind::log::Format::kJson : dind::log::Format::kText);
  for (auto* subcommand : app.get_subcommands()) {
    return runners.at(subcommand->get_name())();
  }
  return 2;
}
