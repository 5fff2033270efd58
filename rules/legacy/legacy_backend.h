// SPDX-License-Identifier: Apache-2.0
// The masquerade safety net on legacy ip_tables/ip6_tables, edited in process through libiptc.
//
// Layout, per family (IPv6 only while the spec has IPv6 sources):
//   nat chain DIND-NETCFG-POSTROUTING:  -s S -o IF -j MASQUERADE   for every source S
//   nat POSTROUTING:                    -j DIND-NETCFG-POSTROUTING (once, appended, so rules
//                                       others put in POSTROUTING keep their precedence)
// and, only while the spec has clamps of that family:
//   mangle chain DIND-NETCFG-FORWARD:   -s NET -p tcp -m tcp --tcp-flags SYN,RST SYN
//                                       -m tcpmss --mss N+1:65535 -j TCPMSS --set-mss N,
//                                       and the same with -d NET, for every clamp (NET, N)
//   mangle FORWARD:                     -j DIND-NETCFG-FORWARD (once, appended)
// A spec without clamps takes the mangle chain and jump away. A pod that never clamps never
// has its mangle table opened by Apply or Inspect: once a look found no chain of ours there,
// the table's stamp (its header) says whether anything changed since.
// Every read-modify-write runs under the xtables lock; a commit that loses a race with a writer
// who ignores the lock (EAGAIN) is redone from a fresh snapshot, so their rules survive.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
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
  // Both families' nat and mangle table headers (IPT_SO_GET_INFO), not their rules.
  std::optional<std::uint64_t> ChangeStamp() override;

 private:
  // Edits one snapshot towards the wanted state; true when something changed.
  using Edit = std::function<Result<bool>(NatTable& table)>;
  Status EditFamily(Family family, LegacyTable table, const Edit& edit);
  // Makes the family's mangle table hold exactly `clamps` (none: no chain, no jump).
  Status ApplyClamps(Family family, const std::vector<MssClamp>& clamps);
  // Whether the family's mangle table may hold something of ours and must be read: not when it
  // does not exist or its stamp is the one it had when a look last found nothing of ours.
  struct MangleLook {
    bool must_read = false;
    std::optional<std::uint64_t> stamp;  // to remember when the read finds nothing of ours
  };
  Result<MangleLook> LookAtMangle(Family family);
  void RememberClampFree(Family family, std::optional<std::uint64_t> stamp);

  std::unique_ptr<NatTables> tables_;
  LegacyOptions options_;
  // Per family (IPv4, IPv6): the mangle stamp at which a look last found no chain of ours.
  std::array<std::optional<std::uint64_t>, 2> clamp_free_stamp_;
};

// The production backend: libiptc on the current thread's network namespace.
Result<std::unique_ptr<MasqueradeBackend>> MakeLegacyBackend(LegacyOptions options = {});

}  // namespace dind::rules::legacy
