// SPDX-License-Identifier: Apache-2.0
#include "netcfg/detect/network_path.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <iterator>
#include <nlohmann/json.hpp>

namespace dind::netcfg {
namespace {

constexpr std::uint32_t kMainTable = 254;

std::optional<Uplink> FindUplink(const NetworkSnapshot& network, Family family) {
  const RouteInfo* best = nullptr;
  for (const auto& route : network.routes) {
    if (route.family != family || !route.is_default() || route.out_link_index == 0) continue;
    // The main table decides where the pod's traffic goes unless policy routing says otherwise;
    // prefer it, then the lowest metric, as the kernel would.
    const auto rank = [](const RouteInfo& r) {
      return std::pair(r.table == kMainTable ? 0 : 1, r.priority);
    };
    if (best == nullptr || rank(route) < rank(*best)) best = &route;
  }
  if (best == nullptr) return std::nullopt;
  const LinkInfo* link = network.FindLink(best->out_link_index);
  if (link == nullptr) return std::nullopt;
  Uplink uplink{.interface = link->name,
                .link_index = link->index,
                .kind = link->kind,
                .mtu = link->mtu,
                .route_mtu = best->mtu,
                .gateway = best->gateway,
                .addresses = {}};
  for (const auto& address : network.addresses) {
    if (address.link_index == link->index) {
      uplink.addresses.push_back(address.address.ToString() + "/" +
                                 std::to_string(address.prefix_length));
    }
  }
  return uplink;
}

std::optional<Mtu> ParseMtuNumber(const std::string& text) {
  Mtu value = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(*begin))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(end[-1]))) --end;
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc() || ptr != end || value < kLowestMtu || value > kHighestMtu) {
    return std::nullopt;
  }
  return value;
}

// The smallest numeric "mtu" anywhere in a CNI config (calico, flannel and cilium put it on
// the plugin object; a conflist nests plugins in an array).
std::optional<Mtu> FindCniMtu(const nlohmann::json& node) {
  std::optional<Mtu> lowest;
  const auto consider = [&lowest](std::optional<Mtu> mtu) {
    if (mtu && (!lowest || *mtu < *lowest)) lowest = mtu;
  };
  if (node.is_object()) {
    for (const auto& [key, value] : node.items()) {
      if (key == "mtu" && value.is_number_unsigned()) {
        consider(ParseMtuNumber(std::to_string(value.get<std::uint64_t>())));
      } else {
        consider(FindCniMtu(value));
      }
    }
  } else if (node.is_array()) {
    for (const auto& element : node) consider(FindCniMtu(element));
  }
  return lowest;
}

// Underlay MTUs pods commonly sit on: Ethernet, GCE, AWS jumbo frames, and AWS jumbo frames
// below an IPIP hop.
constexpr Mtu kCommonUnderlayMtus[] = {1500, 1460, 9001, 8981};

struct InferableEncapsulation {
  const char* kind;
  std::uint32_t bytes;
  const char* description;
};
constexpr InferableEncapsulation kInferableEncapsulations[] = {
    {"ipip", 20, "ipip"},
    {"gre", 24, "gre"},
    {"vxlan", 50, "vxlan or geneve"},
    {"wireguard", 60, "wireguard"},
    {"vxlan", 70, "vxlan or geneve over IPv6"},
    {"wireguard", 80, "wireguard over IPv6"}};

struct InferenceCandidate {
  Mtu underlay;
  const InferableEncapsulation* encapsulation;
};

// "1500 (a common underlay MTU) minus 50 bytes of vxlan or geneve"
std::string Describe(const InferenceCandidate& candidate) {
  return std::to_string(candidate.underlay) + " (a common underlay MTU) minus " +
         std::to_string(candidate.encapsulation->bytes) + " bytes of " +
         candidate.encapsulation->description;
}

std::string UnderlayList() {
  std::string list;
  for (Mtu mtu : kCommonUnderlayMtus) {
    list += (list.empty() ? "" : ", ") + std::to_string(mtu);
  }
  return list;
}

}  // namespace

Uplinks FindUplinks(const NetworkSnapshot& network) {
  return Uplinks{FindUplink(network, Family::kIPv4), FindUplink(network, Family::kIPv6)};
}

std::optional<std::uint32_t> TunnelOverhead(const std::string& kind,
                                            std::optional<Family> underlay) {
  const bool over_v6 = underlay == Family::kIPv6;
  if (kind == "ipip" || kind == "sit") return 20;
  if (kind == "gre") return 24;
  if (kind == "ip6tnl") return 40;
  if (kind == "ip6gre") return 44;
  if (kind == "vxlan" || kind == "geneve") return over_v6 ? 70u : 50u;
  if (kind == "wireguard") return over_v6 ? 80u : 60u;
  return std::nullopt;
}

OverlayEvidence DetectOverlay(const SystemFacts& facts, const Uplink& uplink) {
  OverlayEvidence overlay;

  // Limits stated by the CNI itself lower the path MTU even when the pod's eth0 claims more.
  if (facts.calico_mtu_file) {
    if (auto mtu = ParseMtuNumber(*facts.calico_mtu_file)) {
      overlay.mtu_limit = mtu;
      overlay.mtu_limit_source = "Calico MTU file " + facts.calico_mtu_path;
    } else {
      overlay.warnings.push_back(
          "Calico MTU file " + facts.calico_mtu_path + " does not hold an MTU (a number from " +
          std::to_string(kLowestMtu) + " to " + std::to_string(kHighestMtu) + "); ignored");
    }
  }
  if (facts.cni_config) {
    const auto config = nlohmann::json::parse(*facts.cni_config, nullptr, false);
    if (config.is_discarded()) {
      overlay.warnings.push_back("CNI config " + facts.cni_config_path +
                                 " is not valid JSON; its MTU, if any, is ignored");
    }
    if (auto mtu = config.is_discarded() ? std::nullopt : FindCniMtu(config)) {
      if (!overlay.mtu_limit || *mtu < *overlay.mtu_limit) {
        overlay.mtu_limit = mtu;
        overlay.mtu_limit_source = "CNI config " + facts.cni_config_path;
      }
    }
  }

  // 1. A tunnel device in this namespace: the uplink itself first, else any tunnel that is up.
  const LinkInfo* tunnel = nullptr;
  if (const LinkInfo* link = facts.network.FindLink(uplink.link_index);
      link && TunnelOverhead(link->kind, link->underlay_family)) {
    tunnel = link;
  }
  for (const auto& link : facts.network.links) {
    if (tunnel == nullptr && link.up && TunnelOverhead(link.kind, link.underlay_family)) {
      tunnel = &link;
    }
  }
  if (tunnel != nullptr) {
    overlay.overhead_bytes = *TunnelOverhead(tunnel->kind, tunnel->underlay_family);
    overlay.kind = tunnel->kind;
    overlay.evidence = "tunnel-device";
    overlay.detail = tunnel->kind + " device " + tunnel->name + " (MTU " +
                     std::to_string(tunnel->mtu) + ") adds " +
                     std::to_string(overlay.overhead_bytes) + " bytes per packet";
    return overlay;
  }

  // 2. The CNI's own MTU statement, against the underlay the uplink suggests.
  if (overlay.mtu_limit) {
    overlay.evidence =
        overlay.mtu_limit_source.starts_with("Calico") ? "calico-mtu-file" : "cni-config";
    overlay.detail = overlay.mtu_limit_source + " says MTU " + std::to_string(*overlay.mtu_limit);
    if (*overlay.mtu_limit < uplink.mtu) {
      overlay.overhead_bytes = uplink.mtu - *overlay.mtu_limit;
      overlay.detail += ", " + std::to_string(overlay.overhead_bytes) + " bytes below the uplink";
    }
    return overlay;
  }

  // 3. Inference from the uplink MTU. The pod cannot see the node's network, so an uplink MTU
  // that equals a common underlay MTU minus a known overhead only suggests that encapsulation.
  // It names one only when exactly one explanation fits and the value is not also a round
  // number people set by hand (1400 = 1460 - 60 is a coincidence far more often than wireguard
  // over GCE); otherwise it says "ambiguous" and assumes no overlay.
  std::vector<InferenceCandidate> candidates;
  for (Mtu underlay : kCommonUnderlayMtus) {
    for (const auto& encapsulation : kInferableEncapsulations) {
      if (underlay == uplink.mtu + encapsulation.bytes) {
        candidates.push_back({underlay, &encapsulation});
      }
    }
  }
  const bool uplink_is_underlay_mtu =
      std::find(std::begin(kCommonUnderlayMtus), std::end(kCommonUnderlayMtus), uplink.mtu) !=
      std::end(kCommonUnderlayMtus);
  const std::string mtu_text = "uplink MTU " + std::to_string(uplink.mtu);
  if (candidates.empty()) {
    overlay.evidence = "none";
    overlay.detail = "no tunnel device, CNI MTU file or CNI config visible, and " + mtu_text +
                     (uplink_is_underlay_mtu ? " is a common underlay MTU itself"
                                             : " is no common underlay MTU (" + UnderlayList() +
                                                   ") minus a known encapsulation overhead") +
                     ": no overlay assumed";
    return overlay;
  }
  overlay.evidence = "inference";
  const bool round_value = uplink.mtu % 100 == 0;
  if (candidates.size() == 1 && !uplink_is_underlay_mtu && !round_value) {
    const InferenceCandidate& only = candidates.front();
    overlay.kind = only.encapsulation->kind;
    overlay.overhead_bytes = only.encapsulation->bytes;
    overlay.detail = "inference, not evidence: " + mtu_text + " = " + Describe(only) +
                     "; no tunnel device or CNI MTU statement confirms it";
    return overlay;
  }
  overlay.detail = "ambiguous: " + mtu_text + " fits ";
  for (size_t i = 0; i < candidates.size(); ++i) {
    overlay.detail += (i == 0 ? "" : " or ") + Describe(candidates[i]);
  }
  if (uplink_is_underlay_mtu) {
    overlay.detail += " or no overlay on a " + std::to_string(uplink.mtu) + " underlay";
  }
  if (round_value) {
    overlay.detail += ", and " + std::to_string(uplink.mtu) + " is a round value often set by hand";
  }
  overlay.detail += "; an inference, not evidence, so no overlay is assumed";
  return overlay;
}

Result<MtuDecision> DecideMtu(const Uplink& uplink, const OverlayEvidence& overlay,
                              const MtuOptions& options) {
  MtuDecision decision;
  decision.uplink = uplink.mtu;
  decision.reserve = options.reserve;
  decision.path_limit = uplink.mtu;
  decision.path_limit_source = "uplink " + uplink.interface;
  if (uplink.route_mtu != 0 && uplink.route_mtu < decision.path_limit) {
    decision.path_limit = uplink.route_mtu;
    decision.path_limit_source = "default route's mtu metric";
  }
  if (overlay.mtu_limit && *overlay.mtu_limit < decision.path_limit) {
    decision.path_limit = *overlay.mtu_limit;
    decision.path_limit_source = overlay.mtu_limit_source;
  }

  if (options.override_mtu) {
    const Mtu wanted = *options.override_mtu;
    if (wanted < kIpv6MinimumMtu || wanted > uplink.mtu) {
      return Error::BadInput("--mtu " + std::to_string(wanted) + " is outside the usable range",
                             "use a value from " + std::to_string(kIpv6MinimumMtu) +
                                 " (the IPv6 minimum) to " + std::to_string(uplink.mtu) +
                                 " (the MTU of uplink " + uplink.interface + "), or --mtu auto");
    }
    decision.docker = wanted;
    decision.source = "flag";
    decision.reason = "--mtu " + std::to_string(wanted) + " given";
    if (wanted > decision.path_limit) {
      decision.reason += "; above the path limit " + std::to_string(decision.path_limit) +
                         " from " + decision.path_limit_source + ", expect stalls";
    }
    return decision;
  }

  if (options.reserve + kIpv6MinimumMtu > uplink.mtu) {
    return Error::BadInput("--reserve " + std::to_string(options.reserve) + " leaves less than " +
                               std::to_string(kIpv6MinimumMtu) + " bytes of the " +
                               std::to_string(uplink.mtu) + "-byte MTU of uplink " +
                               uplink.interface,
                           "use at most " + std::to_string(uplink.mtu - kIpv6MinimumMtu));
  }
  decision.source = "auto";
  decision.docker = uplink.mtu - options.reserve;
  decision.reason = "uplink " + uplink.interface + " MTU " + std::to_string(uplink.mtu);
  if (options.reserve != 0) {
    decision.reason += " minus --reserve " + std::to_string(options.reserve);
  }
  if (decision.path_limit < decision.docker) {
    decision.docker = decision.path_limit;
    decision.reason +=
        ", capped at " + std::to_string(decision.path_limit) + " by " + decision.path_limit_source;
  }
  if (decision.docker < kIpv6MinimumMtu) {
    return Error::Environment("the path MTU " + std::to_string(decision.path_limit) + " from " +
                                  decision.path_limit_source + " is below " +
                                  std::to_string(kIpv6MinimumMtu),
                              "check the CNI's MTU setting, or force one with --mtu");
  }
  return decision;
}

}  // namespace dind::netcfg
