// SPDX-License-Identifier: Apache-2.0
// NatTables on the kernel, through libiptc (iptc_* for IPv4, ip6tc_* for IPv6).
#pragma once

#include <memory>
#include <string_view>

#include "rules/legacy/nat_table.h"

namespace dind::rules::legacy {

std::unique_ptr<NatTables> MakeIptcNatTables();

// Whether /proc/net/ip_tables_names (or ip6_tables_names) text lists `table`.
bool TableNamesList(std::string_view names_file_text, std::string_view table);
inline bool TableNamesListNat(std::string_view names_file_text) {
  return TableNamesList(names_file_text, "nat");
}

}  // namespace dind::rules::legacy
