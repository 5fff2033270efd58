// SPDX-License-Identifier: Apache-2.0
// The resolv.conf dockerd gives a nested container, modelled from the pod's resolv.conf text, so
// doctor can say what nested containers will resolve with (and through which namespace) before
// the first one runs, and `--dns auto` can tell when dockerd would fall back to public resolvers.
//
// In a DinD pod dockerd's "host" is the pod: it reads the pod's /etc/resolv.conf (the kubelet's:
// the cluster DNS, `search <ns>.svc.cluster.local svc.cluster.local cluster.local`, ndots:5).
// What it does with it differs by release line; each was read in moby's source:
//   20.10  vendor/github.com/docker/libnetwork/{sandbox_dns_unix.go,resolvconf/} @ v20.10.24
//   26.x   libnetwork/{sandbox_dns_unix.go,internal/resolvconf/} @ v26.1.5
//   >= 28  the same files @ v28.5.2 (and under daemon/libnetwork/ @ docker-v29.0.0)
// Releases 21-25 were not read; they are modelled as 20.10 (the resolvconf rewrite is in 26).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "netcfg/dockerd/dockerd_version.h"

namespace dind::netcfg {

enum class DnsRelease {
  k20_10,  // up to 25.x
  k26,     // 26.x and 27.x
  k28,     // 28.0 and later (29 alike)
};

DnsRelease DnsReleaseOf(const DockerVersion& version);
// "20.10", "26.x", ">= 28": how reports name the behaviour modelled.
std::string_view DnsReleaseName(DnsRelease release);

inline constexpr std::string_view kEtcResolvConf = "/etc/resolv.conf";
// Where systemd-resolved lists its upstreams; dockerd reads it for the default bridge when the
// only nameserver of /etc/resolv.conf is its stub 127.0.0.53.
inline constexpr std::string_view kSystemdResolvConf = "/run/systemd/resolve/resolv.conf";

// The lines of a resolv.conf that matter to dockerd, as it parses them.
struct ResolvConfLines {
  std::vector<std::string> nameservers;  // as written; a zone stays ("fe80::1%eth0")
  std::vector<std::string> search;
  std::vector<std::string> options;
  bool operator==(const ResolvConfLines&) const = default;
};

// Parses like `release` does: 20.10 keeps the last `search` and the last `options` line; 26 on
// also take `domain` as search and join every `options` line. Unparsable nameservers are dropped
// (20.10 never matches them; 26 lists them as invalid).
ResolvConfLines ParseResolvConf(std::string_view text, DnsRelease release);

// The pod's files as dockerd's mount namespace has them; nullopt when absent (dockerd reads an
// absent file as an empty one).
struct PodResolvConf {
  std::optional<std::string> etc;      // /etc/resolv.conf
  std::optional<std::string> systemd;  // /run/systemd/resolve/resolv.conf
};

// daemon.json "dns", "dns-search", "dns-opts" (or dockerd's --dns, --dns-search, --dns-opt, or
// `docker run --dns...`): each one given replaces the whole list it names. "." in dns-search
// means no search domains (26 on).
struct DnsOverrides {
  std::vector<std::string> nameservers;
  std::vector<std::string> search;
  std::vector<std::string> options;
  bool any() const { return !nameservers.empty() || !search.empty() || !options.empty(); }
};

enum class DnsNetworkKind {
  kDefaultBridge,  // "bridge", no embedded DNS: the container queries its nameservers itself
  kUserDefined,    // `docker network create`: nameserver 127.0.0.11, dockerd forwards upstream
};

struct DnsModelInput {
  DockerVersion dockerd;
  PodResolvConf pod;
  bool ipv6 = false;  // the container's network has IPv6
  DnsOverrides overrides;
};

// A server the embedded DNS forwards to.
struct DnsUpstream {
  std::string address;
  // Queried from dockerd's (the pod's) namespace, like the pod's own lookups; otherwise from
  // the container's, i.e. through the docker bridge and the pod's masquerade.
  bool from_dockerd_netns = false;
  bool operator==(const DnsUpstream&) const = default;
};

inline constexpr std::string_view kEmbeddedDns = "127.0.0.11";
// dockerd's fallback when no usable nameserver is left: Google Public DNS.
inline constexpr std::string_view kFallbackIpv4[] = {"8.8.8.8", "8.8.4.4"};
inline constexpr std::string_view kFallbackIpv6[] = {"2001:4860:4860::8888",
                                                     "2001:4860:4860::8844"};

struct ContainerDns {
  DnsRelease release = DnsRelease::k28;
  DnsNetworkKind network = DnsNetworkKind::kDefaultBridge;
  std::string source;                  // the pod file it is based on
  ResolvConfLines file;                // what the container's /etc/resolv.conf lists
  std::vector<DnsUpstream> upstreams;  // user-defined networks: the embedded DNS's servers
  // dockerd put 8.8.8.8/8.8.4.4 (and the IPv6 ones) in the file or behind 127.0.0.11.
  bool public_fallback = false;
  // >= 28 on a user-defined network with no nameserver: dockerd has none to forward to and
  // notes "NO EXTERNAL NAMESERVERS DEFINED" in the file (the note from 28.1.1/28.2); only
  // container names resolve.
  bool no_external_nameservers = false;
};

// The file dockerd bases the default bridge's resolv.conf on (the systemd-resolved one when
// /etc/resolv.conf's only nameserver is 127.0.0.53). User-defined networks always use
// /etc/resolv.conf, as their upstreams are queried from the pod.
std::string_view DefaultBridgeSource(const PodResolvConf& pod);

ContainerDns ModelContainerDns(const DnsModelInput& input, DnsNetworkKind network);

// The resolver's ndots (the last ndots:N of the options; 1, glibc's default, without one).
int Ndots(const std::vector<std::string>& options);

// Queries a lookup of an external name with `dots` dots (github.com: 1) costs before it is
// tried as written, per address family: every search domain first when dots < ndots, so
// search.size() + 1; else 1.
int QueriesPerExternalName(const ResolvConfLines& file, int dots = 1);

// The Kubernetes cluster domains in a search list ("svc.cluster.local" -> "cluster.local").
std::vector<std::string> ClusterDomains(const std::vector<std::string>& search);

// True for 127.0.0.0/8 and ::1 (a zone is ignored).
bool IsLoopbackNameserver(std::string_view address);

}  // namespace dind::netcfg
