// SPDX-License-Identifier: Apache-2.0
// Which Linux capabilities a command needs for the features it was asked to run, and what to
// say when one is missing. Pure: the caller gathers the facts (flags, file ownership) and
// process_capabilities.h applies the result.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace dind::privileges {

// The capabilities dind-netcfg may use; values are the kernel's CAP_* numbers.
enum class Capability : int {
  kChown = 0,            // CAP_CHOWN
  kDacOverride = 1,      // CAP_DAC_OVERRIDE
  kFowner = 3,           // CAP_FOWNER
  kNetBindService = 10,  // CAP_NET_BIND_SERVICE
  kNetAdmin = 12,        // CAP_NET_ADMIN
  kNetRaw = 13,          // CAP_NET_RAW
  kSysAdmin = 21,        // CAP_SYS_ADMIN
};

// "NET_ADMIN": the spelling of Kubernetes' capabilities.add and docker's --cap-add.
std::string_view ShortName(Capability capability);
// "CAP_NET_ADMIN": the kernel's and capsh's spelling.
std::string KernelName(Capability capability);

// A set of capabilities as the kernel's 64-bit masks (bit N is CAP number N).
using CapabilityMask = std::uint64_t;
constexpr CapabilityMask Bit(Capability capability) {
  return CapabilityMask{1} << static_cast<int>(capability);
}

// One capability and the feature that needs it ("the masquerade rules (nf_tables, ip_tables)").
// Not `required`: the feature works without it, less well (kept when held, never demanded).
struct Need {
  Capability capability;
  std::string why;
  bool required = true;
  bool operator==(const Need&) const = default;
};

// Several features may need the same capability: one Need per capability, the reasons joined,
// required when any of them requires it.
class Needs {
 public:
  void Add(Capability capability, const std::string& why, bool required = true);
  const std::vector<Need>& list() const { return list_; }
  CapabilityMask mask() const;           // every need
  CapabilityMask required_mask() const;  // the required ones
  bool Has(Capability capability) const { return (mask() & Bit(capability)) != 0; }

 private:
  std::vector<Need> list_;
};

// What `run` was asked to do, as far as capabilities go.
struct RunFeatures {
  bool rules = true;                      // not --no-rules
  bool backend_auto = true;               // --backend auto: the choice runs a traffic proof
  bool probes = true;                     // not --no-probes
  bool mtu_probe = true;                  // a path-MTU (raw ICMP) target among the probes
  std::uint16_t listen_port = 9254;       // --listen
  bool daemon_json_other_owner = false;   // the rewrite must give it another user's owner
  bool daemon_json_not_writable = false;  // its directory (or it) denies us by mode bits
};

Needs RunNeeds(const RunFeatures& features);
// `init` and `rules apply|remove|check`: the masquerade rules, and the proof when auto.
// `off_flag`: the flag that turns the rules off ("--no-rules" for init), named in each reason.
Needs RulesNeeds(bool backend_auto, const std::string& off_flag = "");
// Rewriting daemon.json (run, init): CHOWN and FOWNER to keep another user's owner and mode,
// DAC_OVERRIDE where the mode bits deny this user.
void AddDaemonJsonNeeds(Needs& needs, bool other_owner, bool not_writable);

// How the process got (or failed to get) its capabilities, for the message.
struct ProcessFacts {
  uid_t euid = 0;
  CapabilityMask permitted = 0;
  CapabilityMask bounding = 0;
};

// nullopt when every required need is in `facts.permitted`; else a permission error (exit 1) naming
// each missing capability and what needs it, with the fix: the securityContext that grants them,
// and for a non-root user that did not receive them at exec, why.
std::optional<Error> MissingError(const Needs& needs, const ProcessFacts& facts);

// Whether the owner/group/other mode bits alone grant `access` (a mask of R_OK, W_OK, X_OK) to
// a process with these ids: what the kernel decides without CAP_DAC_OVERRIDE (ACLs aside).
bool ModeBitsGrant(const struct stat& file, uid_t euid, gid_t egid,
                   const std::vector<gid_t>& groups, int access);

}  // namespace dind::privileges
