// SPDX-License-Identifier: Apache-2.0
#include "daemon/probe/attach_plan.h"

namespace dind::probe {
namespace {

std::string SideName(AttachSide side) {
  return side == AttachSide::kPod ? "pod" : "probe";
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
  for (const netcfg::AddressInfo& address : pod.addresses) {
    if (address.link_index != link->index || !address.address.is_v4()) continue;
    lookup.state = BridgeLookup::State::kPresent;
    lookup.facts =
        BridgeFacts{link->name, link->index, address.network(), address.address, link->mtu};
    return lookup;
  }
  lookup.state = BridgeLookup::State::kNoIpv4Address;
  return lookup;
}

Result<IpAddress> ReservedProbeAddress(const Cidr& network, const IpAddress& gateway) {
  if (!network.network().is_v4()) {
    return Error::BadInput("docker bridge network " + network.ToString() +
                           " is IPv6; the egress probe needs the bridge's IPv4 network");
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
  // The probe side is complete (address, route) before its cable is plugged into the bridge,
  // so the first packet that can leave already has its source address and route. Routes via a
  // gateway need their link up, hence "up" before the address and the route.
  plan.steps = {
      CreateVeth{plan.host_link, plan.probe_link, bridge.mtu},
      SetLinkUp{AttachSide::kProbe, "lo"},
      SetLinkUp{AttachSide::kProbe, plan.probe_link},
      AddAddress{plan.probe_link, plan.probe_address, bridge.network.prefix_length()},
      AddDefaultRoute{plan.probe_link, bridge.gateway},
      EnslaveToBridge{plan.host_link, bridge.name, bridge.index},
      SetLinkUp{AttachSide::kPod, plan.host_link},
  };
  return plan;
}

std::string DescribeStep(const AttachStep& step) {
  struct Describe {
    std::string operator()(const CreateVeth& s) const {
      return "pod: create veth " + s.host_link + " with peer " + s.probe_link +
             " in the probe namespace, MTU " + std::to_string(s.mtu);
    }
    std::string operator()(const SetLinkUp& s) const {
      return SideName(s.side) + ": set " + s.link + " up";
    }
    std::string operator()(const EnslaveToBridge& s) const {
      return "pod: enslave " + s.link + " to bridge " + s.bridge;
    }
    std::string operator()(const AddAddress& s) const {
      return "probe: add " + s.address.ToString() + "/" + std::to_string(s.prefix_length) + " to " +
             s.link;
    }
    std::string operator()(const AddDefaultRoute& s) const {
      return "probe: add default route via " + s.gateway.ToString() + " dev " + s.link;
    }
  };
  return std::visit(Describe{}, step);
}

AttachAction DecideAttachment(const std::optional<BridgeFacts>& attached, const BridgeLookup& now,
                              bool host_link_on_bridge) {
  const bool present = now.state == BridgeLookup::State::kPresent && now.facts.has_value();
  if (!attached) return present ? AttachAction::kAttach : AttachAction::kStayDetached;
  if (!present) return AttachAction::kDetach;
  if (*attached != *now.facts || !host_link_on_bridge) return AttachAction::kReattach;
  return AttachAction::kKeep;
}

}  // namespace dind::probe
