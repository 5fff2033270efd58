// SPDX-License-Identifier: Apache-2.0
// `rules apply|check|remove`: the masquerade safety net that lets nested containers reach the
// outside, installed in process in the backend this kernel really runs.
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>

#include "common/log.h"
#include "common/strings.h"
#include "common/text_report.h"
#include "daemon/commands/backend_flags.h"
#include "daemon/commands/commands.h"
#include "daemon/commands/flags.h"
#include "daemon/commands/rules_command.h"
#include "daemon/pod/rules_verdict.h"
#include "daemon/privileges/process_capabilities.h"
#include "netcfg/daemon_json/atomic_file.h"
#include "netcfg/detect/gather_facts.h"
#include "netcfg/netlink/rtnl_reader.h"
#include "rules/choice/decision_report.h"
#include "rules/proof/traffic_proof.h"

namespace dind::cli {
namespace {

using Json = netcfg::OrderedJson;
using rules::BackendKind;

// ---- What the commands print ----------------------------------------------------------------

Json SpecToJson(const pod::ResolvedSpec& resolved) {
  return {{"sources", CidrStrings(resolved.spec.sources)},
          {"sources_from", resolved.sources_from},
          {"out_interface", resolved.spec.out_interface},
          {"out_interface_from", resolved.out_interface_from}};
}

std::string SpecToText(const pod::ResolvedSpec& resolved) {
  std::string text;
  text += ReportLine("sources", Join(CidrStrings(resolved.spec.sources), ", ") + " (from " +
                                    resolved.sources_from + ")");
  text += ReportLine("out", resolved.spec.out_interface + " (" + resolved.out_interface_from + ")");
  return text;
}

std::string ContainerName(BackendKind kind) {
  return kind == BackendKind::kLegacy ? "nat chain " + std::string(rules::kLegacyChain)
                                      : "table " + std::string(rules::kNftTable);
}

Json StateToJson(BackendKind kind, const rules::BackendState& state) {
  Json installed = Json::array();
  for (const auto& rule : state.rules) {
    installed.push_back({{"source", rule.source.ToString()},
                         {"out_interface", rule.out_interface},
                         {"packets", rule.packets},
                         {"bytes", rule.bytes}});
  }
  // MSS clamps in effect (both directions, hooked); the sidecar sets them, `rules` only lists.
  Json clamps = Json::array();
  for (const auto& clamp : state.clamps) {
    clamps.push_back({{"network", clamp.network.ToString()},
                      {"mss", clamp.mss},
                      {"packets", clamp.packets},
                      {"bytes", clamp.bytes}});
  }
  return {{"backend", rules::BackendName(kind)},
          {"container", ContainerName(kind)},
          {"present", state.container_present},
          {"hooked", state.hooked},
          {"rules", installed},
          {"clamps", clamps},
          {"foreign_nat_rules", state.foreign_nat_rules},
          {"foreign_masquerade_rules", state.foreign_masquerade_rules}};
}

std::string StateToText(BackendKind kind, const rules::BackendState& state) {
  std::string summary = rules::BackendName(kind) + ": " + ContainerName(kind) +
                        (state.container_present ? "" : " absent") +
                        (state.container_present && state.hooked ? ", hooked" : "") +
                        (state.container_present && !state.hooked ? ", NOT hooked" : "") + ", " +
                        std::to_string(state.rules.size()) + " rule" +
                        (state.rules.size() == 1 ? "" : "s");
  std::string text;
  text += ReportLine("rules", summary);
  for (const auto& rule : state.rules) {
    text += ReportLine("  rule", rule.source.ToString() + " out of " + rule.out_interface + ": " +
                                     std::to_string(rule.packets) + " packets");
  }
  if (!state.clamps.empty()) {
    text += ReportLine("clamps", std::to_string(state.clamps.size()) + " MSS clamp" +
                                     (state.clamps.size() == 1 ? "" : "s") + " in " +
                                     (kind == BackendKind::kLegacy
                                          ? "mangle chain " + std::string(rules::kLegacyClampChain)
                                          : "chain " + std::string(rules::kNftClampChain)));
  }
  for (const auto& clamp : state.clamps) {
    text += ReportLine("  clamp", "TCP of " + clamp.network.ToString() + " to MSS " +
                                      std::to_string(clamp.mss) + ": " +
                                      std::to_string(clamp.packets) + " SYNs clamped");
  }
  return text;
}

// ---- The subcommands ---------------------------------------------------------------------------

struct RulesFlags {
  BackendFlags backend;
  std::vector<std::string> sources;
  std::string out_interface;
  std::string daemon_json = std::string(pod::kDefaultDaemonJsonPath);
  bool json = false;
};

void AddRulesFlags(CLI::App& command, RulesFlags& flags) {
  AddBackendFlags(command, flags.backend);
  AddOption(command, "--source", "CIDR", flags.sources,
            "network to masquerade (repeatable, or comma-separated); overrides daemon.json and "
            "the docker bridges")
      ->delimiter(',');
  AddOption(command, "--out-interface", "NAME", flags.out_interface,
            "interface nested traffic leaves by (default: the IPv4 uplink)");
  AddOption(command, "--daemon-json", "PATH", flags.daemon_json,
            "the daemon.json init wrote: its bip and default-address-pools are the sources "
            "(when absent: the networks of docker0 and br-* bridges)")
      ->default_str(flags.daemon_json);
  AddFlag(command, "--json", flags.json, "print one JSON object");
}

// Flag or environment: a missing file is then an error, not a reason to look at the bridges.
bool DaemonJsonGiven(CLI::App& command) {
  return command.get_option("--daemon-json")->count() > 0 ||
         std::getenv(EnvName("--daemon-json").c_str()) != nullptr;
}

// The facts of this namespace `rules` needs (links and kernel), without running dockerd.
Result<netcfg::SystemFacts> ReadSystem(netcfg::NetlinkReader& netlink) {
  netcfg::FactSources sources;
  sources.read_dockerd_version = false;
  return netcfg::GatherFacts(netlink, sources);
}

pod::InputName Named(const std::string& flag) {
  return {flag, EnvName(flag)};
}

struct ResolvedRules {
  pod::ResolvedSpec resolved;
  pod::ChosenBackend chosen;
  pod::BackendRequest requested;
  netcfg::KernelFacts kernel;
};

// Validates every input (exit 2 before anything changes), then decides the backend.
Result<ResolvedRules> Resolve(const RulesFlags& flags, bool daemon_json_given,
                              netcfg::NetlinkReader& netlink) {
  auto requested = ParseBackendFlags(flags.backend);
  if (!requested) return requested.error();
  auto sources = ParseCidrs("--source", flags.sources);
  if (!sources) return sources.error();
  auto facts = ReadSystem(netlink);
  if (!facts) return facts.error();

  pod::SourcesRequest request{
      *sources,          flags.out_interface,
      flags.daemon_json, daemon_json_given,
      std::nullopt,      {Named("--source"), Named("--out-interface"), Named("--daemon-json")}};
  if (sources->empty()) {
    auto text = netcfg::ReadDaemonJson(flags.daemon_json);
    if (!text) return text.error();
    request.daemon_json_text = std::move(text).value();
  }
  auto resolved = pod::ResolveMasqueradeSpec(request, facts->network);
  if (!resolved) return resolved.error();
  netcfg::KernelFacts kernel = netcfg::DetectKernel(*facts);
  auto chosen = pod::ChooseBackendHere(kernel, *requested);
  if (!chosen) return chosen.error();
  return ResolvedRules{std::move(resolved).value(), std::move(chosen).value(),
                       std::move(requested).value(), std::move(kernel)};
}

void Print(const RulesFlags& flags, const std::string& action, RulesOutput output) {
  if (flags.json) {
    Json json{{"action", action}};
    for (auto& [key, value] : output.json.items()) json[key] = value;
    std::cout << json.dump(2) << "\n";
  } else {
    std::cout << output.text;
  }
}

int RunApply(const RulesFlags& flags, bool daemon_json_given, netcfg::NetlinkReader& netlink) {
  auto resolved = Resolve(flags, daemon_json_given, netlink);
  if (!resolved) return ReportFailure(resolved.error().Wrap("rules apply"));
  const rules::BackendDecision& decision = resolved->chosen.decision;
  auto applied = pod::ApplyInChosen(resolved->chosen, resolved->resolved.spec);
  if (!applied) return ReportFailure(applied.error().Wrap("rules apply"));
  log::Info("masquerade rules applied", {{"backend", rules::BackendName(decision.chosen)},
                                         {"rules", std::to_string(applied->state.rules.size())},
                                         {"out_interface", resolved->resolved.spec.out_interface}});
  Print(flags, "apply", DescribeApplied(resolved->resolved, decision, *applied));
  return 0;
}

int RunCheck(const RulesFlags& flags, bool daemon_json_given, netcfg::NetlinkReader& netlink) {
  auto resolved = Resolve(flags, daemon_json_given, netlink);
  if (!resolved) return ReportFailure(resolved.error().Wrap("rules check"));
  const rules::BackendDecision& decision = resolved->chosen.decision;
  // The question is whether the safety net works. In auto mode, rules an earlier run put in
  // the other backend are judged where they are (the decision is a preference, and their
  // counters or proof show whether they work); an explicit --backend is judged as asked.
  BackendKind judged = decision.chosen;
  const auto& other_census = decision.evidence(rules::OtherBackend(decision.chosen)).census;
  const bool ours_in_other = other_census.ok() && other_census->container_present;
  const auto& chosen_census = decision.evidence(decision.chosen).census;
  const bool ours_in_chosen = chosen_census.ok() && chosen_census->container_present;
  if (decision.step != rules::ChoiceStep::kExplicit && ours_in_other && !ours_in_chosen) {
    judged = rules::OtherBackend(decision.chosen);
  }
  auto backend = resolved->chosen.make_backend(judged);
  if (!backend) return ReportFailure(backend.error().Wrap("rules check"));
  auto state = (*backend)->Inspect();
  if (!state) return ReportFailure(state.error().Wrap("rules check"));
  const bool ours_elsewhere = judged == decision.chosen && ours_in_other;
  const auto prove = [&decision, judged, &resolved]() -> Result<rules::ProofOutcome> {
    if (const auto& proven = decision.evidence(judged).proof) return *proven;
    return pod::ProverHere(resolved->kernel, resolved->requested)->Prove(judged);
  };
  const pod::RulesVerdict verdict =
      pod::JudgeRules(judged, resolved->resolved.spec, *state, ours_elsewhere, prove);
  const std::string note = judged == decision.chosen
                               ? ""
                               : "dind-netcfg's rules are in " + rules::BackendName(judged) +
                                     " while the decision now prefers " +
                                     rules::BackendName(decision.chosen) +
                                     "; `rules apply` would move them";

  RulesOutput output;
  output.json["ok"] = verdict.ok();
  output.json["backend"] = rules::DecisionToJson(decision);
  output.json["spec"] = SpecToJson(resolved->resolved);
  output.json["state"] = StateToJson(judged, *state);
  output.json["note"] = note.empty() ? Json(nullptr) : Json(note);
  output.json["present"] = verdict.present;
  output.json["effective"] = {{"ok", verdict.effective}, {"evidence", verdict.effect_evidence}};
  output.json["missing"] = verdict.missing;
  output.json["stale"] = verdict.stale;
  output.text = rules::DecisionToText(decision) + SpecToText(resolved->resolved) +
                StateToText(judged, *state);
  if (!note.empty()) output.text += ReportLine("note", note);
  for (const auto& missing : verdict.missing) output.text += ReportLine("  missing", missing);
  for (const auto& stale : verdict.stale)
    output.text += ReportLine("  stale", stale + " (apply removes it)");
  output.text += ReportLine(
      "effective", std::string(verdict.effective ? "yes: " : "no: ") + verdict.effect_evidence);
  output.text +=
      ReportLine("check", verdict.ok() ? "ok" : "FAILED: " + Join(verdict.missing, ", "));
  Print(flags, "check", std::move(output));
  if (verdict.ok()) return 0;
  const std::string fix = verdict.present
                              ? "the rules are in place but not shown to work (see 'effective'); "
                                "`rules apply --backend " +
                                    rules::BackendName(rules::OtherBackend(judged)) +
                                    "` moves them to the other backend"
                              : "run dind-netcfg rules apply with the same flags";
  log::Error("masquerade rules missing or ineffective", {{"backend", rules::BackendName(judged)},
                                                         {"missing", Join(verdict.missing, ", ")},
                                                         {"fix", fix}});
  return 1;
}

int RunRemove(const RulesFlags& flags, netcfg::NetlinkReader& netlink) {
  const auto fail = [](const Error& error) { return ReportFailure(error.Wrap("rules remove")); };
  auto requested = ParseBackendFlags(flags.backend);
  if (!requested) return fail(requested.error());
  // --source is not needed to remove, but a malformed value is still a mistake worth naming.
  if (auto sources = ParseCidrs("--source", flags.sources); !sources) return fail(sources.error());
  auto facts = ReadSystem(netlink);
  if (!facts) return fail(facts.error());
  const netcfg::KernelFacts kernel = netcfg::DetectKernel(*facts);
  if (requested->kind) {
    if (auto available = rules::RequireAvailable(kernel, *requested->kind, requested->input_name);
        !available) {
      return fail(available.error());
    }
  }

  RulesOutput output;
  output.json["backends"] = Json::object();
  for (BackendKind kind : rules::kBothBackends) {
    if (requested->kind
            ? kind != *requested->kind
            : rules::KernelFeatureOf(kernel, kind).available == netcfg::Availability::kNo) {
      continue;
    }
    auto backend = rules::BackendFactoryFor(requested->options)(kind);
    if (!backend) return fail(backend.error());
    auto before = (*backend)->Inspect();
    if (!before) return fail(before.error());
    if (auto removed = (*backend)->Remove(); !removed) return fail(removed.error());
    output.json["backends"][rules::BackendName(kind)] = {{"had_rules", before->container_present},
                                                         {"removed_rules", before->rules.size()}};
    output.text +=
        ReportLine("removed", rules::BackendName(kind) + ": " +
                                  (before->container_present
                                       ? ContainerName(kind) + " with " +
                                             std::to_string(before->rules.size()) + " rule" +
                                             (before->rules.size() == 1 ? "" : "s")
                                       : "nothing of dind-netcfg's was there"));
    log::Info("masquerade rules removed",
              {{"backend", rules::BackendName(kind)},
               {"had_rules", before->container_present ? "yes" : "no"}});
  }
  Print(flags, "remove", std::move(output));
  return 0;
}

}  // namespace

RulesOutput DescribeApplied(const pod::ResolvedSpec& resolved,
                            const rules::BackendDecision& decision,
                            const pod::AppliedRules& applied) {
  RulesOutput output;
  output.json["backend"] = rules::DecisionToJson(decision);
  output.json["spec"] = SpecToJson(resolved);
  output.json["state"] = StateToJson(decision.chosen, applied.state);
  output.json["removed_from"] =
      applied.cleaned ? Json(rules::BackendName(*applied.cleaned)) : Json(nullptr);
  output.text = rules::DecisionToText(decision) + SpecToText(resolved) +
                StateToText(decision.chosen, applied.state);
  if (applied.cleaned) {
    output.text += ReportLine(
        "removed", "dind-netcfg's earlier rules in " + rules::BackendName(*applied.cleaned));
  }
  return output;
}

Result<RulesOutput> DescribeBackendDecision(const netcfg::KernelFacts& kernel,
                                            const pod::BackendRequest& requested) {
  auto decision = pod::DecideBackendHere(kernel, requested, /*to_change_rules=*/false);
  if (!decision) {
    if (decision.error().ExitCode() == 2) return decision.error();
    RulesOutput output{Json{{"error", decision.error().Message()}}, ""};
    output.text += ReportLine("backend", "none: " + decision.error().Message());
    return output;
  }
  return RulesOutput{rules::DecisionToJson(*decision), rules::DecisionToText(*decision)};
}

Runner AddRulesCommand(CLI::App& app) {
  auto* command = app.add_subcommand(
      "rules",
      "Install, check or remove the masquerade rules nested containers need to reach "
      "the outside");
  command->require_subcommand(1);
  auto* apply = command->add_subcommand(
      "apply", "Make the masquerade rules present (idempotent: changes only what differs)");
  auto* check = command->add_subcommand(
      "check",
      "Exit 0 when the rules are present and take effect, 1 (saying what is missing) "
      "otherwise");
  auto* remove =
      command->add_subcommand("remove", "Remove dind-netcfg's masquerade rules, and nothing else");
  // One set of values per subcommand: CLI11 fills every subcommand's options from the
  // environment, so shared values would let DIND_NETCFG_* overwrite the command line's.
  auto flags = std::make_shared<std::map<const CLI::App*, RulesFlags>>();
  for (auto* sub : {apply, check, remove}) AddRulesFlags(*sub, (*flags)[sub]);

  return [command, apply, check, flags]() {
    const CLI::App* chosen = command->get_subcommands().front();  // require_subcommand(1)
    const RulesFlags& given = flags->at(chosen);
    // Every subcommand talks to nf_tables and ip_tables; a missing capability is named with its
    // fix instead of an EPERM from deep inside (and a non-root user's permitted-only file
    // capabilities are raised). A bad --backend is still a usage error first.
    if (ParseBackendFlags(given.backend).ok()) {
      // `check` may run the traffic proof whatever the backend: SYS_ADMIN is wanted there too.
      const bool may_prove = given.backend.kind == "auto" || chosen == check;
      if (auto raised = privileges::RequireEffective(privileges::RulesNeeds(may_prove)); !raised) {
        return ReportFailure(raised.error().Wrap("rules"));
      }
    }
    netcfg::RtnlReader netlink;
    if (chosen == apply) return RunApply(given, DaemonJsonGiven(*apply), netlink);
    if (chosen == check) return RunCheck(given, DaemonJsonGiven(*check), netlink);
    return RunRemove(given, netlink);
  };
}

}  // namespace dind::cli
