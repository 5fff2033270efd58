// SPDX-License-Identifier: Apache-2.0
#include "daemon/entrypoint/dockerd_iptables.h"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <filesystem>
#include <string_view>

#include "common/strings.h"

namespace dind::entrypoint {
namespace {

// What dockerd (moby's iptables package) runs, IPv4 first.
constexpr std::array<std::string_view, 6> kTools = {"iptables",         "iptables-save",
                                                    "iptables-restore", "ip6tables",
                                                    "ip6tables-save",   "ip6tables-restore"};

std::string MultiBinary(rules::BackendKind backend) {
  return backend == rules::BackendKind::kLegacy ? "xtables-legacy-multi" : "xtables-nft-multi";
}

// "iptables-save" -> "iptables-legacy-save", as Debian and Alpine name the per-tool links.
std::string PerToolName(std::string_view tool, rules::BackendKind backend) {
  const std::string kind(rules::BackendName(backend));
  const auto dash = tool.find('-');
  if (dash == std::string_view::npos) return std::string(tool) + "-" + kind;
  return std::string(tool.substr(0, dash)) + "-" + kind + std::string(tool.substr(dash));
}

std::string Find(const std::string& name, const std::vector<std::string>& dirs,
                 const std::function<bool(const std::string&)>& is_executable) {
  for (const auto& dir : dirs) {
    const std::string path = dir + "/" + name;
    if (is_executable(path)) return path;
  }
  return {};
}

}  // namespace

Result<IptablesShimPlan> PlanIptablesShim(
    rules::BackendKind backend, const std::vector<std::string>& search_dirs,
    const std::function<bool(const std::string& path)>& is_executable) {
  IptablesShimPlan plan;
  plan.backend = backend;
  const std::string multi = Find(MultiBinary(backend), search_dirs, is_executable);
  for (const std::string_view tool : kTools) {
    const std::string target =
        !multi.empty() ? multi : Find(PerToolName(tool, backend), search_dirs, is_executable);
    if (target.empty()) {
      plan.missing.emplace_back(tool);
      continue;
    }
    plan.links.push_back({std::string(tool), target});
  }
  if (plan.links.empty() || plan.links.front().name != "iptables") {
    const std::string kind(rules::BackendName(backend));
    return Error::Environment(
        "dockerd's iptables: neither " + MultiBinary(backend) + " nor iptables-" + kind +
            " is in " + Join(search_dirs, ":"),
        "install the iptables package with its " + kind +
            " variant into the dind image, or run with --no-dockerd-iptables to leave dockerd's "
            "iptables as the image has it");
  }
  return plan;
}

std::vector<std::string> IptablesSearchDirs(const std::string& path_variable) {
  std::vector<std::string> dirs;
  const auto add = [&dirs](std::string dir) {
    if (dir.empty()) return;
    for (const auto& known : dirs) {
      if (known == dir) return;
    }
    dirs.push_back(std::move(dir));
  };
  std::string_view rest = path_variable;
  while (!rest.empty()) {
    const auto colon = rest.find(':');
    add(std::string(rest.substr(0, colon)));
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  for (const char* dir : {"/usr/local/sbin", "/usr/sbin", "/sbin"}) add(dir);
  return dirs;
}

Status WriteIptablesShim(const std::string& dir, const IptablesShimPlan& plan) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return Error::Environment("dockerd's iptables: creating " + dir, error.value(),
                              "give the entrypoint a writable --state-dir");
  }
  ::chmod(dir.c_str(), 0755);
  // Links of an earlier run (another backend, a tool since removed) go first.
  for (const std::string_view tool : kTools) {
    const std::string link = dir + "/" + std::string(tool);
    if (::unlink(link.c_str()) != 0 && errno != ENOENT) {
      return Error::Environment("dockerd's iptables: removing " + link, errno);
    }
  }
  for (const auto& tool : plan.links) {
    const std::string link = dir + "/" + tool.name;
    if (::symlink(tool.target.c_str(), link.c_str()) != 0) {
      return Error::Environment("dockerd's iptables: linking " + link + " to " + tool.target,
                                errno);
    }
  }
  return OkStatus();
}

std::string PathWithFirst(const std::string& dir, const std::string& path_variable) {
  return path_variable.empty() ? dir : dir + ":" + path_variable;
}

}  // namespace dind::entrypoint
