// SPDX-License-Identifier: Apache-2.0
#include "daemon/entrypoint/dockerd_pidfiles.h"

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/files.h"
#include "common/log.h"
#include "common/strings.h"

namespace dind::entrypoint {
namespace {

constexpr std::string_view kDefaultPidfile = "/var/run/docker.pid";
constexpr std::string_view kDefaultExecRoot = "/var/run/docker";

// The value of `flag` in argv, as "--flag VALUE" or "--flag=VALUE"; the last one wins, as in
// dockerd's own parser.
std::optional<std::string> FlagValue(const std::vector<std::string>& argv,
                                     const std::vector<std::string_view>& names) {
  std::optional<std::string> value;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    for (const auto name : names) {
      const std::string& arg = argv[i];
      if (arg == name && i + 1 < argv.size()) {
        value = argv[i + 1];
      } else if (arg.size() > name.size() && arg.compare(0, name.size(), name) == 0 &&
                 arg[name.size()] == '=') {
        value = arg.substr(name.size() + 1);
      }
    }
  }
  return value;
}

std::optional<std::string> JsonString(const nlohmann::json& json, const char* key) {
  if (!json.is_object() || !json.contains(key) || !json[key].is_string()) return std::nullopt;
  return json[key].get<std::string>();
}

std::optional<std::string> ProgramOf(pid_t pid) {
  auto comm = ReadFile("/proc/" + std::to_string(pid) + "/comm");
  if (!comm) return std::nullopt;
  return std::string(TrimmedLine(*comm));
}

}  // namespace

std::vector<Pidfile> DockerdPidfiles(const std::vector<std::string>& dockerd_argv,
                                     std::string_view daemon_json) {
  // daemon.json was just written by us, so it parses; a surprise leaves dockerd's defaults.
  const auto json = nlohmann::json::parse(daemon_json, nullptr, /*allow_exceptions=*/false);
  const std::string pidfile =
      FlagValue(dockerd_argv, {"--pidfile", "-p"})
          .value_or(JsonString(json, "pidfile").value_or(std::string(kDefaultPidfile)));
  const std::string exec_root =
      FlagValue(dockerd_argv, {"--exec-root"})
          .value_or(JsonString(json, "exec-root").value_or(std::string(kDefaultExecRoot)));
  return {{pidfile, "dockerd"}, {exec_root + "/containerd/containerd.pid", "containerd"}};
}

PidfileVerdict JudgePidfile(std::optional<std::string_view> content, std::string_view program,
                            const std::function<std::optional<std::string>(pid_t)>& program_of) {
  if (!content) return PidfileVerdict::kAbsent;
  const std::string_view text = TrimmedLine(*content);
  pid_t pid = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), pid);
  if (error != std::errc() || end != text.data() + text.size() || pid <= 0) {
    return PidfileVerdict::kStale;
  }
  const auto running = program_of(pid);
  return running && *running == program ? PidfileVerdict::kInUse : PidfileVerdict::kStale;
}

Status RemoveStalePidfiles(const std::vector<Pidfile>& pidfiles) {
  for (const auto& pidfile : pidfiles) {
    auto content = ReadFile(pidfile.path);
    if (!content && content.error().errnum != ENOENT) {
      return content.error().Wrap("reading " + pidfile.program + "'s pidfile");
    }
    std::optional<std::string_view> text;
    if (content) text = TrimmedLine(*content);
    switch (JudgePidfile(text, pidfile.program, ProgramOf)) {
      case PidfileVerdict::kAbsent:
        break;
      case PidfileVerdict::kInUse:
        return Error::Environment(
            pidfile.path + " names a running " + pidfile.program + " (pid " + std::string(*text) +
                ")",
            "another dockerd uses these directories: stop it, or give this one its own "
            "--dockerd-arg=--pidfile, --dockerd-arg=--exec-root and --dockerd-arg=--data-root");
      case PidfileVerdict::kStale:
        if (std::remove(pidfile.path.c_str()) != 0 && errno != ENOENT) {
          return Error::FromErrno("removing the stale pidfile " + pidfile.path,
                                  "dockerd will not start while it exists; remove it");
        }
        log::Info("stale pidfile removed: an earlier " + pidfile.program + " stopped uncleanly",
                  {{"path", pidfile.path}, {"pid", text ? std::string(*text) : ""}});
        break;
    }
  }
  return OkStatus();
}

}  // namespace dind::entrypoint
