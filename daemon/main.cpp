// SPDX-License-Identifier: Apache-2.0
// dind-netcfg: network configuration for Docker-in-Docker pods. See README.md.
#include <CLI/CLI.hpp>
#include <iostream>
#include <string>

#include "common/log.h"
#include "daemon/commands/commands.h"
#include "daemon/commands/flags.h"

namespace {

int UsageError(const std::string& message) {
  std::cerr << "dind-netcfg: " << message << "\n"
            << "Run 'dind-netcfg --help' or 'dind-netcfg <command> --help' for usage.\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  auto line = dind::cli::MakeCommandLine();
  CLI::App& app = line->app;
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& help) {
    // CLI11 answers --help before it looks at the other words, so `doctr --help` would print
    // the main help and exit 0 as if the command existed: name the unknown word instead.
    if (const auto unknown = dind::cli::FindUnknownArgument(app, {argv + 1, argv + argc})) {
      return UsageError(*unknown);
    }
    return app.exit(help);
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == 0) return app.exit(error);
    const auto unknown = dind::cli::FindUnknownArgument(app, {argv + 1, argv + argc});
    return UsageError(unknown.value_or(error.what()));
  }
  dind::log::Level level = dind::log::Level::kInfo;
  dind::log::ParseLevel(line->log_level, level);
  dind::log::Configure(
      level, line->log_format == "json" ? dind::log::Format::kJson : dind::log::Format::kText);
  for (auto* subcommand : app.get_subcommands()) {
    return line->runners.at(subcommand->get_name())();
  }
  return 2;
}
