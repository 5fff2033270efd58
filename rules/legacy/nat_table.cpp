// SPDX-License-Identifier: Apache-2.0
#include "rules/legacy/nat_table.h"

#include <cerrno>

namespace dind::rules::legacy {

Error NatTableError(Family family, const std::string& action, int errnum) {
  const bool v4 = family == Family::kIPv4;
  const std::string tool = v4 ? "iptables-legacy" : "ip6tables-legacy";
  switch (errnum) {
    case EPERM:
    case EACCES:
      return Error::Permission(
          action + ": changing the legacy nat table needs CAP_NET_ADMIN (and CAP_NET_RAW)", errnum,
          "run dind-netcfg as root in the pod's network namespace, or add NET_ADMIN and NET_RAW "
          "to the container's capabilities");
    case ENOENT:
      return Error::Environment(
          action + ": the kernel has no legacy nat table (module " +
              std::string(v4 ? "iptable_nat" : "ip6table_nat") + " is not loaded)",
          errnum,
          "load it on the node with `modprobe " + std::string(v4 ? "iptable_nat" : "ip6table_nat") +
              "`, or use the nft backend");
    case ENOPROTOOPT:
      return Error::Environment(
          action + ": the kernel has no legacy ip_tables (module " +
              std::string(v4 ? "ip_tables" : "ip6_tables") + " is not loaded)",
          errnum,
          "load it on the node with `modprobe " +
              std::string(v4 ? "ip_tables iptable_nat" : "ip6_tables ip6table_nat") +
              "`, or use the nft backend");
    case EAGAIN:
      return Error::Environment(action + ": the table changed while we were editing it", errnum,
                                "another program writes it without the xtables lock; retry");
    case 0:
      return Error::Environment(action + ": libiptc does not understand this kernel's ip_tables", 0,
                                "the iptables package and the kernel do not match");
    default:
      return Error::Environment(action, errnum,
                                "compare with `" + tool + " -t nat -S` in the same namespace");
  }
}

}  // namespace dind::rules::legacy
