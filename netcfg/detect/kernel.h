// SPDX-License-Identifier: Apache-2.0
// The kernel's release and whether nf_tables and legacy ip_tables are available, read from the
// kernel config, /proc/modules and modules.builtin in SystemFacts (nothing is loaded to find out).
#pragma once

#include <string>
#include <string_view>

#include "netcfg/detect/facts.h"

namespace dind::netcfg {

enum class Availability { kYes, kNo, kUnknown };
std::string_view AvailabilityName(Availability availability);

struct FeatureFacts {
  Availability available = Availability::kUnknown;
  bool loaded = false;   // in use right now (module loaded or built in and registered)
  bool builtin = false;  // built into the kernel (modules.builtin, or =y in its config)
  std::string evidence;  // "CONFIG_NF_TABLES=y in /proc/config.gz"
};

struct KernelFacts {
  std::string release;
  int major = 0;
  int minor = 0;
  FeatureFacts nf_tables;
  FeatureFacts ip_tables;
  // The legacy `raw` table (iptable_raw), which dockerd >= 28.0 writes rules to.
  FeatureFacts iptable_raw;
};

KernelFacts DetectKernel(const SystemFacts& facts);

}  // namespace dind::netcfg
