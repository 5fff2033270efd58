// SPDX-License-Identifier: Apache-2.0
#include "netcfg/detect/ipv6.h"

#include <array>

namespace dind::netcfg {
namespace {

bool IsGlobal(const IpAddress& address) {
  static const Cidr kNotGlobal[] = {*Cidr::Parse("127.0.0.0/8"), *Cidr::Parse("169.254.0.0/16"),
                                    *Cidr::Parse("::1/128"), *Cidr::Parse("fe80::/10")};
  for (const auto& range : kNotGlobal) {
    if (range.Contains(address)) return false;
  }
  return true;
}

bool IsDockerBridgeName(const std::string& name) {
  return name == "docker0" || name.starts_with("br-");
}

// ULA /48s (RFC 4193: fd + a 40-bit global ID) to try, in order; the ID is fixed so that every
// pod of a runner fleet gets the same prefix and rules and dashboards read alike.
constexpr int kUlaCandidates = 16;
Cidr UlaCandidate(int n) {
  std::array<std::uint8_t, 16> bytes{0xfd, 0x4d, 0x6e,
                                     0x63, 0x66, static_cast<std::uint8_t>(0x67 + n)};
  return Cidr::Of(IpAddress::FromBytes(Family::kIPv6, bytes.data()), 48);
}

// The n-th /64 of a /48 (n < 65536).
Cidr Subnet64(const Cidr& ula, std::uint16_t n) {
  auto bytes = ula.network().bytes();
  bytes[6] = static_cast<std::uint8_t>(n >> 8);
  bytes[7] = static_cast<std::uint8_t>(n & 0xff);
  return Cidr::Of(IpAddress::FromBytes(Family::kIPv6, bytes.data()), 64);
}

}  // namespace

std::string_view Ipv6ModeName(Ipv6Mode mode) {
  switch (mode) {
    case Ipv6Mode::kAuto:
      return "auto";
    case Ipv6Mode::kOn:
      return "on";
    case Ipv6Mode::kOff:
      return "off";
  }
  return "auto";
}

std::optional<Ipv6Mode> ParseIpv6Mode(std::string_view text) {
  for (Ipv6Mode mode : {Ipv6Mode::kAuto, Ipv6Mode::kOn, Ipv6Mode::kOff}) {
    if (text == Ipv6ModeName(mode)) return mode;
  }
  return std::nullopt;
}

std::string_view PodFamiliesName(PodFamilies families) {
  switch (families) {
    case PodFamilies::kIPv4Only:
      return "ipv4-only";
    case PodFamilies::kDualStack:
      return "dual-stack";
    case PodFamilies::kIPv6Only:
      return "ipv6-only";
  }
  return "ipv4-only";
}

std::optional<PodFamilies> FamilyEgress::families() const {
  if (ipv4 && ipv6) return PodFamilies::kDualStack;
  if (ipv4) return PodFamilies::kIPv4Only;
  if (ipv6) return PodFamilies::kIPv6Only;
  return std::nullopt;
}

FamilyEgress FindFamilyEgress(const NetworkSnapshot& network, const Uplinks& uplinks) {
  const auto has_global = [&network](Family family) {
    for (const auto& address : network.addresses) {
      const LinkInfo* link = network.FindLink(address.link_index);
      if (address.address.family() != family || !IsGlobal(address.address)) continue;
      if (link != nullptr && IsDockerBridgeName(link->name)) continue;
      return true;
    }
    return false;
  };
  // An IPv6 default route alone is not enough: router advertisements install one on links that
  // carry only link-local addresses.
  return {.ipv4 = uplinks.ipv4.has_value(),
          .ipv6 = uplinks.ipv6.has_value() && has_global(Family::kIPv6)};
}

std::string Ipv6OnlyPodProblem() {
  return "the pod is IPv6-only (no IPv4 default route): nested containers' IPv4 cannot get "
         "out. Give them IPv6 (init does with --ipv6 auto or on: daemon.json ipv6 and "
         "fixed-cidr-v6, and create user-defined networks with --ipv6), or provide NAT64/DNS64 "
         "in the cluster for IPv4-only destinations";
}

Result<Ipv6Decision> DecideIpv6(Ipv6Mode mode, const FamilyEgress& egress,
                                const DockerVersion& dockerd,
                                const std::vector<AvoidedRange>& avoided) {
  Ipv6Decision decision{.mode = mode};
  switch (mode) {
    case Ipv6Mode::kOff:
      decision.reason = "--ipv6 off: nested networks get no IPv6 from dind-netcfg";
      return decision;
    case Ipv6Mode::kAuto:
      if (!egress.ipv6) {
        decision.reason =
            "the pod has no IPv6 egress (no IPv6 default route with a global address)";
        return decision;
      }
      decision.reason = "the pod has IPv6 egress";
      break;
    case Ipv6Mode::kOn:
      decision.reason = egress.ipv6 ? "--ipv6 on; the pod has IPv6 egress"
                                    : "--ipv6 on, but the pod has no IPv6 egress: nested IPv6 "
                                      "reaches only the pod and its docker networks";
      break;
  }
  std::optional<Cidr> ula;
  for (int n = 0; n < kUlaCandidates && !ula; ++n) {
    const Cidr candidate = UlaCandidate(n);
    bool collides = false;
    for (const auto& range : avoided) collides = collides || range.cidr.Overlaps(candidate);
    if (!collides) ula = candidate;
  }
  if (!ula) {
    return Error::Environment("no free IPv6 ULA /48 for docker's networks: every candidate in " +
                                  UlaCandidate(0).ToString() + " .. " +
                                  UlaCandidate(kUlaCandidates - 1).ToString() +
                                  " overlaps an address, route, nameserver or --avoid",
                              "narrow the IPv6 --avoid ranges, or pass --ipv6 off");
  }
  decision.enabled = true;
  decision.fixed_cidr_v6 = Subnet64(*ula, 0);
  if (dockerd.AtLeast(27, 0)) {
    decision.pool = AddressPool{Cidr::Of(Subnet64(*ula, 0x100).network(), 56), 64};
  } else {
    decision.pool = AddressPool{Subnet64(*ula, 1), 80};
    decision.experimental = true;
  }
  decision.reason += "; docker0 " + decision.fixed_cidr_v6->ToString() + ", networks from " +
                     decision.pool->base.ToString() + " (/" + std::to_string(decision.pool->size) +
                     " each)" +
                     (decision.experimental
                          ? "; dockerd " + dockerd.ToString() + " needs experimental for ip6tables"
                          : std::string());
  return decision;
}

}  // namespace dind::netcfg
