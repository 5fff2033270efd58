// SPDX-License-Identifier: Apache-2.0
// The groups of checks `doctor` runs, in report order. A new area adds its group here (one line)
// and its source to dind_doctor (CMakeLists.txt says the convention).
#include <array>

#include "daemon/doctor/api_floor_check.h"
#include "daemon/doctor/detection_checks.h"
#include "daemon/doctor/dns_check.h"
#include "daemon/doctor/doctor_facts.h"
#include "daemon/doctor/file_checks.h"
#include "daemon/doctor/raw_table_check.h"
#include "daemon/doctor/storage_check.h"

namespace dind::doctor {
namespace {

constexpr std::array kCheckGroups = {
    &FileChecks,      // conntrack, userns, kind-* (file_checks.h)
    &ApiFloorChecks,  // api-floor (api_floor_check.h)
    &StorageChecks,   // storage-fs, storage-space, storage-driver (storage_check.h)
    &RawTableChecks,  // iptables-raw (raw_table_check.h)
    &DnsChecks,       // dns-resolv-conf, dns-fallback, dns-ndots (dns_check.h)
    // network-mtu, network-overlay, iptables-backend, cgroups, address-pools, dockerd-version
    &DetectionChecks,  // (detection_checks.h)
};

}  // namespace

std::vector<CheckResult> RunAllChecks(const DoctorContext& context) {
  std::vector<CheckResult> results;
  for (const CheckGroup group : kCheckGroups) {
    auto group_results = group(context);
    for (auto& result : group_results) results.push_back(std::move(result));
  }
  return results;
}

}  // namespace dind::doctor
