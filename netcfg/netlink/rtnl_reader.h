// SPDX-License-Identifier: Apache-2.0
// Reads links, addresses and routes of the calling thread's network namespace over rtnetlink,
// through libnl-route-3 caches.
#pragma once

#include "common/result.h"
#include "netcfg/netlink/snapshot.h"

namespace dind::netcfg {

class RtnlReader : public NetlinkReader {
 public:
  // Opens a fresh NETLINK_ROUTE socket per call: a socket belongs to the namespace it was
  // opened in, and callers (tests, `setns` users) may switch namespaces between calls.
  Result<NetworkSnapshot> ReadSnapshot() override;
};

}  // namespace dind::netcfg
