// SPDX-License-Identifier: Apache-2.0
#include "daemon/doctor/dns_check.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <string_view>

#include "common/strings.h"
#include "daemon/docker/docker_version.h"
#include "netcfg/daemon_json/atomic_file.h"

namespace dind::doctor {
namespace {

using netcfg::ContainerDns;
using netcfg::DnsNetworkKind;

// What the version is taken as when nothing said: the newest line, whose user networks have
// no fallback (the strictest answer).
constexpr netcfg::DockerVersion kAssumedDockerd{29, 0, 0};

constexpr const char* kVerifyFallback =
    "verify from the docker bridge: the sidecar (`dind-netcfg run`/`entrypoint`, without "
    "--no-probes) asks them itself and reports this check in its /status, or `docker run --rm "
    "busybox nslookup example.com 8.8.8.8`";

// Where a verdict on the fallback comes from, in the check's source.
constexpr const char* kProberSource =
    "the sidecar's egress prober from the docker bridge (a DNS query over UDP to each)";

bool IsFallbackServer(std::string_view address) {
  const auto in = [address](const auto& list) {
    return std::find(std::begin(list), std::end(list), address) != std::end(list);
  };
  return in(netcfg::kFallbackIpv4) || in(netcfg::kFallbackIpv6);
}

// The fallback servers the model put in the default bridge's file or behind 127.0.0.11, each
// once, in that order.
std::vector<std::string> FallbackServers(const ContainerDns& bridge, const ContainerDns& user) {
  std::vector<std::string> servers;
  const auto add = [&servers](const std::string& address) {
    if (IsFallbackServer(address) &&
        std::find(servers.begin(), servers.end(), address) == servers.end()) {
      servers.push_back(address);
    }
  };
  if (bridge.public_fallback) {
    for (const auto& nameserver : bridge.file.nameservers) add(nameserver);
  }
  if (user.public_fallback) {
    for (const auto& upstream : user.upstreams) add(upstream.address);
    for (const auto& nameserver : user.file.nameservers) add(nameserver);  // 20.10's IPv6 ones
  }
  return servers;
}

// "8.8.8.8 answered, 8.8.4.4 did not": what the prober found, per server.
std::string Probed(const std::vector<FallbackProbe>& probes) {
  std::vector<std::string> said;
  for (const auto& probe : probes) {
    said.push_back(probe.server + (probe.answered ? " answered" : " did not"));
  }
  return Join(said, ", ");
}

std::string Lines(const netcfg::ResolvConfLines& file) {
  std::string text = "nameserver " + (file.nameservers.empty() ? std::string("(none)")
                                                               : Join(file.nameservers, " "));
  if (!file.search.empty()) text += "; search " + Join(file.search, " ");
  if (!file.options.empty()) text += "; options " + Join(file.options, " ");
  return text;
}

std::string Upstreams(const ContainerDns& dns) {
  if (dns.upstreams.empty()) return "no upstream";
  std::vector<std::string> servers;
  for (const auto& upstream : dns.upstreams) {
    servers.push_back(upstream.address +
                      (upstream.from_dockerd_netns ? " (from the pod)" : " (via the bridge)"));
  }
  return Join(servers, ", ");
}

nlohmann::ordered_json ToJson(const ContainerDns& dns) {
  nlohmann::ordered_json upstreams = nlohmann::ordered_json::array();
  for (const auto& upstream : dns.upstreams) {
    upstreams.push_back({{"address", upstream.address},
                         {"from", upstream.from_dockerd_netns ? "pod" : "container"}});
  }
  return {{"source", dns.source},
          {"nameservers", dns.file.nameservers},
          {"search", dns.file.search},
          {"options", dns.file.options},
          {"upstreams", upstreams},
          {"public_fallback", dns.public_fallback},
          {"no_external_nameservers", dns.no_external_nameservers}};
}

CheckResult Make(const char* id, CheckStatus status, std::string summary, std::string source,
                 std::string fix = {}) {
  CheckResult result;
  result.id = id;
  result.status = status;
  result.summary = std::move(summary);
  result.source = std::move(source);
  result.fix = std::move(fix);
  return result;
}

// The servers of `file` a container on the bridge could use instead of the fallback.
std::string FallbackFix(const DnsFacts& facts) {
  std::string fix =
      "give nested containers a nameserver the pod reaches: `dind-netcfg init --dns auto` (or "
      "--dns <cluster DNS IP>) writes daemon.json \"dns\"";
  if (!facts.fallback_reachable) fix += "; " + std::string(kVerifyFallback);
  return fix;
}

}  // namespace

std::vector<CheckResult> CheckDns(const DnsFacts& facts) {
  std::string source = std::string(netcfg::kEtcResolvConf) + " (of " + facts.pod_reader + ")";
  if (facts.unreadable) {
    std::vector<CheckResult> results;
    for (const char* id : {kDnsResolvConfCheckId, kDnsFallbackCheckId, kDnsNdotsCheckId}) {
      results.push_back(Make(id, CheckStatus::kUnknown,
                             "the pod's resolv.conf could not be read: " + *facts.unreadable,
                             source, "run doctor where dockerd runs, as a user who can read it"));
    }
    return results;
  }
  const netcfg::DockerVersion version = facts.dockerd.value_or(kAssumedDockerd);
  const std::string dockerd =
      facts.dockerd
          ? "dockerd " + version.ToString() + " (" + facts.dockerd_source + ")"
          : "dockerd of unknown version (" + facts.dockerd_source + "), modelled as >= 28";
  source += ", daemon.json " + facts.daemon_json_source + ", " + dockerd;
  const netcfg::DnsModelInput input{version, facts.pod, facts.ipv6, facts.overrides};
  const ContainerDns bridge = netcfg::ModelContainerDns(input, DnsNetworkKind::kDefaultBridge);
  const ContainerDns user = netcfg::ModelContainerDns(input, DnsNetworkKind::kUserDefined);
  nlohmann::ordered_json observed = {
      {"release", std::string(netcfg::DnsReleaseName(bridge.release))},
      {"default_bridge", ToJson(bridge)},
      {"user_defined", ToJson(user)}};

  std::vector<CheckResult> results;
  {
    const std::string summary =
        "nested containers get, on the default bridge: " + Lines(bridge.file) + " (from " +
        bridge.source + "); on user-defined networks: " + Lines(user.file) + ", forwarding to " +
        Upstreams(user);
    if (user.no_external_nameservers) {
      results.push_back(
          Make(kDnsResolvConfCheckId, CheckStatus::kFail,
               summary + ": the pod's " + user.source +
                   " has no nameserver, and dockerd >= 28 has no fallback for the embedded DNS "
                   "(\"NO EXTERNAL NAMESERVERS DEFINED\"): only container names resolve there",
               source,
               "give dockerd a nameserver: `dind-netcfg init --dns <cluster DNS IP>` (daemon.json "
               "\"dns\"), or fix the pod's dnsPolicy/dnsConfig"));
    } else {
      results.push_back(Make(kDnsResolvConfCheckId, CheckStatus::kOk, summary, source));
    }
    results.back().observed = observed;
  }
  {
    const std::vector<std::string> servers = FallbackServers(bridge, user);
    std::vector<std::string> where;
    if (bridge.public_fallback) where.push_back("the default bridge");
    if (user.public_fallback) where.push_back("user-defined networks (behind 127.0.0.11)");
    CheckResult result;
    if (where.empty()) {
      result =
          Make(kDnsFallbackCheckId, CheckStatus::kOk,
               "no public fallback: nested containers use the pod's nameservers" +
                   std::string(
                       facts.overrides.nameservers.empty() ? "" : " given in daemon.json \"dns\""),
               source);
    } else {
      const std::string happened = "dockerd " + version.ToString() +
                                   " falls back to public resolvers " + Join(servers, ", ") +
                                   " on " + Join(where, " and ") + ": no nameserver of the pod's " +
                                   bridge.source + " is usable there (all loopback, or none)";
      const std::string probed =
          facts.fallback_probes.empty() ? "" : " (" + Probed(facts.fallback_probes) + ")";
      if (!facts.fallback_reachable) {
        result = Make(kDnsFallbackCheckId, CheckStatus::kWarn,
                      happened +
                          "; whether they answer from the docker bridge is not verified "
                          "(locked-down clusters block them)",
                      source, FallbackFix(facts));
      } else if (!*facts.fallback_reachable) {
        result = Make(kDnsFallbackCheckId, CheckStatus::kFail,
                      happened +
                          ", and the egress prober found them unreachable from the docker "
                          "bridge" +
                          probed + ": every external lookup of a nested container fails",
                      source + ", " + kProberSource, FallbackFix(facts));
      } else {
        result = Make(kDnsFallbackCheckId, CheckStatus::kWarn,
                      happened + "; they answer from the docker bridge" + probed +
                          ", but cluster names do not resolve there",
                      source + ", " + kProberSource, FallbackFix(facts));
      }
    }
    nlohmann::ordered_json probes = nlohmann::ordered_json::array();
    for (const auto& probe : facts.fallback_probes) {
      probes.push_back(
          {{"server", probe.server}, {"answered", probe.answered}, {"detail", probe.detail}});
    }
    result.observed = {
        {"default_bridge", bridge.public_fallback},
        {"user_defined", user.public_fallback},
        {"reachable", facts.fallback_reachable ? nlohmann::ordered_json(*facts.fallback_reachable)
                                               : nlohmann::ordered_json(nullptr)},
        {"servers", servers},
        {"probed", std::move(probes)}};
    results.push_back(std::move(result));
  }
  {
    const int ndots = netcfg::Ndots(bridge.file.options);
    const int queries = netcfg::QueriesPerExternalName(bridge.file);
    const auto cluster = netcfg::ClusterDomains(bridge.file.search);
    const std::string summary = "search has " + std::to_string(bridge.file.search.size()) +
                                " domain(s) and ndots is " + std::to_string(ndots) +
                                ": a lookup of an external name like github.com costs " +
                                std::to_string(queries) + " quer" + (queries == 1 ? "y" : "ies") +
                                " per address family in a nested container";
    CheckResult result;
    if (ndots >= 2 && !cluster.empty()) {
      result = Make(
          kDnsNdotsCheckId, CheckStatus::kWarn,
          summary + ", up to " + std::to_string(queries) +
              " through the masquerade (the pod's Kubernetes search domains under " +
              Join(cluster, ", ") + " are tried first)",
          source,
          "set daemon.json \"dns-opts\": [\"ndots:1\"] (or \"dns-search\": [\".\"] when nested "
          "containers need no cluster short names); `docker run --dns-opt ndots:1` per container");
    } else {
      result = Make(kDnsNdotsCheckId, CheckStatus::kOk, summary, source);
    }
    result.observed = {
        {"ndots", ndots}, {"search", bridge.file.search}, {"queries_per_external_name", queries}};
    results.push_back(std::move(result));
  }
  return results;
}

std::optional<bool> FallbackReachable(const std::vector<FallbackProbe>& probes) {
  if (probes.empty()) return std::nullopt;
  return std::any_of(probes.begin(), probes.end(),
                     [](const FallbackProbe& probe) { return probe.answered; });
}

std::vector<std::string> DnsFallbackServers(const std::vector<CheckResult>& results) {
  std::vector<std::string> servers;
  for (const auto& result : results) {
    if (result.id != kDnsFallbackCheckId || !result.observed.is_object()) continue;
    const auto found = result.observed.find("servers");
    if (found == result.observed.end() || !found->is_array()) continue;
    for (const auto& server : *found) {
      if (server.is_string()) servers.push_back(server.get<std::string>());
    }
  }
  return servers;
}

DnsFacts ReadDnsFacts(const DoctorContext& context) {
  DnsFacts facts;
  facts.fallback_probes = context.dns_fallback_probes;
  facts.fallback_reachable = FallbackReachable(facts.fallback_probes);
  facts.pod_reader = context.process.Describe();
  if (context.process.pid != 0) facts.pod_reader += " (" + context.process.chosen_by + ")";
  for (const auto& [path, into] : {std::pair{netcfg::kEtcResolvConf, &facts.pod.etc},
                                   std::pair{netcfg::kSystemdResolvConf, &facts.pod.systemd}}) {
    // dockerd copies the resolv.conf of its own container (FactsProcess).
    auto text = context.files.Read(context.process.RootPath(path));
    if (text) {
      *into = std::move(text).value();
    } else if (text.error().errnum != ENOENT) {
      facts.unreadable = text.error().Message();
    }
  }

  facts.daemon_json_source = context.daemon_json;
  const auto daemon_json = netcfg::ReadDaemonJson(context.daemon_json);
  if (!daemon_json) {
    facts.daemon_json_source +=
        " (unreadable, its dns keys not applied: " + daemon_json.error().Message() + ")";
  } else if (!*daemon_json) {
    facts.daemon_json_source += " (absent)";
  } else {
    const auto json = nlohmann::ordered_json::parse(**daemon_json, nullptr, false);
    if (json.is_discarded() || !json.is_object()) {
      facts.daemon_json_source += " (not a JSON object, its dns keys not applied)";
    } else {
      const auto strings = [&json](const char* key) {
        std::vector<std::string> values;
        const auto found = json.find(key);
        if (found == json.end() || !found->is_array()) return values;
        for (const auto& value : *found) {
          if (value.is_string()) values.push_back(value.get<std::string>());
        }
        return values;
      };
      facts.overrides = {strings("dns"), strings("dns-search"), strings("dns-opts")};
      const auto ipv6 = json.find("ipv6");
      facts.ipv6 = ipv6 != json.end() && ipv6->is_boolean() && ipv6->get<bool>();
    }
  }

  // The running dockerd's word first: the binary on disk need not be the one serving.
  const auto& served = DockerdVersion(context);
  if (served) {
    facts.dockerd = netcfg::ParseDockerVersion(served->version);
    facts.dockerd_source = docker::VersionSource(context.docker_socket);
  }
  if (!facts.dockerd) {
    if (auto offline = DockerdVersionNotServed(context)) {
      facts.dockerd = offline->first;
      facts.dockerd_source = offline->second;
    }
  }
  if (!facts.dockerd) {
    facts.dockerd_source = "no answer from " + context.docker_socket + " and no dockerd on PATH";
  }
  return facts;
}

std::vector<CheckResult> DnsChecks(const DoctorContext& context) {
  return CheckDns(ReadDnsFacts(context));
}

}  // namespace dind::doctor
