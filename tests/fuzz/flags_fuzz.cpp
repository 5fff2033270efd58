// SPDX-License-Identifier: Apache-2.0
// Flag and environment parsing: argv and DIND_NETCFG_* variables through the real command tree
// (every subcommand, built as daemon/main.cpp builds it; parsing runs no command), then through
// the value parsers the commands apply to what was parsed. The input is NUL-separated
// arguments; an argument "DIND_NETCFG_<NAME>=<value>" is set in the environment for the run
// instead. Checked besides the sanitizers: only the exceptions main catches leave the parse,
// and accepted values are in the ranges the commands rely on.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/commands/commands.h"
#include "daemon/commands/detection_flags.h"
#include "daemon/commands/flags.h"
#include "daemon/egress/probe_target.h"
#include "daemon/http/listen_address.h"

namespace {

void Require(bool condition) {
  if (!condition) std::abort();
}

constexpr std::string_view kEnvPrefix = "DIND_NETCFG_";

// The command line of daemon/main.cpp. Parsing only fills the flag variables the runners hold.
void ParseCommandLine(const std::vector<std::string>& args) {
  auto line = dind::cli::MakeCommandLine();
  CLI::App& app = line->app;
  const auto& runners = line->runners;

  std::vector<const char*> argv{"dind-netcfg"};
  for (const auto& arg : args) argv.push_back(arg.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
    Require(app.get_subcommands().size() == 1);
    Require(runners.count(app.get_subcommands().front()->get_name()) == 1);
  } catch (const CLI::CallForHelp&) {
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() != 0) {
      const auto unknown = dind::cli::FindUnknownArgument(app, args);
      if (unknown) Require(!unknown->empty());
    }
  }
}

void ParseValues(const std::vector<std::string>& args) {
  for (const std::string& value : args) {
    if (auto duration = dind::cli::ParseDuration("--probe-interval", value)) {
      Require(duration->count() > 0 && *duration <= std::chrono::hours(24));
    }
    (void)dind::cli::ParseAutoOrNumber("--mtu", value);
    (void)dind::cli::ParseNumber("--reserve", value);
    if (auto cidrs = dind::cli::ParseCidrs("--avoid", {value})) Require(cidrs->size() == 1);
    if (auto listen = dind::http::ParseListenAddress(value)) {
      auto again = dind::http::ParseListenAddress(listen->ToString());
      Require(again.ok() && *again == *listen);
    }
    if (auto url = dind::cli::ParseProbeUrl(value)) Require(!url->host.empty());
    (void)dind::egress::ParseProbeTarget(value, "--probe-target");
    (void)dind::egress::ParseMtuTarget(value, "--probe-mtu-target");
  }
  dind::cli::DetectionFlags flags;
  if (!args.empty()) flags.mtu = args[0];
  if (args.size() > 1) flags.reserve = args[1];
  if (args.size() > 2) flags.avoid.assign(args.begin() + 2, args.end());
  (void)dind::cli::ParseDetectionFlags(flags);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> args;
  // putenv keeps these very buffers in the environment (setenv would keep a copy of every value
  // ever set, growing without bound over a long run); they are taken out again below.
  std::vector<std::vector<char>> env_entries;
  for (std::size_t start = 0; start <= input.size();) {
    std::size_t end = input.find('\0', start);
    if (end == std::string_view::npos) end = input.size();
    const std::string arg(input.substr(start, end - start));
    const std::size_t equals = arg.find('=');
    if (arg.rfind(kEnvPrefix, 0) == 0 && equals != std::string::npos && equals > 0) {
      env_entries.emplace_back(arg.c_str(), arg.c_str() + arg.size() + 1);
      putenv(env_entries.back().data());
    } else if (end < input.size() || !arg.empty()) {
      args.push_back(arg);
    }
    start = end + 1;
  }
  ParseCommandLine(args);
  ParseValues(args);
  for (const auto& entry : env_entries) {
    const std::string_view text(entry.data());
    unsetenv(std::string(text.substr(0, text.find('='))).c_str());
  }
  return 0;
}
