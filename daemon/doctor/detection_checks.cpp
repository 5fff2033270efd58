// SPDX-License-Identifier: Apache-2.0
#include "daemon/doctor/detection_checks.h"

#include <algorithm>

#include "common/strings.h"
#include "rules/masquerade.h"

namespace dind::doctor {
namespace {

const char kNoDockerFix[] =
    "run doctor where dockerd's socket is (in the dind container, or beside it sharing /run), "
    "or pass --docker-socket PATH";

std::string NetworksSource(const pod::DockerState& docker) {
  return "GET /networks of unix://" + docker.socket;
}

// "docker's networks not checked: the API at S does not answer (why)"
std::string NotChecked(const pod::DockerState& docker) {
  return "docker's networks not checked: the API at " + docker.socket + " does not answer (" +
         docker.error + ")";
}

int BridgeNetworks(const pod::DockerState& docker) {
  return static_cast<int>(std::count_if(
      docker.networks.begin(), docker.networks.end(),
      [](const docker::DockerNetwork& network) { return network.driver == "bridge"; }));
}

// Whether `range` was avoided because of `network`'s own bridge ("address on br-ci",
// "route via br-ci"): dockerd's networks are not judged against their own routes.
bool AvoidedForItself(const netcfg::AvoidedRange& range, const docker::DockerNetwork& network) {
  return !network.bridge_name.empty() && range.reason.ends_with(" " + network.bridge_name);
}

nlohmann::ordered_json AvailabilityJson(const rules::BackendEvidence& evidence) {
  return {{"available", std::string(netcfg::AvailabilityName(evidence.available))},
          {"evidence", evidence.availability_evidence}};
}

}  // namespace

CheckResult CheckNetworkMtu(const DetectionOutcome& outcome) {
  const netcfg::MtuDecision& mtu = outcome.report.mtu;
  const pod::DockerState& docker = outcome.docker;
  CheckResult result{.id = "network-mtu"};
  result.observed["docker_mtu"] = mtu.docker;
  result.observed["uplink_mtu"] = mtu.uplink;
  result.observed["path_limit"] = mtu.path_limit;
  result.observed["path_limit_source"] = mtu.path_limit_source;
  result.observed["decided_by"] = mtu.source;
  result.observed["api_up"] = docker.api_up;
  const std::string decided =
      "docker MTU " + std::to_string(mtu.docker) + " (" + mtu.source + ": " + mtu.reason + ")";
  result.source = "uplink " + outcome.report.primary_uplink().interface +
                  " and its routes, netlink of " + outcome.read_by + "; " + NetworksSource(docker);
  if (!docker.api_up) {
    result.summary = decided + "; " + NotChecked(docker);
    result.fix = kNoDockerFix;
    return result;
  }
  nlohmann::ordered_json above = nlohmann::ordered_json::array();
  std::vector<std::string> named;
  for (const pod::NetworkMtuFinding& finding : docker.mtu_too_high) {
    above.push_back({{"network", finding.network},
                     {"bridge", finding.bridge},
                     {"mtu", finding.mtu},
                     {"mtu_from_option", finding.mtu_from_option}});
    named.push_back(finding.network + " (" + finding.bridge + ") MTU " +
                    std::to_string(finding.mtu) +
                    (finding.mtu_from_option ? "" : " (no MTU option: dockerd's default)"));
  }
  result.observed["networks_above"] = above;
  if (!named.empty()) {
    result.status = CheckStatus::kWarn;
    result.summary =
        decided + "; above it, so their containers' big packets are lost: " + Join(named, ", ");
    const std::string value = std::to_string(mtu.docker);
    result.fix =
        "recreate each with `docker network create --opt com.docker.network.driver.mtu=" + value +
        " ...` (KIND: delete the `kind` network before `kind create cluster`); the "
        "default bridge takes daemon.json \"mtu\": " +
        value + ", which init writes, then restart dockerd";
    return result;
  }
  result.status = CheckStatus::kOk;
  result.summary = decided + "; dockerd's " + std::to_string(BridgeNetworks(docker)) +
                   " bridge networks are at or below it";
  return result;
}

CheckResult CheckNetworkOverlay(const DetectionOutcome& outcome) {
  const netcfg::OverlayEvidence& overlay = outcome.report.overlay;
  CheckResult result{.id = "network-overlay"};
  result.observed["overhead_bytes"] = overlay.overhead_bytes;
  result.observed["kind"] = overlay.kind;
  result.observed["evidence"] = overlay.evidence;
  result.observed["mtu_limit"] =
      overlay.mtu_limit ? nlohmann::ordered_json(*overlay.mtu_limit) : nlohmann::ordered_json();
  result.observed["ignored"] = overlay.warnings;
  result.source = "evidence " + overlay.evidence +
                  (overlay.mtu_limit_source.empty() ? "" : " (" + overlay.mtu_limit_source + ")") +
                  ", read by " + outcome.read_by;
  result.summary = (overlay.overhead_bytes > 0 ? std::to_string(overlay.overhead_bytes) +
                                                     " bytes of " + overlay.kind + " overlay"
                                               : std::string("no overlay overhead assumed")) +
                   " [" + overlay.evidence + "]: " + overlay.detail;
  if (!overlay.warnings.empty()) {
    result.status = CheckStatus::kWarn;
    result.summary += "; ignored: " + Join(overlay.warnings, "; ");
    result.fix =
        "make the source named readable and correct, or give the MTU yourself: init/entrypoint "
        "--mtu N with the pod network's MTU";
    return result;
  }
  // An inference that fits more than one encapsulation assumes none: if the pod network is an
  // overlay after all, the docker MTU is too high by its overhead.
  if (overlay.evidence == "inference" && overlay.overhead_bytes == 0) {
    result.status = CheckStatus::kWarn;
    result.fix =
        "if the pod network is an overlay, give init/entrypoint --mtu N with its MTU (or mount "
        "the CNI's config or MTU file: --cni-config, --calico-mtu-file)";
    return result;
  }
  result.status = CheckStatus::kOk;
  return result;
}

CheckResult CheckIptablesBackend(const DetectionOutcome& outcome) {
  CheckResult result{.id = "iptables-backend"};
  result.source = "kernel " + outcome.report.kernel.release +
                  ", a read-only census of both backends in this network namespace and a "
                  "traffic proof in throwaway namespaces, by " +
                  outcome.read_by;
  if (!outcome.backend) {
    result.status = CheckStatus::kFail;
    result.summary = "no masquerade backend works here: " + outcome.backend.error().Message();
    result.observed["error"] = outcome.backend.error().Message();
    result.fix =
        "have the node load nf_tables (with nft_masq) or ip_tables with iptable_nat, and run the "
        "pod privileged so both can be used";
    return result;
  }
  const rules::BackendDecision& decision = *outcome.backend;
  const rules::BackendEvidence& chosen = decision.evidence(decision.chosen);
  const bool proven = chosen.proof && chosen.proof->ok() && (*chosen.proof)->passed;
  const std::string name = rules::BackendName(decision.chosen);
  result.observed["chosen"] = name;
  result.observed["step"] = std::string(rules::ChoiceStepName(decision.step));
  result.observed["proven"] = proven;
  result.observed["legacy"] = AvailabilityJson(decision.legacy);
  result.observed["nft"] = AvailabilityJson(decision.nft);
  result.observed["split_brain"] = decision.split_brain;
  result.observed["warnings"] = decision.warnings;
  result.summary = name + " (by " + std::string(rules::ChoiceStepName(decision.step)) + ", " +
                   (proven ? "proven by traffic" : "not proven by traffic") +
                   "): " + decision.reason;
  if (!decision.split_brain.empty()) {
    result.status = CheckStatus::kWarn;
    result.summary += "; " + Join(decision.split_brain, "; ");
    result.fix = "make every writer use " + name +
                 ": dockerd's iptables (the dind-netcfg entrypoint puts the chosen one first on "
                 "dockerd's PATH; or daemon.json \"firewall-backend\"), then restart dockerd";
    return result;
  }
  if (!decision.warnings.empty()) {
    result.status = CheckStatus::kWarn;
    result.summary += "; " + Join(decision.warnings, "; ");
    result.fix =
        "run doctor privileged (CAP_SYS_ADMIN and CAP_NET_ADMIN) so the traffic proof can run; "
        "if it runs and fails, have the node load the netfilter modules (nft_masq, iptable_nat), "
        "or pass --backend legacy|nft when you know which one works";
    return result;
  }
  result.status = CheckStatus::kOk;
  return result;
}

CheckResult CheckCgroups(const DetectionOutcome& outcome) {
  const netcfg::CgroupDecision& cgroup = outcome.report.cgroup;
  const netcfg::CgroupNestingPlan& nesting = outcome.report.cgroup_nesting;
  CheckResult result{.id = "cgroups"};
  result.observed["version"] = cgroup.version;
  result.observed["own_path"] = cgroup.own_path;
  result.observed["nesting"] = netcfg::CgroupNestingModeName(nesting.mode);
  result.observed["cgroup_parent"] = nesting.cgroup_parent
                                         ? nlohmann::ordered_json(*nesting.cgroup_parent)
                                         : nlohmann::ordered_json();
  result.source = nesting.read_from.empty() ? cgroup.read_from : nesting.read_from;
  if (cgroup.version == "unknown") {
    result.summary = "cgroup version unknown: " + cgroup.reason;
    result.fix =
        "mount the cgroup file system at /sys/fs/cgroup in the container (a privileged "
        "pod gets it)";
    return result;
  }
  result.status = CheckStatus::kOk;
  result.summary =
      "cgroup " + cgroup.version + " (" + cgroup.own_path + "); dockerd's container " +
      "nests by " + netcfg::CgroupNestingModeName(nesting.mode) + ": " + nesting.reason +
      "; cgroup-parent " + (nesting.cgroup_parent ? *nesting.cgroup_parent : std::string("none")) +
      (nesting.cgroup_parent_reason.empty() ? "" : ": " + nesting.cgroup_parent_reason);
  return result;
}

CheckResult CheckAddressPools(const DetectionOutcome& outcome) {
  const netcfg::PoolDecision& pools = outcome.report.pools;
  const pod::DockerState& docker = outcome.docker;
  CheckResult result{.id = "address-pools"};
  std::vector<std::string> pool_words;
  nlohmann::ordered_json pool_json = nlohmann::ordered_json::array();
  for (const netcfg::AddressPool& pool : pools.default_address_pools) {
    pool_words.push_back(pool.base.ToString() + " (/" + std::to_string(pool.size) + " each)");
    pool_json.push_back({{"base", pool.base.ToString()}, {"size", pool.size}});
  }
  std::vector<std::string> avoided_words;
  nlohmann::ordered_json avoided_json = nlohmann::ordered_json::array();
  for (const netcfg::AvoidedRange& range : pools.avoided) {
    avoided_words.push_back(range.cidr.ToString() + " (" + range.reason + ")");
    avoided_json.push_back({{"cidr", range.cidr.ToString()}, {"reason", range.reason}});
  }
  result.observed["bip"] = pools.bip;
  result.observed["fixed_cidr"] = pools.fixed_cidr.ToString();
  result.observed["default_address_pools"] = pool_json;
  result.observed["avoided"] = avoided_json;
  result.source = "addresses, routes and nameservers of " + outcome.read_by +
                  ", KUBERNETES_SERVICE_HOST, --avoid; " + NetworksSource(docker);
  const std::string decided = "bip " + pools.bip + ", pools " + Join(pool_words, ", ") +
                              ", clear of " + std::to_string(pools.avoided.size()) +
                              " ranges the pod reaches: " + Join(avoided_words, ", ");
  if (!docker.api_up) {
    result.summary = decided + "; " + NotChecked(docker);
    result.fix = kNoDockerFix;
    return result;
  }
  // A docker network over a range the pod reaches routes the pod's own traffic for it into
  // that bridge (the connected route wins): the service, the nameserver or the node is cut off.
  std::vector<std::string> overlaps;
  nlohmann::ordered_json overlap_json = nlohmann::ordered_json::array();
  for (const docker::DockerNetwork& network : docker.networks) {
    for (const Cidr& subnet : network.subnets) {
      for (const netcfg::AvoidedRange& range : pools.avoided) {
        if (!subnet.Overlaps(range.cidr) || AvoidedForItself(range, network)) continue;
        overlaps.push_back("network " + network.name + " " + subnet.ToString() + " overlaps " +
                           range.cidr.ToString() + " (" + range.reason + ")");
        overlap_json.push_back({{"network", network.name},
                                {"subnet", subnet.ToString()},
                                {"overlaps", range.cidr.ToString()},
                                {"reason", range.reason}});
      }
    }
  }
  result.observed["overlaps"] = overlap_json;
  if (!overlaps.empty()) {
    result.status = CheckStatus::kFail;
    result.summary = Join(overlaps, "; ") +
                     ": the pod's traffic to those addresses goes into the docker bridge; the "
                     "ranges dind-netcfg would use: " +
                     decided;
    result.fix =
        "remove those networks and create them again without --subnet (dockerd then takes one "
        "from default-address-pools, which init writes clear of the pod's ranges); for the "
        "default bridge, init's bip, then restart dockerd";
    return result;
  }
  result.status = CheckStatus::kOk;
  result.summary = decided + "; none of dockerd's " + std::to_string(docker.networks.size()) +
                   " networks overlaps them";
  return result;
}

CheckResult CheckDockerdVersion(const DetectionOutcome& outcome) {
  const netcfg::DockerdDecision& dockerd = outcome.report.dockerd;
  CheckResult result{.id = "dockerd-version"};
  result.observed["version"] = dockerd.version.ToString();
  result.observed["source"] = dockerd.source;
  result.observed["read_from"] = dockerd.read_from;
  result.observed["supports_default_network_opts"] = dockerd.supports_default_network_opts;
  result.observed["supports_min_api_version"] = dockerd.supports_min_api_version;
  const std::string version = "dockerd " + dockerd.version.ToString();
  if (dockerd.source == "assumed") {
    result.source = "GET /version of unix://" + outcome.docker.socket + ", dockerd on PATH";
    result.summary = "dockerd's version unknown: no dockerd answered on " + outcome.docker.socket +
                     " and none was found on PATH; " + dockerd.reason;
    result.fix =
        "run doctor where dockerd runs (its socket: --docker-socket PATH; or its binary on "
        "PATH), or give --dockerd-version";
    return result;
  }
  result.status = CheckStatus::kOk;
  if (dockerd.source == "flag") {
    result.source = "--dockerd-version";
    result.summary =
        version + ", as --dockerd-version says (not read from dockerd): " + dockerd.reason;
    return result;
  }
  result.source = dockerd.read_from;
  const bool from_api = dockerd.read_from.starts_with("GET /version");
  result.observed["running"] = from_api;
  result.summary = from_api ? version + ", the running dockerd: " + dockerd.reason
                            : version +
                                  " as its binary states (the running dockerd did not "
                                  "answer on " +
                                  outcome.docker.socket +
                                  "; the one that starts may differ): " + dockerd.reason;
  if (!from_api) result.source += ", read by " + outcome.read_by;
  return result;
}

std::vector<CheckResult> JudgeDetection(const Result<DetectionOutcome>& detection) {
  if (detection) {
    return {CheckNetworkMtu(*detection),      CheckNetworkOverlay(*detection),
            CheckIptablesBackend(*detection), CheckCgroups(*detection),
            CheckAddressPools(*detection),    CheckDockerdVersion(*detection)};
  }
  Error what = detection.error();
  what.hint.clear();  // the hint is the fix
  std::vector<CheckResult> results;
  for (const char* id : {"network-mtu", "network-overlay", "iptables-backend", "cgroups",
                         "address-pools", "dockerd-version"}) {
    CheckResult result{.id = id};
    result.summary = "detection failed: " + what.Message();
    result.source = "dind-netcfg's detection (as `detect` runs it)";
    result.fix = !detection.error().hint.empty()
                     ? detection.error().hint
                     : "run `dind-netcfg detect` here for the details; doctor needs a default "
                       "route (the pod's uplink) in its network namespace";
    result.observed["error"] = detection.error().Message();
    results.push_back(std::move(result));
  }
  return results;
}

std::vector<CheckResult> DetectionChecks(const DoctorContext& context) {
  if (context.detection == nullptr) return {};
  return JudgeDetection(*context.detection);
}

}  // namespace dind::doctor
