// SPDX-License-Identifier: Apache-2.0
// A NetlinkReader that answers with the snapshot the test set (or fails), counting the reads.
#pragma once

#include "netcfg/netlink/snapshot.h"

namespace dind::testing {

class FakeNetlinkReader final : public netcfg::NetlinkReader {
 public:
  explicit FakeNetlinkReader(netcfg::NetworkSnapshot seen) : snapshot(std::move(seen)) {}

  netcfg::NetworkSnapshot snapshot;
  bool fail = false;
  int reads = 0;

  Result<netcfg::NetworkSnapshot> ReadSnapshot() override {
    ++reads;
    if (fail) return Error::Environment("netlink: dumping routes", EINTR);
    return snapshot;
  }
};

}  // namespace dind::testing
