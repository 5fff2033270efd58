// SPDX-License-Identifier: Apache-2.0
#include "daemon/commands/backend_flags.h"

#include <chrono>

#include "daemon/commands/flags.h"
#include "rules/choice/backend_choice.h"
#include "rules/legacy/xtables_lock.h"

namespace dind::cli {
namespace {

constexpr const char* kBackendFlagNames = "--backend (DIND_NETCFG_BACKEND)";

}  // namespace

void AddBackendFlags(CLI::App& command, BackendFlags& flags) {
  AddOption(command, "--backend", "auto|legacy|nft", flags.kind,
            "masquerade backend: auto (decided by kernel, rule census and a traffic proof), "
            "legacy (ip_tables) or nft (nf_tables)")
      ->default_str(flags.kind);
  AddOption(command, "--xtables-wait", "DURATION", flags.xtables_wait,
            "how long the legacy backend waits for the xtables lock that dockerd's and other "
            "iptables calls hold (the traffic proof, killed after 15s, waits at most 1s)")
      ->default_str(flags.xtables_wait);
  AddOption(command, "--proof-cache", "PATH|off", flags.proof_cache,
            "file where traffic proofs are kept, so that later runs on the same kernel boot "
            "reuse them instead of proving again (off: always prove)")
      ->default_str(flags.proof_cache);
  // "rules apply" under `rules`; "init" directly under the program.
  const CLI::App* parent = command.get_parent();
  flags.command = parent && parent->get_parent() ? parent->get_name() + " " + command.get_name()
                                                 : command.get_name();
}

Result<pod::BackendRequest> ParseBackendFlags(const BackendFlags& flags) {
  static_assert(rules::legacy::kDefaultXtablesWait == std::chrono::seconds(5),
                "BackendFlags::xtables_wait states the default as text");
  auto kind = rules::ParseBackendRequest(flags.kind, kBackendFlagNames);
  if (!kind) return kind.error();
  auto wait = ParseDuration("--xtables-wait", flags.xtables_wait);
  if (!wait) return wait.error();
  pod::BackendRequest request{*kind, kBackendFlagNames, {.xtables_wait = *wait}, std::nullopt};
  if (flags.proof_cache.empty() || flags.proof_cache.back() == '/') {
    return Error::BadInput(
        BothSpellings("--proof-cache") + " value '" + flags.proof_cache + "' is not a file path",
        "give a file, e.g. " + std::string(rules::kDefaultProofCachePath) +
            ", or off to prove every time");
  }
  if (flags.proof_cache != "off") request.proof_cache = {flags.proof_cache, flags.command};
  return request;
}

void AddApplyRulesFlags(CLI::App& command, bool& apply, bool& skip) {
  auto* apply_flag = AddFlag(command, "--apply-rules", apply,
                             "after writing daemon.json, install the masquerade rules for its "
                             "networks (the default)");
  AddFlag(command, "--no-rules", skip, "only write daemon.json; install no masquerade rules")
      ->excludes(apply_flag);
}

}  // namespace dind::cli
