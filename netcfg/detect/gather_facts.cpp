// SPDX-License-Identifier: Apache-2.0
#include "netcfg/detect/gather_facts.h"

#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "common/files.h"
#include "common/log.h"
#include "netcfg/dockerd/go_buildinfo.h"

namespace dind::netcfg {
namespace {

std::optional<std::string> ReadOptional(const std::string& path) {
  auto content = ReadFile(path);
  if (!content) return std::nullopt;
  return std::move(content).value();
}

// A CNI config path may be a directory (/etc/cni/net.d): the runtime uses the first file in
// lexical order, and so do we.
std::pair<std::optional<std::string>, std::string> ReadCniConfig(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) return {ReadOptional(path), path};
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
    const auto extension = entry.path().extension().string();
    if (extension == ".conf" || extension == ".conflist" || extension == ".json") {
      files.push_back(entry.path().string());
    }
  }
  if (files.empty()) return {std::nullopt, path};
  std::sort(files.begin(), files.end());
  return {ReadOptional(files.front()), files.front()};
}

// From the binary's Go build information when it has the version, else from running it.
std::optional<DockerdVersionText> ReadDockerdVersion(const std::string& dockerd) {
  const char* path_variable = std::getenv("PATH");
  const auto path = FindProgram(dockerd, path_variable != nullptr ? path_variable : "");
  if (!path) return std::nullopt;
  auto built = ReadDockerdBuildVersion(*path);
  if (built) return DockerdVersionText{*built, "Go build info of " + *path};
  log::Debug("dockerd's version is not in its Go build information; running it",
             {{"dockerd", *path}, {"why", built.error().Message()}});
  auto printed = RunAndCapture({*path, "--version"});
  if (!printed) return std::nullopt;
  return DockerdVersionText{*printed, *path + " --version"};
}

}  // namespace

Result<SystemFacts> GatherFacts(NetlinkReader& netlink, const FactSources& sources) {
  SystemFacts facts;
  auto network = netlink.ReadSnapshot();
  if (!network) return network.error().Wrap("detecting the pod's network");
  facts.network = std::move(network).value();

  struct utsname uts {};
  if (::uname(&uts) == 0) facts.kernel_release = uts.release;
  if (auto config = ReadGzipFile("/proc/config.gz")) {
    facts.kernel_config = std::move(config).value();
    facts.kernel_config_source = "/proc/config.gz";
  } else if (auto boot = ReadOptional("/boot/config-" + facts.kernel_release)) {
    facts.kernel_config = std::move(boot);
    facts.kernel_config_source = "/boot/config-" + facts.kernel_release;
  }
  facts.proc_modules = ReadOptional("/proc/modules");
  facts.modules_builtin = ReadOptional("/lib/modules/" + facts.kernel_release + "/modules.builtin");
  struct stat info {};
  facts.ip_tables_names_present = ::stat("/proc/net/ip_tables_names", &info) == 0;
  facts.ip_tables_names = ReadOptional("/proc/net/ip_tables_names");
  for (const char* module : {"nf_tables", "ip_tables", "iptable_raw"}) {
    if (::stat((std::string("/sys/module/") + module).c_str(), &info) == 0) {
      facts.sys_modules.emplace_back(module);
    }
  }
  facts.proc_self_cgroup = ReadOptional("/proc/self/cgroup");
  facts.proc_self_mountinfo = ReadOptional("/proc/self/mountinfo");
  facts.self_pid = static_cast<int>(::getpid());
  facts.resolv_conf = ReadOptional(sources.resolv_conf);
  if (const char* host = std::getenv("KUBERNETES_SERVICE_HOST"); host && *host) {
    facts.kubernetes_service_host = host;
  }
  if (!sources.systemd_resolv_conf.empty()) {
    facts.systemd_resolv_conf = ReadOptional(sources.systemd_resolv_conf);
  }
  if (const char* host = std::getenv("KUBE_DNS_SERVICE_HOST"); host && *host) {
    facts.kube_dns_service_host = host;
  }
  facts.calico_mtu_path = sources.calico_mtu_file;
  if (!sources.calico_mtu_file.empty())
    facts.calico_mtu_file = ReadOptional(sources.calico_mtu_file);
  if (!sources.cni_config.empty()) {
    std::tie(facts.cni_config, facts.cni_config_path) = ReadCniConfig(sources.cni_config);
  }
  if (sources.read_dockerd_version) facts.dockerd_version = ReadDockerdVersion(sources.dockerd);
  return facts;
}

}  // namespace dind::netcfg
