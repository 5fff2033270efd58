// SPDX-License-Identifier: Apache-2.0
// The masquerade safety net on legacy ip_tables/ip6_tables, edited in process through libiptc.
//
// Layout, per family (IPv6 only while the spec has IPv6 sources):
//   nat chain DIND-NETCFG-POSTROUTING:  -s S -o IF -j MASQUERADE   for every source S
//   nat POSTROUTING:                    -j DIND-NETCFG-POSTROUTING (once, appended, so rules
//                                       others put in POSTROUTING keep their precedence)
// Every read-modify-write runs under the xtables lock; a commit that loses a race with a writer
// who ignores the lock (EAGAIN) is redone from a fresh snapshot, so their rules survive.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "rules/legacy/nat_table.h"
#include "rules/legacy/xtables_lock.h"
#include "rules/masquerade.h"

namespace dind::rules::legacy {

struct LegacyOptions {
  // Empty: $XTABLES_LOCKFILE, else /run/xtables.lock, the file iptables itself locks.
  std::string lock_path;
  // How long Apply/Remove wait for another iptables user to release the lock.
  std::chrono::milliseconds lock_wait = kDefaultXtablesWait;
  // Commits retried after EAGAIN before giving up.
  int commit_attempts = 20;
};

class LegacyBackend final : public MasqueradeBackend {
 public:
  // `options.lock_path` must already be resolved (MakeLegacyBackend does that).
  LegacyBackend(std::unique_ptr<NatTables> tables, LegacyOptions options);

  BackendKind kind() const override { return BackendKind::kLegacy; }
  Status Apply(const MasqueradeSpec& spec) override;
  // Reads without the lock (a snapshot is consistent on its own) and without creating tables
  // the kernel does not have yet; a family without a nat table counts as empty.
  Result<BackendState> Inspect() override;
  Status Remove() override;
  // Both families' nat table headers (IPT_SO_GET_INFO), not their rules.
  std::optional<std::uint64_t> ChangeStamp() override;

 private:
  // Edits one snapshot towards the wanted state; true when something changed.
  using Edit = Result<bool> (*)(NatTable& table, const std::vector<Cidr>& sources,
                                const std::string& out_interface);
  Status EditFamily(Family family, Edit edit, const std::vector<Cidr>& sources,
                    const std::string& out_interface);

  std::unique_ptr<NatTables> tables_;
  LegacyOptions options_;
};

// The production backend: libiptc on the current thread's network namespace.
Result<std::unique_ptr<MasqueradeBackend>> MakeLegacyBackend(LegacyOptions options = {});

}  // namespace dind::rules::legacy
