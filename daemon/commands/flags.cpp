// SPDX-License-Identifier: Apache-2.0
#include "daemon/commands/flags.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string_view>

namespace dind::cli {

std::string BothSpellings(const std::string& flag) {
  return flag + " (" + EnvName(flag) + ")";
}

std::string EnvName(const std::string& flag) {
  std::string name = "DIND_NETCFG_";
  for (char c : flag.substr(flag.find_first_not_of('-'))) {
    name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

CLI::Option* AddFlag(CLI::App& app, const std::string& flag, bool& target,
                     const std::string& help) {
  return app.add_flag(flag, target, help)->envname(EnvName(flag));
}

Result<std::uint32_t> ParseNumber(const std::string& flag, const std::string& value) {
  std::uint32_t number = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size() || number > 65535) {
    return Error::BadInput(BothSpellings(flag) + " value '" + value + "' is not a number",
                           "give a whole number from 0 to 65535");
  }
  return number;
}

Result<std::optional<std::uint32_t>> ParseAutoOrNumber(const std::string& flag,
                                                       const std::string& value) {
  if (value == "auto") return std::optional<std::uint32_t>();
  auto number = ParseNumber(flag, value);
  if (!number) {
    return Error::BadInput(
        BothSpellings(flag) + " value '" + value + "' is neither 'auto' nor a number",
        "give e.g. " + flag + " 1450, or " + flag + " auto");
  }
  return std::optional<std::uint32_t>(*number);
}

Result<std::chrono::milliseconds> ParseDuration(const std::string& flag, const std::string& value) {
  std::uint64_t number = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
  const std::string_view unit(end, value.data() + value.size() - end);
  std::optional<std::chrono::milliseconds> duration;
  if (ec == std::errc() && !value.empty() && number <= 86'400'000) {
    if (unit == "ms") duration = std::chrono::milliseconds(number);
    if (unit == "s" || unit.empty()) duration = std::chrono::seconds(number);
    if (unit == "m") duration = std::chrono::minutes(number);
  }
  if (!duration || *duration > std::chrono::hours(24) || duration->count() == 0) {
    return Error::BadInput(BothSpellings(flag) + " value '" + value + "' is not a duration",
                           "give a positive whole number with a unit, e.g. 500ms, 10s or 1m");
  }
  return *duration;
}

Result<std::vector<Cidr>> ParseCidrs(const std::string& flag,
                                     const std::vector<std::string>& values) {
  std::vector<Cidr> cidrs;
  for (const auto& value : values) {
    auto cidr = Cidr::Parse(value);
    if (!cidr) return cidr.error().Wrap(BothSpellings(flag));
    cidrs.push_back(*cidr);
  }
  return cidrs;
}

namespace {
// A flag of `command` or, as CLI11's fallthrough allows, of one of its parents.
const CLI::Option* FindFlag(const CLI::App* command, const std::string& name) {
  for (; command != nullptr; command = command->get_parent()) {
    if (const CLI::Option* option = command->get_option_no_throw(name)) return option;
  }
  return nullptr;
}

std::string CommandPath(const CLI::App* command) {
  std::string path;
  for (; command != nullptr; command = command->get_parent()) {
    path = path.empty() ? command->get_name() : command->get_name() + " " + path;
  }
  return path;
}

const CLI::App* FindSubcommand(const CLI::App* command, const std::string& name) {
  for (const CLI::App* subcommand : command->get_subcommands({})) {
    if (subcommand->check_name(name)) return subcommand;
  }
  return nullptr;
}

std::string SubcommandNames(const CLI::App* command) {
  std::string names;
  for (const CLI::App* subcommand : command->get_subcommands({})) {
    names += (names.empty() ? "" : ", ") + subcommand->get_name();
  }
  return names;
}
}  // namespace

std::optional<std::string> FindUnknownArgument(const CLI::App& app,
                                               const std::vector<std::string>& args) {
  const CLI::App* command = &app;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") return std::nullopt;
    const std::string see = "; see '" + CommandPath(command) + " --help'";
    if (arg.size() > 1 && arg[0] == '-') {
      const std::string name = arg.substr(0, arg.find('='));
      if (name == "-h" || name == "--help") continue;
      const CLI::Option* option = FindFlag(command, name);
      if (option == nullptr) {
        return "unknown flag " + name + " for '" + CommandPath(command) + "'" + see;
      }
      // A flag that takes a value, given as "--flag VALUE", also consumes the next argument.
      if (option->get_type_size_max() > 0 && name.size() == arg.size()) ++i;
      continue;
    }
    if (const CLI::App* subcommand = FindSubcommand(command, arg)) {
      command = subcommand;
      continue;
    }
    if (!command->get_subcommands({}).empty()) {
      return "unknown command '" + arg + "' for '" + CommandPath(command) + "'; the commands are " +
             SubcommandNames(command);
    }
    if (command->get_options([](const CLI::Option* option) { return option->get_positional(); })
            .empty()) {
      return "unexpected argument '" + arg + "' for '" + CommandPath(command) + "'" + see;
    }
  }
  return std::nullopt;
}

}  // namespace dind::cli
