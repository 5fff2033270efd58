// SPDX-License-Identifier: Apache-2.0
#include "netcfg/detect/kernel.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace dind::netcfg {
namespace {

// "CONFIG_NF_TABLES=m" -> "m"; "" when the option is absent or "is not set".
std::string ConfigValue(const std::string& config, const std::string& option) {
  std::istringstream lines(config);
  std::string line;
  const std::string prefix = option + "=";
  while (std::getline(lines, line)) {
    if (line.starts_with(prefix)) return line.substr(prefix.size());
  }
  return "";
}

bool ListsModule(const std::optional<std::string>& text, const std::string& module) {
  if (!text) return false;
  std::istringstream lines(*text);
  std::string line;
  while (std::getline(lines, line)) {
    // /proc/modules: "nf_tables 249856 0 - Live …"; modules.builtin: "kernel/net/…/nf_tables.ko"
    if (line.starts_with(module + " ") || line.ends_with("/" + module + ".ko")) return true;
  }
  return false;
}

FeatureFacts DetectFeature(const SystemFacts& facts, const std::string& module,
                           const std::string& config_option, bool registered_now) {
  FeatureFacts feature;
  const bool sys_module = std::find(facts.sys_modules.begin(), facts.sys_modules.end(), module) !=
                          facts.sys_modules.end();
  feature.loaded = registered_now || sys_module || ListsModule(facts.proc_modules, module);
  if (feature.loaded) {
    feature.available = Availability::kYes;
    feature.evidence = registered_now ? "registered (" + module + " in use)" : module + " loaded";
    return feature;
  }
  if (ListsModule(facts.modules_builtin, module)) {
    feature.available = Availability::kYes;
    feature.builtin = true;
    feature.evidence = module + " built into the kernel (modules.builtin)";
    return feature;
  }
  if (facts.kernel_config) {
    const std::string value = ConfigValue(*facts.kernel_config, config_option);
    feature.available = value.empty() ? Availability::kNo : Availability::kYes;
    feature.builtin = value == "y";
    feature.evidence = config_option + "=" + (value.empty() ? "n" : value) + " in " +
                       facts.kernel_config_source +
                       (value == "m" ? " (module, not loaded yet)" : "");
    return feature;
  }
  feature.evidence = "not loaded, and no kernel config readable to say whether it exists";
  return feature;
}

}  // namespace

std::string_view AvailabilityName(Availability availability) {
  switch (availability) {
    case Availability::kYes:
      return "yes";
    case Availability::kNo:
      return "no";
    case Availability::kUnknown:
      return "unknown";
  }
  return "unknown";
}

KernelFacts DetectKernel(const SystemFacts& facts) {
  KernelFacts kernel;
  kernel.release = facts.kernel_release;
  std::sscanf(facts.kernel_release.c_str(), "%d.%d", &kernel.major, &kernel.minor);
  kernel.nf_tables = DetectFeature(facts, "nf_tables", "CONFIG_NF_TABLES", false);
  // /proc/net/ip_tables_names exists exactly while the legacy ip_tables core is registered.
  kernel.ip_tables =
      DetectFeature(facts, "ip_tables", "CONFIG_IP_NF_IPTABLES", facts.ip_tables_names_present);
  // "raw" in ip_tables_names: the table is registered in this netns right now.
  bool raw_registered = false;
  if (facts.ip_tables_names) {
    std::istringstream names(*facts.ip_tables_names);
    std::string name;
    while (std::getline(names, name)) raw_registered = raw_registered || name == "raw";
  }
  kernel.iptable_raw = DetectFeature(facts, "iptable_raw", "CONFIG_IP_NF_RAW", raw_registered);
  return kernel;
}

}  // namespace dind::netcfg
