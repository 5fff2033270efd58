// SPDX-License-Identifier: Apache-2.0
#include "daemon/privileges/capability_needs.h"

#include <unistd.h>

#include <algorithm>

namespace dind::privileges {

std::string_view ShortName(Capability capability) {
  switch (capability) {
    case Capability::kChown:
      return "CHOWN";
    case Capability::kDacOverride:
      return "DAC_OVERRIDE";
    case Capability::kFowner:
      return "FOWNER";
    case Capability::kNetBindService:
      return "NET_BIND_SERVICE";
    case Capability::kNetAdmin:
      return "NET_ADMIN";
    case Capability::kNetRaw:
      return "NET_RAW";
    case Capability::kSysAdmin:
      return "SYS_ADMIN";
  }
  return "UNKNOWN";
}

std::string KernelName(Capability capability) {
  return "CAP_" + std::string(ShortName(capability));
}

void Needs::Add(Capability capability, const std::string& why, bool required) {
  for (auto& need : list_) {
    if (need.capability == capability) {
      need.why += "; " + why;
      need.required = need.required || required;
      return;
    }
  }
  list_.push_back({capability, why, required});
}

CapabilityMask Needs::mask() const {
  CapabilityMask mask = 0;
  for (const auto& need : list_) mask |= Bit(need.capability);
  return mask;
}

CapabilityMask Needs::required_mask() const {
  CapabilityMask mask = 0;
  for (const auto& need : list_) {
    if (need.required) mask |= Bit(need.capability);
  }
  return mask;
}

namespace {

// `off`: how the user turns the feature off, appended to each reason ("" when there is no way).
void AddRules(Needs& needs, bool backend_auto, const std::string& off) {
  needs.Add(Capability::kNetAdmin, "the masquerade rules (nf_tables and ip_tables changes)" + off);
  // libiptc talks to ip_tables through a SOCK_RAW socket, and the backend choice reads both.
  needs.Add(Capability::kNetRaw, "reading and changing ip_tables (libiptc's raw socket)" + off);
  if (backend_auto) {
    // Without it the proof cannot run and the rule census decides alone.
    needs.Add(Capability::kSysAdmin,
              "the backend choice's traffic proof, unshare(CLONE_NEWNET) (--backend nft or "
              "legacy skips it)",
              false);
  }
}

}  // namespace

Needs RulesNeeds(bool backend_auto, const std::string& off_flag) {
  Needs needs;
  AddRules(needs, backend_auto, off_flag.empty() ? "" : " (off with " + off_flag + ")");
  return needs;
}

void AddDaemonJsonNeeds(Needs& needs, bool other_owner, bool not_writable) {
  if (other_owner) {
    // The atomic rewrite is a new file given the old one's owner (fchown), then its mode
    // (fchmod on a file no longer ours).
    needs.Add(Capability::kChown, "giving the rewritten daemon.json its current owner");
    needs.Add(Capability::kFowner, "giving the rewritten daemon.json its current mode");
  }
  if (not_writable) {
    needs.Add(Capability::kDacOverride,
              "daemon.json or its directory is not writable by this user (better: make it so)");
  }
}

Needs RunNeeds(const RunFeatures& features) {
  Needs needs;
  if (features.rules) AddRules(needs, features.backend_auto, " (off with --no-rules)");
  if (features.probes) {
    needs.Add(Capability::kNetAdmin,
              "the egress probe's veth on the docker bridge (off with --no-probes)");
    // unshare(CLONE_NEWNET) and setns: there is no network namespace without CAP_SYS_ADMIN.
    needs.Add(Capability::kSysAdmin,
              "the egress probe's network namespace, unshare and setns (off with --no-probes)");
    if (features.mtu_probe) {
      needs.Add(Capability::kNetRaw,
                "the path-MTU probe's raw ICMP socket (off with --no-probes, or give only "
                "--probe-target)");
    }
  }
  if (features.listen_port != 0 && features.listen_port < 1024) {
    needs.Add(Capability::kNetBindService,
              "--listen port " + std::to_string(features.listen_port) + " (below 1024)");
  }
  AddDaemonJsonNeeds(needs, features.daemon_json_other_owner, features.daemon_json_not_writable);
  return needs;
}

std::optional<Error> MissingError(const Needs& needs, const ProcessFacts& facts) {
  std::string reasons;
  for (const auto& need : needs.list()) {
    if (!need.required || (facts.permitted & Bit(need.capability)) != 0) continue;
    reasons += (reasons.empty() ? "" : "; ") + KernelName(need.capability) + " for " + need.why;
  }
  if (reasons.empty()) return std::nullopt;
  std::string add_list;
  for (const auto& need : needs.list()) {
    add_list += (add_list.empty() ? "" : ", ") + std::string(ShortName(need.capability));
  }
  std::string fix = "grant them: in Kubernetes, securityContext.capabilities {drop: [ALL], add: [" +
                    add_list + "]}; with docker run, --cap-drop ALL and --cap-add for each";
  const CapabilityMask missing = needs.required_mask() & ~facts.permitted;
  if ((missing & ~facts.bounding) != 0) {
    fix += " (not in the bounding set: the container was not granted them)";
  } else if (facts.euid != 0) {
    // Granted to the container but lost at exec: a non-root user receives capabilities only
    // from the binary's file capabilities.
    fix += " (they are in the bounding set, but uid " + std::to_string(facts.euid) +
           " receives them only from the binary's file capabilities: run the image's or "
           "package's /usr/bin/dind-netcfg, which getcap shows with them, not a copy, from a "
           "file system not mounted nosuid)";
  }
  return Error::Permission("missing " + reasons, 0, fix);
}

bool ModeBitsGrant(const struct stat& file, uid_t euid, gid_t egid,
                   const std::vector<gid_t>& groups, int access) {
  int shift = 0;  // other
  if (file.st_uid == euid) {
    shift = 6;
  } else if (file.st_gid == egid ||
             std::find(groups.begin(), groups.end(), file.st_gid) != groups.end()) {
    shift = 3;
  }
  const int granted = static_cast<int>((file.st_mode >> shift) & 07);
  const int wanted = ((access & R_OK) != 0 ? 4 : 0) | ((access & W_OK) != 0 ? 2 : 0) |
                     ((access & X_OK) != 0 ? 1 : 0);
  return (granted & wanted) == wanted;
}

}  // namespace dind::privileges
