// SPDX-License-Identifier: Apache-2.0
#include "daemon/egress/attach_plan.h"

#include <array>

namespace dind::egress {

namespace {

const IpAddress kAnyV6 = IpAddress::FromBytes(Family::kIPv6, std::array<std::uint8_t, 16>{}.data());

// The last address of an IPv6 network (host bits all ones), or the one below it when that is
// the gateway.
IpAddress LastV6Address(const Cidr& network, const IpAddress& gateway) {
  auto bytes = network.network().bytes();
  for (int bit = network.prefix_length(); bit < 128; ++bit) {
    bytes[static_cast<std::size_t>(bit / 8)] |= static_cast<std::uint8_t>(0x80 >> (bit % 8));
  }
  IpAddress last = IpAddress::FromBytes(Family::kIPv6, bytes.data());
  if (last == gateway) {
    // The last byte is 0xff (prefix ≤ 126 leaves at least two host bits set): no borrow.
    bytes[15] = static_cast<std::uint8_t>(bytes[15] - 1);
    last = IpAddress::FromBytes(Family::kIPv6, bytes.data());
  }
  return last;
}

}  // namespace

BridgeLookup FindBridge(const netcfg::NetworkSnapshot& pod, const std::string& name) {
  BridgeLookup lookup;
  const netcfg::LinkInfo* link = pod.FindLink(name);
  if (link == nullptr) return lookup;
  if (link->kind != "bridge") {
    lookup.state = BridgeLookup::State::kNotABridge;
    lookup.kind = link->kind;
    return lookup;
  }
  std::optional<BridgeIpv6> ipv6;
  for (const netcfg::AddressInfo& address : pod.addresses) {
    if (address.link_index != link->index || address.address.is_v4()) continue;
    // Every IPv6 link has one; it says nothing about the bridge's IPv6 network.
    if (address.address.is_ipv6_link_local()) continue;
    ipv6 = BridgeIpv6{address.network(), address.address};
    break;
  }
  for (const netcfg::AddressInfo& address : pod.addresses) {
    if (address.link_index != link->index || !address.address.is_v4()) continue;
    lookup.state = BridgeLookup::State::kPresent;
    lookup.facts =
        BridgeFacts{link->name, link->index, address.network(), address.address, link->mtu, ipv6};
    return lookup;
  }
  lookup.state = BridgeLookup::State::kNoIpv4Address;
  return lookup;
}

Result<IpAddress> ReservedProbeAddress(const Cidr& network, const IpAddress& gateway) {
  if (!network.network().is_v4()) {
    if (network.prefix_length() > 126) {
      return Error::BadInput(
          "docker bridge IPv6 network " + network.ToString() +
              " is too small to spare an address for the egress probe",
          "give dockerd a bridge IPv6 network of /126 or larger (daemon.json \"fixed-cidr-v6\", "
          "usually a /64)");
    }
    return LastV6Address(network, gateway);
  }
  if (network.prefix_length() > 29) {
    return Error::BadInput("docker bridge network " + network.ToString() +
                               " is too small to spare an address for the egress probe",
                           "give dockerd a bridge network of /29 or larger (daemon.json \"bip\")");
  }
  const std::uint32_t size = std::uint32_t{1} << (32 - network.prefix_length());
  IpAddress last_usable = network.Host(size - 2);  // size - 1 is the broadcast address
  if (last_usable == gateway) last_usable = network.Host(size - 3);
  return last_usable;
}

Cidr SuggestedFixedCidr(const Cidr& network) {
  return network.LowerHalf();
}

std::string ProbeHostLinkName(int slot) {
  return "dnc-probe" + std::to_string(slot);
}

Result<AttachPlan> PlanAttachment(const BridgeFacts& bridge, int slot) {
  auto address = ReservedProbeAddress(bridge.network, bridge.gateway);
  if (!address) return address.error();

  AttachPlan plan;
  plan.bridge = bridge;
  plan.host_link = ProbeHostLinkName(slot);
  plan.probe_link = kProbeLinkName;
  plan.probe_address = *address;
  plan.suggested_fixed_cidr = SuggestedFixedCidr(bridge.network);
  if (bridge.ipv6) {
    auto address_v6 = ReservedProbeAddress(bridge.ipv6->network, bridge.ipv6->gateway);
    if (!address_v6) return address_v6.error();
    plan.probe_address_v6 = *address_v6;
  }
  // The probe side is complete (address, route) before its cable is plugged into the bridge,
  // so the first packet that can leave already has its source address and route. Routes via a
  // gateway need their link up, hence "up" before the address and the route. Both veth ends
  // get the bridge's MTU: a port with a lower one would lower the bridge's own.
  using netcfg::NetnsSide;
  plan.steps = {
      netcfg::CreateVethPair{NetnsSide::kPod, plan.host_link, plan.probe_link, NetnsSide::kProbe,
                             bridge.mtu},
      netcfg::SetLinkUp{NetnsSide::kProbe, "lo"},
      netcfg::SetLinkUp{NetnsSide::kProbe, plan.probe_link},
      netcfg::AddAddress{NetnsSide::kProbe, plan.probe_link, plan.probe_address,
                         bridge.network.prefix_length()},
      netcfg::AddRoute{NetnsSide::kProbe, Cidr::Of(IpAddress::V4(0), 0), bridge.gateway,
                       plan.probe_link},
  };
  if (plan.probe_address_v6) {
    // Without DAD: the address is reserved by construction, and a tentative address (a second
    // or more of DAD) could not be the source of the first round's IPv6 probes.
    plan.steps.push_back(netcfg::AddAddress{NetnsSide::kProbe, plan.probe_link,
                                            *plan.probe_address_v6,
                                            bridge.ipv6->network.prefix_length(), true});
    plan.steps.push_back(netcfg::AddRoute{NetnsSide::kProbe, Cidr::Of(kAnyV6, 0),
                                          bridge.ipv6->gateway, plan.probe_link});
  }
  plan.steps.push_back(
      netcfg::EnslaveToBridge{NetnsSide::kPod, plan.host_link, bridge.name, bridge.index});
  plan.steps.push_back(netcfg::SetLinkUp{NetnsSide::kPod, plan.host_link});
  return plan;
}

AttachAction DecideAttachment(const std::optional<BridgeFacts>& attached, const BridgeLookup& now,
                              bool host_link_on_bridge) {
  const bool present = now.state == BridgeLookup::State::kPresent && now.facts.has_value();
  if (!attached) return present ? AttachAction::kAttach : AttachAction::kStayDetached;
  if (!present) return AttachAction::kDetach;
  if (*attached != *now.facts || !host_link_on_bridge) return AttachAction::kReattach;
  return AttachAction::kKeep;
}

}  // namespace dind::egress
