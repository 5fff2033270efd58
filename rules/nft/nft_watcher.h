// SPDX-License-Identifier: Apache-2.0
// nf_tables change notifications (NFNLGRP_NFTABLES), so a long-running sidecar learns when
// someone deletes or edits table ip/ip6 dind-netcfg and can re-apply.
#pragma once

#include "common/result.h"

struct mnl_socket;
struct nlmsghdr;

namespace dind::rules::nft {

// True when an nf_tables notification (table, chain, rule, set, element, object or flowtable)
// is about table ip or ip6 dind-netcfg. Every such message names its table in attribute 1.
bool TouchesOurTable(const nlmsghdr* message);

class NftChangeWatcher {
 public:
  // Subscribes in the calling thread's network namespace.
  static Result<NftChangeWatcher> Open();
  NftChangeWatcher(NftChangeWatcher&& other) noexcept;
  NftChangeWatcher& operator=(NftChangeWatcher&& other) noexcept;
  ~NftChangeWatcher();

  // Non-blocking; poll it for readability, then call DrainEvents().
  int fd() const;
  // Reads every queued notification. True when any touched our tables, including our own
  // Apply/Remove (callers re-Inspect and compare), or when the queue overflowed and events
  // were lost.
  Result<bool> DrainEvents();

 private:
  explicit NftChangeWatcher(mnl_socket* socket) : socket_(socket) {}
  mnl_socket* socket_ = nullptr;
};

}  // namespace dind::rules::nft
