// SPDX-License-Identifier: Apache-2.0
#include "daemon/entrypoint/dockerd_command.h"

#include <string_view>

namespace dind::entrypoint {
namespace {

// "--host", "--host=…", "-H", "-Hunix://…", "-H=…" all set the socket.
bool Sets(std::string_view arg, std::string_view long_name, std::string_view short_name) {
  if (arg == long_name || arg.starts_with(std::string(long_name) + "=")) return true;
  return !short_name.empty() && arg.starts_with(short_name);
}

}  // namespace

Result<std::vector<std::string>> DockerdArgv(const DockerdLaunch& launch) {
  for (const auto& arg : launch.extra) {
    const bool config = Sets(arg, "--config-file", "");
    if (config || Sets(arg, "--host", "-H")) {
      return Error::BadInput(
          "--dockerd-arg " + arg + ": the entrypoint passes " +
              (config ? "--config-file " + launch.daemon_json : "--host unix://" + launch.socket) +
              " to dockerd itself",
          config ? "use --daemon-json PATH to choose the file"
                 : "use --docker-socket PATH to choose the socket");
    }
  }
  std::vector<std::string> argv = {launch.dockerd, "--config-file", launch.daemon_json, "--host",
                                   "unix://" + launch.socket};
  argv.insert(argv.end(), launch.extra.begin(), launch.extra.end());
  return argv;
}

std::vector<std::string> ModulesFor(rules::BackendKind backend, bool ipv6) {
  std::vector<std::string> modules;
  if (backend == rules::BackendKind::kNft) {
    modules = {"nf_tables", "nft_chain_nat", "nft_masq"};
  } else {
    modules = {"ip_tables", "iptable_nat", "ipt_MASQUERADE"};
    if (ipv6) modules.insert(modules.end(), {"ip6_tables", "ip6table_nat"});
  }
  // dockerd's bridge networks and its port publishing.
  modules.insert(modules.end(), {"bridge", "br_netfilter", "veth"});
  return modules;
}

}  // namespace dind::entrypoint
