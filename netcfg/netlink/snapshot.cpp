// SPDX-License-Identifier: Apache-2.0
#include "netcfg/netlink/snapshot.h"

namespace dind::netcfg {

const LinkInfo* NetworkSnapshot::FindLink(int index) const {
  for (const auto& link : links) {
    if (link.index == index) return &link;
  }
  return nullptr;
}

const LinkInfo* NetworkSnapshot::FindLink(const std::string& name) const {
  for (const auto& link : links) {
    if (link.name == name) return &link;
  }
  return nullptr;
}

}  // namespace dind::netcfg
