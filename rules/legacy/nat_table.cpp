// SPDX-License-Identifier: Apache-2.0
#include "rules/legacy/nat_table.h"

#include <cerrno>

namespace dind::rules::legacy {

std::string_view TableName(LegacyTable table) {
  return table == LegacyTable::kNat ? "nat" : "mangle";
}

Error NatTableError(Family family, LegacyTable table, const std::string& action, int errnum) {
  const bool v4 = family == Family::kIPv4;
  const std::string tool = v4 ? "iptables-legacy" : "ip6tables-legacy";
  const std::string name(TableName(table));
  if (errnum == EPERM || errnum == EACCES) {
    return Error::Permission(
        action + ": changing the legacy " + name + " table needs CAP_NET_ADMIN (and CAP_NET_RAW)",
        errnum,
        "run dind-netcfg as root in the pod's network namespace, or add NET_ADMIN and NET_RAW "
        "to the container's capabilities");
  }
  if (table == LegacyTable::kMangle && errnum == ENOENT) {
    // Reading: no mangle table; committing: the kernel lacks the TCPMSS target or a match.
    const std::string modules = v4 ? "iptable_mangle" : "ip6table_mangle";
    return Error::Environment(
        action +
            ": the kernel has no legacy mangle table or lacks the TCPMSS target or the "
            "tcp/tcpmss matches (modules " +
            modules + ", xt_TCPMSS, xt_tcpmss, xt_tcp)",
        errnum,
        "load them on the node with `modprobe " + modules +
            " xt_TCPMSS xt_tcpmss`, or use the nft backend");
  }
  if (table == LegacyTable::kMangle && errnum == ENOPROTOOPT) {
    return Error::Environment(action + ": the kernel has no legacy ip_tables (module " +
                                  std::string(v4 ? "ip_tables" : "ip6_tables") + " is not loaded)",
                              errnum, "load it on the node, or use the nft backend");
  }
  switch (errnum) {
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
      return Error::Environment(
          action, errnum, "compare with `" + tool + " -t " + name + " -S` in the same namespace");
  }
}

}  // namespace dind::rules::legacy
