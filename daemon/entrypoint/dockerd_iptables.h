// SPDX-License-Identifier: Apache-2.0
// dockerd's own iptables in the backend the kernel honours. dockerd runs `iptables`,
// `ip6tables` and their -save/-restore forms from its PATH; in an image whose `iptables` is the
// nft shim on a kernel that only honours ip_tables (the write-up's CentOS 7 nodes), dockerd's
// NAT rules go where no packet meets them, as ours would. So the entrypoint makes a private
// directory of links to the chosen backend's binaries and puts it first in dockerd's PATH:
// nothing in the image is changed, and the choice holds for dockerd alone.
//
// xtables' multi binaries pick their tool from the name they are called by, so a link named
// `iptables` to `xtables-legacy-multi` is legacy iptables. Images without the multi binary
// (some Alpine builds) have the per-tool names (`iptables-legacy-save`), linked instead.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/result.h"
#include "rules/masquerade.h"

namespace dind::entrypoint {

struct ToolLink {
  std::string name;    // what dockerd runs: "iptables-save"
  std::string target;  // what it gets: "/usr/sbin/xtables-legacy-multi"
};

struct IptablesShimPlan {
  rules::BackendKind backend = rules::BackendKind::kNft;
  std::vector<ToolLink> links;
  // Tools the image lacks for this backend (ip6tables on an IPv4-only image): said, not fatal.
  std::vector<std::string> missing;
};

// Where each tool dockerd runs is for `backend`, looked for in `search_dirs` in order; an
// error when even `iptables` is missing, naming the dirs and the package to install.
Result<IptablesShimPlan> PlanIptablesShim(
    rules::BackendKind backend, const std::vector<std::string>& search_dirs,
    const std::function<bool(const std::string& path)>& is_executable);

// The directories searched: $PATH's, then the sbin directories a PATH may lack.
std::vector<std::string> IptablesSearchDirs(const std::string& path_variable);

// Makes `dir` (mode 0755) hold exactly the plan's links, replacing earlier ones.
Status WriteIptablesShim(const std::string& dir, const IptablesShimPlan& plan);

// `dir` first, then `path_variable`: the PATH dockerd is started with.
std::string PathWithFirst(const std::string& dir, const std::string& path_variable);

}  // namespace dind::entrypoint
