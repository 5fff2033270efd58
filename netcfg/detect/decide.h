// SPDX-License-Identifier: Apache-2.0
// Detection decisions: pure functions from SystemFacts and the user's options to a report.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/cidr.h"
#include "netcfg/detect/facts.h"

namespace dind::netcfg {

// ---- Uplink -------------------------------------------------------------------------------
struct Uplink {
  std::string interface;
  int link_index = 0;
  std::string kind;  // link kind of the uplink itself ("veth", "vxlan", "" …)
  std::uint32_t mtu = 0;
  std::uint32_t route_mtu = 0;  // the default route's own MTU metric, 0 when unset
  std::optional<IpAddress> gateway;
  std::vector<std::string> addresses;  // "10.244.1.5/24"
};

struct Uplinks {
  std::optional<Uplink> ipv4;
  std::optional<Uplink> ipv6;
};

// The interfaces of the default routes (lowest metric, main table first).
Uplinks FindUplinks(const NetworkSnapshot& network);

// ---- Overlay ------------------------------------------------------------------------------
// Bytes an encapsulation adds per packet; nullopt for kinds that are not tunnels.
std::optional<std::uint32_t> TunnelOverhead(const std::string& kind,
                                            std::optional<Family> underlay);

struct OverlayEvidence {
  std::uint32_t overhead_bytes = 0;
  std::string kind;      // "vxlan", "ipip", … or "" when unknown/none
  std::string evidence;  // "tunnel-device", "calico-mtu-file", "cni-config", "inference", "none"
  std::string detail;    // human sentence with the numbers
  // MTU limits the evidence itself implies (Calico's MTU file, a CNI config's "mtu").
  std::optional<std::uint32_t> mtu_limit;
  std::string mtu_limit_source;
  // Sources that exist but say nothing usable: ignored, and each named in a warning.
  std::vector<std::string> warnings;
};

OverlayEvidence DetectOverlay(const SystemFacts& facts, const Uplink& uplink);

// ---- MTU ----------------------------------------------------------------------------------
inline constexpr std::uint32_t kMinimumMtu = 1280;  // IPv6 minimum link MTU

struct MtuOptions {
  std::optional<std::uint32_t> override_mtu;  // --mtu N; nullopt for auto
  std::uint32_t reserve = 0;                  // --reserve BYTES
};

struct MtuDecision {
  std::uint32_t uplink = 0;
  std::uint32_t path_limit = 0;  // lowest MTU on the way out that the tool can see
  std::string path_limit_source;
  std::uint32_t reserve = 0;
  std::uint32_t docker = 0;
  std::string source;  // "auto" or "flag"
  std::string reason;
};

// Errors are kBadInput (exit 2): --mtu out of [1280, uplink MTU], or a reserve that leaves
// less than 1280.
Result<MtuDecision> DecideMtu(const Uplink& uplink, const OverlayEvidence& overlay,
                              const MtuOptions& options);

// ---- Kernel -------------------------------------------------------------------------------
enum class Availability { kYes, kNo, kUnknown };
std::string_view AvailabilityName(Availability availability);

struct FeatureFacts {
  Availability available = Availability::kUnknown;
  bool loaded = false;   // in use right now (module loaded or built in and registered)
  std::string evidence;  // "CONFIG_NF_TABLES=y in /proc/config.gz"
};

struct KernelFacts {
  std::string release;
  int major = 0;
  int minor = 0;
  FeatureFacts nf_tables;
  FeatureFacts ip_tables;
};

KernelFacts DetectKernel(const SystemFacts& facts);

// ---- cgroup -------------------------------------------------------------------------------
struct CgroupDecision {
  std::string version;                // "v1", "v2" or "unknown"
  std::string own_path;               // this process's cgroup as /proc/self/cgroup shows it
  std::optional<std::string> parent;  // cgroup-parent for dockerd, when one is needed
  std::string reason;                 // why, and when no parent is written, why not
};

// Nests dockerd's containers under this container's cgroup (per the D2iQ write-up) when the
// mounted hierarchy shows more than this container; writes nothing when dockerd's default
// already nests (a cgroup namespace, or this cgroup mounted as the root), and nothing when the
// process looks like a host session or service rather than a container.
CgroupDecision DecideCgroupParent(const SystemFacts& facts);

// ---- Address pools ------------------------------------------------------------------------
struct AvoidedRange {
  Cidr cidr;
  std::string reason;  // "address on eth0", "route via eth0", "KUBERNETES_SERVICE_HOST", …
};

struct AddressPool {
  Cidr base;
  int size = 24;
};

struct PoolDecision {
  std::vector<AvoidedRange> avoided;
  Cidr bridge_network;  // the default bridge's network
  std::string bip;      // gateway address with prefix: "172.17.0.1/16"
  // daemon.json "fixed-cidr": containers on the default bridge get addresses from its lower
  // half only, so the top (the egress probe's reserved address) is never handed out.
  Cidr fixed_cidr;
  std::vector<AddressPool> default_address_pools;
  std::string reason;
};

// Fails (kEnvironment) only when every candidate range collides.
Result<PoolDecision> DecideAddressPools(const SystemFacts& facts, const std::vector<Cidr>& avoid);

// Nameserver addresses from resolv.conf text.
std::vector<IpAddress> ParseNameservers(const std::string& resolv_conf);

// ---- dockerd version ----------------------------------------------------------------------
struct DockerVersion {
  int major = 0;
  int minor = 0;
  int patch = 0;
  std::string ToString() const;
  bool AtLeast(int want_major, int want_minor) const {
    return major > want_major || (major == want_major && minor >= want_minor);
  }
};

inline constexpr DockerVersion kOldestSupportedDocker{20, 10, 0};

// Accepts "24.0.7", "v25.0", "26", and `dockerd --version` output
// ("Docker version 20.10.24+dfsg1, build 5d6db84").
std::optional<DockerVersion> ParseDockerVersion(const std::string& text);

struct DockerdDecision {
  DockerVersion version;
  std::string source;                          // "flag", "dockerd --version", "assumed"
  bool supports_default_network_opts = false;  // dockerd >= 24.0
  std::string reason;
};

// `requested` is the --dockerd-version value ("auto" or a version); `version_output` the output
// of `dockerd --version` when it could be run. kBadInput for an unparsable flag value.
Result<DockerdDecision> DecideDockerd(const std::string& requested,
                                      const std::optional<std::string>& version_output);

}  // namespace dind::netcfg
