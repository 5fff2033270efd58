// SPDX-License-Identifier: Apache-2.0
#include "netcfg/netlink/wiring_plan.h"

#include <array>

namespace dind::netcfg {
namespace {

// How descriptions name a side: alone ("probe: set lo up") and as the place a veth's peer goes
// ("with peer eth0 in the probe namespace"); by NetnsSide.
struct SideWords {
  std::string_view name;
  std::string_view place;
};
constexpr std::array<SideWords, 3> kSideWords = {{
    {"pod", "the pod namespace"},
    {"probe", "the probe namespace"},
    {"outside", "outside"},
}};

const SideWords& WordsFor(NetnsSide side) {
  return kSideWords.at(static_cast<std::size_t>(side));
}

}  // namespace

std::string_view SideName(NetnsSide side) {
  return WordsFor(side).name;
}

std::string DescribeStep(const WiringStep& step) {
  struct Describe {
    std::string operator()(const CreateVethPair& s) const {
      std::string text = "create veth " + s.name + " with peer " + s.peer_name + " in " +
                         std::string(WordsFor(s.peer_side).place);
      if (s.mtu != 0) text += ", MTU " + std::to_string(s.mtu);
      return text;
    }
    std::string operator()(const SetLinkUp& s) const { return "set " + s.link + " up"; }
    std::string operator()(const EnslaveToBridge& s) const {
      return "enslave " + s.link + " to bridge " + s.bridge;
    }
    std::string operator()(const AddAddress& s) const {
      return "add " + s.address.ToString() + "/" + std::to_string(s.prefix_length) + " to " +
             s.link + (s.no_dad ? " without DAD" : "");
    }
    std::string operator()(const AddRoute& s) const {
      std::string text =
          s.destination.prefix_length() == 0
              ? "add default route via " + s.gateway.ToString()
              : "add route " + s.destination.ToString() + " via " + s.gateway.ToString();
      if (!s.link.empty()) text += " dev " + s.link;
      return text;
    }
    std::string operator()(const AwaitOperUp& s) const {
      return "wait up to " + std::to_string(s.within.count()) + " ms for " + s.link +
             " to be operationally up";
    }
  };
  const NetnsSide side = std::visit([](const auto& s) { return s.side; }, step);
  return std::string(SideName(side)) + ": " + std::visit(Describe{}, step);
}

}  // namespace dind::netcfg
