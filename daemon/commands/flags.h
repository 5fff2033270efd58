// SPDX-License-Identifier: Apache-2.0
// Flag handling shared by the subcommands: every flag also reads DIND_NETCFG_<FLAG> from the
// environment (the flag wins), and every value error names both spellings and the fix.
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/cidr.h"
#include "common/result.h"

namespace dind::cli {

// "--mtu" -> "DIND_NETCFG_MTU"
std::string EnvName(const std::string& flag);
// "--xtables-wait (DIND_NETCFG_XTABLES_WAIT)": how messages name an input.
std::string BothSpellings(const std::string& flag);

// Adds an option and binds its environment variable. `takes` is what --help shows the option
// takes (N|auto, BYTES, DURATION, CIDR, ADDR:PORT, PATH…): every value is read as text and
// parsed by us, so CLI11's own name for it would be TEXT.
//
// A repeatable option (a vector) takes one value per occurrence: CLI11 would otherwise let it
// swallow the words after it, and a "--" right after it would end its list instead of
// starting the entrypoint's COMMAND (`--probe-target X -- sh -c …` read `-c` as a flag).
template <typename T>
CLI::Option* AddOption(CLI::App& app, const std::string& flag, const std::string& takes, T& target,
                       const std::string& help) {
  CLI::Option* option =
      app.add_option(flag, target, help)->envname(EnvName(flag))->type_name(takes);
  if constexpr (CLI::detail::is_mutable_container<T>::value) {
    option->allow_extra_args(false);
  }
  return option;
}
CLI::Option* AddFlag(CLI::App& app, const std::string& flag, bool& target, const std::string& help);

// "auto" -> nullopt; a number -> the number; anything else -> kBadInput naming the flag.
Result<std::optional<std::uint32_t>> ParseAutoOrNumber(const std::string& flag,
                                                       const std::string& value);
Result<std::uint32_t> ParseNumber(const std::string& flag, const std::string& value);
// "500ms", "10s", "1m" (a bare number is seconds); positive, at most a day.
Result<std::chrono::milliseconds> ParseDuration(const std::string& flag, const std::string& value);
Result<std::vector<Cidr>> ParseCidrs(const std::string& flag,
                                     const std::vector<std::string>& values);

// CLI11 reports a missing required flag before an unknown one, so `init --frob` would say
// "--daemon-json is required" and `frob` "A subcommand is required". This walks `args` (argv
// without the program name) through the command tree and names the first command or flag that
// is not there; nullopt when every argument is known.
std::optional<std::string> FindUnknownArgument(const CLI::App& app,
                                               const std::vector<std::string>& args);

}  // namespace dind::cli
