// SPDX-License-Identifier: Apache-2.0
#include "netcfg/dns/container_dns.h"

#include <algorithm>
#include <charconv>
#include <sstream>

#include "common/cidr.h"

namespace dind::netcfg {
namespace {

std::vector<std::string> Fields(std::string_view line) {
  std::vector<std::string> fields;
  std::istringstream words{std::string(line)};
  std::string word;
  while (words >> word) fields.push_back(word);
  return fields;
}

// The address without its zone ("fe80::1%eth0" -> fe80::1); nullopt when it is none.
std::optional<IpAddress> AddressOf(std::string_view nameserver) {
  const std::size_t percent = nameserver.find('%');
  auto address = IpAddress::Parse(nameserver.substr(0, percent));
  if (!address) return std::nullopt;
  return *address;
}

bool IsIpv6(std::string_view nameserver) {
  const auto address = AddressOf(nameserver);
  return address && !address->is_v4();
}

bool HasZone(std::string_view nameserver) {
  return nameserver.find('%') != std::string::npos;
}

std::vector<std::string> OfFamily(const std::vector<std::string>& nameservers, bool ipv6) {
  std::vector<std::string> kept;
  for (const auto& nameserver : nameservers) {
    if (IsIpv6(nameserver) == ipv6) kept.push_back(nameserver);
  }
  return kept;
}

std::vector<std::string> FallbackNameservers(bool ipv6) {
  std::vector<std::string> servers(std::begin(kFallbackIpv4), std::end(kFallbackIpv4));
  if (ipv6) servers.insert(servers.end(), std::begin(kFallbackIpv6), std::end(kFallbackIpv6));
  return servers;
}

bool IsFallback(std::string_view nameserver) {
  const auto in = [&nameserver](const auto& list) {
    return std::find(std::begin(list), std::end(list), nameserver) != std::end(list);
  };
  return in(kFallbackIpv4) || in(kFallbackIpv6);
}

// The default bridge's filter, alike in every release (20.10 FilterResolvDNS, 26 on
// TransformForLegacyNw): loopback nameservers go (the container's loopback is not the pod's),
// IPv6 ones too without IPv6; with none left, the public fallback.
std::vector<std::string> FilterForBridge(const std::vector<std::string>& nameservers, bool ipv6,
                                         bool& used_fallback) {
  std::vector<std::string> kept;
  for (const auto& nameserver : nameservers) {
    if (!IsLoopbackNameserver(nameserver) && (ipv6 || !IsIpv6(nameserver))) {
      kept.push_back(nameserver);
    }
  }
  used_fallback = kept.empty();
  return used_fallback ? FallbackNameservers(ipv6) : kept;
}

std::vector<std::string> WithoutDot(const std::vector<std::string>& search) {
  std::vector<std::string> kept;
  for (const auto& domain : search) {
    if (domain != ".") kept.push_back(domain);
  }
  return kept;
}

// The pod's lines with each override given in place of its list.
ResolvConfLines Overridden(ResolvConfLines lines, const DnsOverrides& overrides) {
  if (!overrides.nameservers.empty()) lines.nameservers = overrides.nameservers;
  if (!overrides.search.empty()) lines.search = WithoutDot(overrides.search);
  if (!overrides.options.empty()) lines.options = overrides.options;
  return lines;
}

std::optional<int> NdotsValue(std::string_view option) {
  if (!option.starts_with("ndots:")) return std::nullopt;
  const std::string_view digits = option.substr(6);
  int value = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (error != std::errc() || end != digits.data() + digits.size() || value < 0) {
    return std::nullopt;
  }
  return value;
}

// The embedded DNS wants ndots:0 (ResolverOptions) but adds it only when the file has no valid
// ndots: the pod's ndots:5 stays. 26 on drop invalid ndots options first; 20.10 refuses to start
// the container on one, which is not modelled (no kubelet writes one).
void AddEmbeddedDnsOptions(std::vector<std::string>& options) {
  std::erase_if(options, [](const std::string& option) {
    return option.starts_with("ndots:") && !NdotsValue(option);
  });
  const bool has_ndots = std::any_of(options.begin(), options.end(), [](const std::string& o) {
    return NdotsValue(o).has_value();
  });
  if (!has_ndots) options.push_back("ndots:0");
}

void ModelDefaultBridge(const ResolvConfLines& pod, const DnsModelInput& input, ContainerDns& out) {
  if (out.release == DnsRelease::k20_10 && input.overrides.any()) {
    // 20.10 setupDNS: any override builds the file from the lists as they are, unfiltered (even
    // the pod's loopback nameservers when only dns-search or dns-opts is given).
    out.file = Overridden(pod, input.overrides);
    return;
  }
  out.file = Overridden(pod, input.overrides);
  // 26 on: a nameserver override is taken as it is; search/options overrides still filter.
  if (!input.overrides.nameservers.empty()) return;
  out.file.nameservers = FilterForBridge(out.file.nameservers, input.ipv6, out.public_fallback);
}

void ModelUserDefined2010(const ResolvConfLines& pod, const DnsModelInput& input,
                          ContainerDns& out) {
  // setupDNS, updateDNS and rebuildDNS @ v20.10.24: the upstreams are the IPv4 nameservers of
  // the pod's file (loopback ones queried from dockerd's namespace), IPv6 ones stay in the
  // container's file beside 127.0.0.11.
  ResolvConfLines container;
  if (input.overrides.any()) {
    container = Overridden(pod, input.overrides);
    for (const auto& server : OfFamily(container.nameservers, false)) {
      out.upstreams.push_back({server, false});
    }
  } else {
    for (const auto& server : OfFamily(pod.nameservers, false)) {
      out.upstreams.push_back({server, IsLoopbackNameserver(server)});
    }
    container = pod;
    bool used_fallback = false;
    container.nameservers = FilterForBridge(pod.nameservers, input.ipv6, used_fallback);
    if (out.upstreams.empty()) {
      // No IPv4 nameserver in the pod: the filtered file's (8.8.8.8/8.8.4.4 after a fallback).
      for (const auto& server : OfFamily(container.nameservers, false)) {
        out.upstreams.push_back({server, false});
      }
    }
  }
  out.file.nameservers = {std::string(kEmbeddedDns)};
  for (const auto& server : OfFamily(container.nameservers, true)) {
    out.file.nameservers.push_back(server);
  }
  out.file.search = container.search;
  out.file.options = container.options;
  AddEmbeddedDnsOptions(out.file.options);
  const bool upstream_fallback =
      std::any_of(out.upstreams.begin(), out.upstreams.end(),
                  [](const DnsUpstream& upstream) { return IsFallback(upstream.address); });
  const bool file_fallback = std::any_of(out.file.nameservers.begin(), out.file.nameservers.end(),
                                         [](const std::string& s) { return IsFallback(s); });
  // A pod that lists Google itself is not a fallback.
  const bool pod_lists_google = std::any_of(pod.nameservers.begin(), pod.nameservers.end(),
                                            [](const std::string& s) { return IsFallback(s); });
  out.public_fallback =
      !input.overrides.any() && !pod_lists_google && (upstream_fallback || file_fallback);
}

void ModelUserDefined26On(const ResolvConfLines& pod, const DnsModelInput& input,
                          ContainerDns& out) {
  const ResolvConfLines lines = Overridden(pod, input.overrides);
  const bool ns_override = !input.overrides.nameservers.empty();
  for (const auto& server : lines.nameservers) {
    bool from_dockerd = !ns_override;
    if (out.release == DnsRelease::k26) {
      // 26 TransformForIntNS: from the pod only what the container could not reach itself.
      from_dockerd = !ns_override && (IsLoopbackNameserver(server) ||
                                      (IsIpv6(server) && !input.ipv6) || HasZone(server));
    }
    // >= 28 (moby d29767431c): every nameserver of the pod's file from the pod's namespace;
    // overrides from the container's.
    out.upstreams.push_back({server, from_dockerd});
  }
  if (out.upstreams.empty()) {
    if (out.release == DnsRelease::k26) {
      for (const auto& server : FallbackNameservers(input.ipv6)) {
        out.upstreams.push_back({server, false});
      }
      out.public_fallback = true;
    } else {
      out.no_external_nameservers = true;  // moby 925b484a40: no fallback for the embedded DNS
    }
  }
  out.file.nameservers = {std::string(kEmbeddedDns)};
  out.file.search = lines.search;
  out.file.options = lines.options;
  AddEmbeddedDnsOptions(out.file.options);
}

}  // namespace

DnsRelease DnsReleaseOf(const DockerVersion& version) {
  if (version.AtLeast(28, 0)) return DnsRelease::k28;
  if (version.AtLeast(26, 0)) return DnsRelease::k26;
  return DnsRelease::k20_10;
}

std::string_view DnsReleaseName(DnsRelease release) {
  switch (release) {
    case DnsRelease::k20_10:
      return "20.10";
    case DnsRelease::k26:
      return "26.x";
    case DnsRelease::k28:
      return ">= 28";
  }
  return "?";
}

ResolvConfLines ParseResolvConf(std::string_view text, DnsRelease release) {
  ResolvConfLines lines;
  std::istringstream stream{std::string(text)};
  std::string line;
  while (std::getline(stream, line)) {
    // 20.10 cuts comments at '#' anywhere; 26 on ignore lines starting with '#' or ';'.
    if (release == DnsRelease::k20_10) line = line.substr(0, line.find('#'));
    const auto fields = Fields(line);
    if (fields.empty() || fields[0][0] == '#' || fields[0][0] == ';') continue;
    const std::vector<std::string> rest(fields.begin() + 1, fields.end());
    if (fields[0] == "nameserver") {
      if (!rest.empty() && AddressOf(rest[0])) lines.nameservers.push_back(rest[0]);
    } else if (fields[0] == "search" || (fields[0] == "domain" && release != DnsRelease::k20_10)) {
      if (!rest.empty()) lines.search = rest;
    } else if (fields[0] == "options" && !rest.empty()) {
      if (release == DnsRelease::k20_10) lines.options.clear();
      lines.options.insert(lines.options.end(), rest.begin(), rest.end());
    }
  }
  return lines;
}

std::string_view DefaultBridgeSource(const PodResolvConf& pod) {
  // resolvconf.Path(): the same test in 20.10 and 26 on.
  const auto etc = ParseResolvConf(pod.etc.value_or(""), DnsRelease::k26);
  if (etc.nameservers.size() == 1 && etc.nameservers[0] == "127.0.0.53") {
    return kSystemdResolvConf;
  }
  return kEtcResolvConf;
}

ContainerDns ModelContainerDns(const DnsModelInput& input, DnsNetworkKind network) {
  ContainerDns out;
  out.release = DnsReleaseOf(input.dockerd);
  out.network = network;
  const bool bridge = network == DnsNetworkKind::kDefaultBridge;
  out.source = bridge ? DefaultBridgeSource(input.pod) : kEtcResolvConf;
  const std::optional<std::string>& text =
      out.source == kSystemdResolvConf ? input.pod.systemd : input.pod.etc;
  const ResolvConfLines pod = ParseResolvConf(text.value_or(""), out.release);
  if (bridge) {
    ModelDefaultBridge(pod, input, out);
  } else if (out.release == DnsRelease::k20_10) {
    ModelUserDefined2010(pod, input, out);
  } else {
    ModelUserDefined26On(pod, input, out);
  }
  return out;
}

int Ndots(const std::vector<std::string>& options) {
  int ndots = 1;
  for (const auto& option : options) {
    if (const auto value = NdotsValue(option)) ndots = std::min(*value, 15);  // glibc caps it
  }
  return ndots;
}

int QueriesPerExternalName(const ResolvConfLines& file, int dots) {
  if (dots >= Ndots(file.options)) return 1;
  return static_cast<int>(file.search.size()) + 1;
}

std::vector<std::string> ClusterDomains(const std::vector<std::string>& search) {
  std::vector<std::string> domains;
  for (const auto& domain : search) {
    if (!domain.starts_with("svc.") || domain.size() <= 4) continue;
    std::string cluster = domain.substr(4);
    if (!cluster.empty() && cluster.back() == '.') cluster.pop_back();
    if (std::find(domains.begin(), domains.end(), cluster) == domains.end()) {
      domains.push_back(cluster);
    }
  }
  return domains;
}

bool IsLoopbackNameserver(std::string_view address) {
  const auto parsed = AddressOf(address);
  if (!parsed) return false;
  if (parsed->is_v4()) return parsed->bytes()[0] == 127;
  return *parsed == *IpAddress::Parse("::1");
}

}  // namespace dind::netcfg
