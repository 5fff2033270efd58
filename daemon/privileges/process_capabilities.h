// SPDX-License-Identifier: Apache-2.0
// Applies capability_needs.h to this process with libcap: `run` keeps exactly what it needs,
// the one-shot commands check and raise what they need. A non-root user gets its capabilities
// from the binary's file capabilities, which are permitted-only (no effective bit: an
// effective bit would make exec fail with EPERM wherever one is not granted, even for
// `version`), so raising them to effective is this code's job.
#pragma once

#include <string>

#include "common/result.h"
#include "daemon/privileges/capability_needs.h"

namespace dind::privileges {

// This thread's sets, its effective uid and no_new_privs.
Result<ProcessFacts> ReadProcessFacts();

struct Kept {
  CapabilityMask kept = 0;
  CapabilityMask optional_missing = 0;  // optional needs not held: their features degrade
  CapabilityMask bounding = 0;          // the bounding set afterwards
  bool bounding_trimmed = false;        // false: no CAP_SETPCAP, the runtime's bounding set stays
};

// Keeps exactly `needs` (permitted = effective), clears the inheritable and ambient sets, trims
// the bounding set to `needs` when CAP_SETPCAP allows, and sets no_new_privs, so nothing this
// process executes gains capabilities. A permission error (MissingError) when a need is not
// permitted. Capabilities are per thread: call it while the process has one thread, before any
// thread is started; threads started later inherit the result.
Result<Kept> KeepOnly(const Needs& needs);

// For commands that exit soon: raises `needs` into the effective set (nothing is dropped), or
// the permission error naming what is missing.
Status RequireEffective(const Needs& needs);

// How daemon.json at `path` stands for this process's uid and groups, by mode bits: whether
// its rewrite needs CAP_CHOWN/CAP_FOWNER (another owner) or CAP_DAC_OVERRIDE (not writable).
struct DaemonJsonAccess {
  bool other_owner = false;
  bool not_writable = false;
};
DaemonJsonAccess ReadDaemonJsonAccess(const std::string& path);

// "NET_ADMIN,NET_RAW", or "none".
std::string Describe(CapabilityMask mask);

}  // namespace dind::privileges
