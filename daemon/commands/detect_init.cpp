// `detect` and `init`: the one-shot jobs of an init container.
#include <iostream>
#include <memory>

#include "common/log.h"
#include "daemon/commands/commands.h"
#include "daemon/commands/detection_flags.h"
#include "daemon/commands/flags.h"

namespace dind::cli {
namespace {

netcfg::OrderedJson ChangesToJson(const std::vector<netcfg::KeyChange>& changes) {
  netcfg::OrderedJson json = netcfg::OrderedJson::array();
  for (const auto& change : changes) {
    json.push_back({{"key", change.key},
                    {"before", change.before.value_or(nullptr)},
                    {"after", change.after.value_or(nullptr)}});
  }
  return json;
}

std::string DescribeChange(const netcfg::KeyChange& change) {
  const auto show = [](const std::optional<netcfg::OrderedJson>& value) {
    return value ? value->dump() : std::string("(absent)");
  };
  return change.key + ": " + show(change.before) + " -> " + show(change.after);
}

}  // namespace

int ReportFailure(const Error& error) {
  log::Error(error.Message(), {{"exit_code", std::to_string(error.ExitCode())}});
  return error.ExitCode();
}

Runner AddDetectCommand(CLI::App& app) {
  auto* command = app.add_subcommand(
      "detect", "Print what dind-netcfg sees in this network namespace and what it would decide");
  auto flags = std::make_shared<DetectionFlags>();
  auto json = std::make_shared<bool>(false);
  AddFlag(*command, "--json", *json, "print one JSON object");
  AddDetectionFlags(*command, *flags);
  return [flags, json]() {
    auto report = RunDetection(*flags);
    if (!report) return ReportFailure(report.error().Wrap("detect"));
    if (*json) {
      std::cout << netcfg::ReportToJson(*report).dump(2) << "\n";
    } else {
      std::cout << netcfg::ReportToText(*report);
    }
    return 0;
  };
}

Runner AddInitCommand(CLI::App& app) {
  auto* command = app.add_subcommand(
      "init", "Detect the pod's network and write a daemon.json that makes nested Docker work");
  struct InitFlags {
    DetectionFlags detection;
    std::string daemon_json;
    bool json = false;
  };
  auto flags = std::make_shared<InitFlags>();
  AddOption(*command, "--daemon-json", flags->daemon_json,
            "daemon.json to create or merge into (keys dind-netcfg does not own are kept)")
      ->required();
  AddFlag(*command, "--json", flags->json, "print one JSON object");
  AddDetectionFlags(*command, flags->detection);

  return [flags]() {
    const std::string& path = flags->daemon_json;
    // A malformed existing file is a usage error found before anything else is done.
    auto existing = netcfg::ReadDaemonJson(path);
    if (!existing) return ReportFailure(existing.error().Wrap("init"));
    if (*existing) {
      auto parsed = netcfg::MergeDaemonJson(*existing, {}, path);
      if (!parsed) return ReportFailure(parsed.error().Wrap("init"));
    }

    auto report = RunDetection(flags->detection);
    if (!report) return ReportFailure(report.error().Wrap("init"));
    auto merged = netcfg::MergeDaemonJson(*existing, netcfg::PlanDaemonJson(*report), path);
    if (!merged) return ReportFailure(merged.error().Wrap("init"));

    // Same bytes: leave the file (and its mtime) alone so a re-run is a true no-op.
    const bool write = !*existing || **existing != merged->text;
    if (write) {
      auto written = netcfg::WriteFileAtomically(path, merged->text);
      if (!written) return ReportFailure(written.error().Wrap("init"));
    }
    log::Info(write ? "daemon.json written" : "daemon.json already up to date",
              {{"path", path},
               {"mtu", std::to_string(report->mtu.docker)},
               {"changes", std::to_string(merged->changes.size())}});

    if (flags->json) {
      auto json = netcfg::ReportToJson(*report);
      json["daemon_json"] = {{"path", path},
                             {"written", write},
                             {"changes", ChangesToJson(merged->changes)}};
      std::cout << json.dump(2) << "\n";
    } else {
      std::cout << netcfg::ReportToText(*report);
      std::cout << "daemon.json " << path << (write ? " written" : " unchanged") << "\n";
      for (const auto& change : merged->changes) {
        std::cout << "  changed   " << DescribeChange(change) << "\n";
      }
    }
    return 0;
  };
}

Runner AddVersionCommand(CLI::App& app) {
  app.add_subcommand("version", "Print the version");
  return []() {
    std::cout << "dind-netcfg " << DIND_NETCFG_VERSION << "\n";
    return 0;
  };
}

}  // namespace dind::cli
