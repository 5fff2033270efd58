// SPDX-License-Identifier: Apache-2.0
// rtnetlink parsing (netcfg/netlink/rtnl_convert.h): the link, address and route messages the
// kernel sends in dump replies, through libnl's parsers (the path its caches take) into the
// snapshot values detection decides on. The input is a stream of netlink messages, walked like
// a receive buffer. Checked besides the sanitizers: the values are in range for their family
// (prefix lengths, the network of an address), so detection can use them without checks.
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/object.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "netcfg/netlink/libnl_ptr.h"
#include "netcfg/netlink/rtnl_convert.h"

namespace {

using namespace dind::netcfg;

void Require(bool condition) {
  if (!condition) std::abort();
}

void RequireInRange(const dind::Cidr& cidr) {
  Require(cidr.prefix_length() >= 0 && cidr.prefix_length() <= cidr.network().max_prefix());
  Require(dind::Cidr::Parse(cidr.ToString()).ok());
}

// The kernel answers a dump with these; others are not what detection reads.
constexpr std::array<std::uint16_t, 6> kMessageTypes = {RTM_NEWLINK, RTM_DELLINK,  RTM_NEWADDR,
                                                        RTM_DELADDR, RTM_NEWROUTE, RTM_DELROUTE};

void Convert(nl_object* object, void* /*unused*/) {
  const std::string_view type = nl_object_get_type(object);
  if (type == "route/link") {
    const LinkInfo link = LinkFromRtnl(reinterpret_cast<rtnl_link*>(object));
    (void)link;
  } else if (type == "route/addr") {
    auto* address = reinterpret_cast<rtnl_addr*>(object);
    (void)IpFromNlAddr(rtnl_addr_get_local(address));
    if (const auto info = AddressFromRtnl(address)) {
      Require(info->prefix_length >= 0 && info->prefix_length <= info->address.max_prefix());
      RequireInRange(info->network());
    }
  } else if (type == "route/route") {
    auto* route = reinterpret_cast<rtnl_route*>(object);
    (void)IpFromNlAddr(rtnl_route_get_dst(route));
    if (const auto info = RouteFromRtnl(route)) {
      RequireInRange(info->destination);
      Require(info->destination.family() == info->family);
    }
  }
}

// Messages the kernel never sends that make libnl 3.7 itself crash or loop; detection reads
// links and routes only through libnl's caches, so such a message can only come from a fuzzer.
// They are skipped, not fed to known upstream bugs:
//  * a vxlan or geneve link without IFLA_INFO_DATA: the kind's getters dereference the kind's
//    data without checking it was parsed (IS_VXLAN_LINK_ASSERT checks the kind alone), and the
//    kernel always nests IFLA_INFO_DATA after the kind of a type with fill_info;
//  * an RTA_MULTIPATH nexthop shorter than struct rtnexthop: libnl's walk does not advance on
//    rtnh_len 0 and allocates a nexthop per turn until memory runs out; the kernel fills
//    rtnh_len with the nexthop's whole length.
bool TunnelKindWithoutData(nlmsghdr* header) {
  std::array<nlattr*, IFLA_MAX + 1> link{};
  if (nlmsg_parse(header, sizeof(ifinfomsg), link.data(), IFLA_MAX, nullptr) < 0 ||
      link[IFLA_LINKINFO] == nullptr) {
    return false;
  }
  std::array<nlattr*, IFLA_INFO_MAX + 1> info{};
  if (nla_parse_nested(info.data(), IFLA_INFO_MAX, link[IFLA_LINKINFO], nullptr) < 0 ||
      info[IFLA_INFO_KIND] == nullptr) {
    return false;
  }
  const auto* kind = static_cast<const char*>(nla_data(info[IFLA_INFO_KIND]));
  const std::string_view name(
      kind, strnlen(kind, static_cast<std::size_t>(nla_len(info[IFLA_INFO_KIND]))));
  return (name == "vxlan" || name == "geneve") && info[IFLA_INFO_DATA] == nullptr;
}

bool MultipathWithShortNexthop(nlmsghdr* header) {
  std::array<nlattr*, RTA_MAX + 1> route{};
  if (nlmsg_parse(header, sizeof(rtmsg), route.data(), RTA_MAX, nullptr) < 0 ||
      route[RTA_MULTIPATH] == nullptr) {
    return false;
  }
  const auto* cursor = static_cast<const char*>(nla_data(route[RTA_MULTIPATH]));
  std::size_t left = static_cast<std::size_t>(nla_len(route[RTA_MULTIPATH]));
  while (left >= sizeof(rtnexthop)) {
    rtnexthop nexthop{};
    std::memcpy(&nexthop, cursor, sizeof(nexthop));
    if (nexthop.rtnh_len < sizeof(rtnexthop)) return true;
    const std::size_t step = RTNH_ALIGN(nexthop.rtnh_len);
    if (step >= left) break;
    cursor += step;
    left -= step;
  }
  return false;
}

bool KnownLibnlFailure(nlmsghdr* header) {
  switch (header->nlmsg_type) {
    case RTM_NEWLINK:
    case RTM_DELLINK:
      return TunnelKindWithoutData(header);
    case RTM_NEWROUTE:
    case RTM_DELROUTE:
      return MultipathWithShortNexthop(header);
    default:
      return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A receive buffer is aligned; the walk below relies on it as libnl's does.
  std::vector<std::uint32_t> aligned((size + 3) / 4);
  if (size > 0) std::memcpy(aligned.data(), data, size);
  auto* header = reinterpret_cast<nlmsghdr*>(aligned.data());
  int remaining = static_cast<int>(size);
  for (; nlmsg_ok(header, remaining); header = nlmsg_next(header, &remaining)) {
    // Steer other types to one libnl has a parser for, so no run is wasted on them.
    if (std::find(kMessageTypes.begin(), kMessageTypes.end(), header->nlmsg_type) ==
        kMessageTypes.end()) {
      header->nlmsg_type = kMessageTypes[header->nlmsg_type % kMessageTypes.size()];
    }
    if (KnownLibnlFailure(header)) continue;
    LibnlPtr<nl_msg> message(nlmsg_convert(header));
    if (!message) continue;
    nlmsg_set_proto(message.get(), NETLINK_ROUTE);
    (void)nl_msg_parse(message.get(), Convert, nullptr);
  }
  return 0;
}
