// SPDX-License-Identifier: Apache-2.0
#include "daemon/privileges/process_capabilities.h"

#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <vector>

namespace dind::privileges {
namespace {

struct CapFree {
  void operator()(cap_t caps) const { cap_free(caps); }
};
using CapHandle = std::unique_ptr<std::remove_pointer_t<cap_t>, CapFree>;

CapabilityMask Flag(cap_t caps, cap_flag_t flag) {
  CapabilityMask mask = 0;
  for (cap_value_t value = 0; value < cap_max_bits() && value < 64; ++value) {
    cap_flag_value_t set = CAP_CLEAR;
    if (cap_get_flag(caps, value, flag, &set) == 0 && set == CAP_SET) {
      mask |= CapabilityMask{1} << value;
    }
  }
  return mask;
}

CapabilityMask Bounding() {
  CapabilityMask mask = 0;
  for (cap_value_t value = 0; value < cap_max_bits() && value < 64; ++value) {
    if (cap_get_bound(value) == 1) mask |= CapabilityMask{1} << value;
  }
  return mask;
}

Error CapError(const std::string& what) {
  return Error::Environment(what, errno,
                            "the kernel refused a capability change dind-netcfg "
                            "is allowed to make; report this as a bug");
}

// Sets permitted and effective to `mask` (which must be within permitted), inheritable empty.
Status SetProcess(CapabilityMask permitted, CapabilityMask effective) {
  CapHandle caps(cap_init());
  if (!caps) return CapError("allocating a capability set (cap_init)");
  for (cap_value_t value = 0; value < cap_max_bits() && value < 64; ++value) {
    const CapabilityMask bit = CapabilityMask{1} << value;
    if ((permitted & bit) != 0) cap_set_flag(caps.get(), CAP_PERMITTED, 1, &value, CAP_SET);
    if ((effective & bit) != 0) cap_set_flag(caps.get(), CAP_EFFECTIVE, 1, &value, CAP_SET);
  }
  if (cap_set_proc(caps.get()) != 0) return CapError("setting this process's capabilities");
  return OkStatus();
}

}  // namespace

Result<ProcessFacts> ReadProcessFacts() {
  CapHandle caps(cap_get_proc());
  if (!caps) return Error::FromErrno("reading this process's capabilities (cap_get_proc)");
  ProcessFacts facts;
  facts.euid = ::geteuid();
  facts.permitted = Flag(caps.get(), CAP_PERMITTED);
  facts.bounding = Bounding();
  return facts;
}

Result<Kept> KeepOnly(const Needs& needs) {
  auto facts = ReadProcessFacts();
  if (!facts) return facts.error();
  if (auto missing = MissingError(needs, *facts)) return *missing;
  // The optional needs are kept when held: the features they serve work better with them.
  const CapabilityMask keep = needs.mask() & facts->permitted;
  Kept kept;
  kept.kept = keep;
  kept.optional_missing = needs.mask() & ~facts->permitted;

  // Trimming the bounding set takes CAP_SETPCAP in the effective set (root has it; a
  // non-root user with file capabilities does not, and its bounding set is the runtime's).
  constexpr CapabilityMask kSetPcap = CapabilityMask{1} << CAP_SETPCAP;
  if ((facts->permitted & kSetPcap) != 0) {
    DIND_RETURN_IF_ERROR(SetProcess(facts->permitted, keep | kSetPcap));
    for (cap_value_t value = 0; value < cap_max_bits() && value < 64; ++value) {
      const CapabilityMask bit = CapabilityMask{1} << value;
      if ((keep & bit) == 0 && (facts->bounding & bit) != 0 && cap_drop_bound(value) != 0) {
        return CapError("dropping capability " + std::to_string(value) + " from the bounding set");
      }
    }
    kept.bounding_trimmed = true;
  }
  DIND_RETURN_IF_ERROR(SetProcess(keep, keep));
  // Ambient capabilities would survive exec; none are wanted (clearing needs no capability).
  if (cap_reset_ambient() != 0 && errno != EINVAL) {
    return CapError("clearing the ambient capability set");
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return CapError("setting no_new_privs (prctl PR_SET_NO_NEW_PRIVS)");
  }
  kept.bounding = Bounding();
  return kept;
}

Status RequireEffective(const Needs& needs) {
  auto facts = ReadProcessFacts();
  if (!facts) return facts.error();
  if (auto missing = MissingError(needs, *facts)) return *missing;
  CapHandle caps(cap_get_proc());
  if (!caps) return Error::FromErrno("reading this process's capabilities (cap_get_proc)");
  for (const auto& need : needs.list()) {
    if ((facts->permitted & Bit(need.capability)) == 0) continue;  // optional, not held
    const auto value = static_cast<cap_value_t>(need.capability);
    cap_set_flag(caps.get(), CAP_EFFECTIVE, 1, &value, CAP_SET);
  }
  if (cap_set_proc(caps.get()) != 0) return CapError("raising capabilities to effective");
  return OkStatus();
}

DaemonJsonAccess ReadDaemonJsonAccess(const std::string& path) {
  DaemonJsonAccess access;
  const uid_t euid = ::geteuid();
  const gid_t egid = ::getegid();
  std::vector<gid_t> groups(static_cast<std::size_t>(std::max(::getgroups(0, nullptr), 0)));
  if (!groups.empty())
    groups.resize(static_cast<std::size_t>(
        std::max(::getgroups(static_cast<int>(groups.size()), groups.data()), 0)));
  const auto slash = path.find_last_of('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  struct stat dir_stat {};
  // A directory we cannot even stat is for the writer to report, with its own hint.
  if (::stat(dir.c_str(), &dir_stat) == 0 &&
      !ModeBitsGrant(dir_stat, euid, egid, groups, W_OK | X_OK)) {
    access.not_writable = true;
  }
  struct stat file_stat {};
  if (::stat(path.c_str(), &file_stat) == 0) {
    if (!ModeBitsGrant(file_stat, euid, egid, groups, R_OK)) access.not_writable = true;
    const bool our_group = file_stat.st_gid == egid || std::find(groups.begin(), groups.end(),
                                                                 file_stat.st_gid) != groups.end();
    access.other_owner = file_stat.st_uid != euid || !our_group;
  }
  return access;
}

std::string Describe(CapabilityMask mask) {
  std::string text;
  for (int value = 0; value < 64; ++value) {
    if ((mask & (CapabilityMask{1} << value)) == 0) continue;
    char* name = cap_to_name(value);  // "cap_net_admin"
    std::string upper = name != nullptr ? name : std::to_string(value);
    cap_free(name);
    if (upper.starts_with("cap_")) upper = upper.substr(4);
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    text += (text.empty() ? "" : ",") + upper;
  }
  return text.empty() ? "none" : text;
}

}  // namespace dind::privileges
