#include "rules/proof/proof_netlink.h"

#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/nexthop.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <thread>
#include <type_traits>

#include "netcfg/netlink/rtnl_convert.h"

namespace dind::rules {
namespace {

// libnl's error for a proof step; EPERM means the process lacks CAP_NET_ADMIN over the
// throwaway namespaces, which is worth saying plainly.
Error StepError(const std::string& what, int nl_error) {
  Error error = netcfg::RtnlError(what, nl_error);
  if (error.errnum == EPERM || error.errnum == EACCES) {
    error.kind = ErrorKind::kPermission;
    error.hint =
        "the proof by traffic needs CAP_NET_ADMIN to build its throwaway namespaces; "
        "grant it or choose the backend by hand with --backend legacy|nft";
  } else {
    error.hint =
        "the proof could not build its throwaway namespaces; choose the backend by "
        "hand with --backend legacy|nft";
  }
  return error;
}

Result<LibnlPtr<nl_addr>> NlAddress(const IpAddress& address, int prefix_length) {
  const int family = address.is_v4() ? AF_INET : AF_INET6;
  LibnlPtr<nl_addr> built(nl_addr_build(family, address.bytes().data(), address.is_v4() ? 4 : 16));
  if (!built) return Error::Environment("building a libnl address", ENOMEM);
  nl_addr_set_prefixlen(built.get(), prefix_length);
  return built;
}

}  // namespace

LibnlPtr<rtnl_link> BuildVethPair(const CreateVethPair& step, int peer_netns_fd) {
  LibnlPtr<rtnl_link> link(rtnl_link_veth_alloc());
  if (!link) return link;
  rtnl_link_set_name(link.get(), step.name.c_str());
  // get_peer takes a reference of its own; the peer itself is freed with the link.
  LibnlPtr<rtnl_link> peer(rtnl_link_veth_get_peer(link.get()));
  rtnl_link_set_name(peer.get(), step.peer_name.c_str());
  rtnl_link_set_ns_fd(peer.get(), peer_netns_fd);
  return link;
}

LibnlPtr<rtnl_link> BuildLinkUp() {
  LibnlPtr<rtnl_link> change(rtnl_link_alloc());
  if (change) rtnl_link_set_flags(change.get(), IFF_UP);
  return change;
}

Result<LibnlPtr<rtnl_addr>> BuildAddress(const AddAddress& step, int ifindex) {
  LibnlPtr<rtnl_addr> address(rtnl_addr_alloc());
  if (!address) return Error::Environment("building a libnl address object", ENOMEM);
  auto local = NlAddress(step.address, step.prefix_length);
  if (!local.ok()) return local.error();
  rtnl_addr_set_ifindex(address.get(), ifindex);
  rtnl_addr_set_family(address.get(), step.address.is_v4() ? AF_INET : AF_INET6);
  if (const int error = rtnl_addr_set_local(address.get(), local->get()); error < 0) {
    return netcfg::RtnlError("building the address " + step.address.ToString(), error);
  }
  rtnl_addr_set_prefixlen(address.get(), step.prefix_length);
  rtnl_addr_set_scope(address.get(), RT_SCOPE_UNIVERSE);
  return address;
}

Result<LibnlPtr<rtnl_route>> BuildRoute(const AddRoute& step) {
  LibnlPtr<rtnl_route> route(rtnl_route_alloc());
  if (!route) return Error::Environment("building a libnl route object", ENOMEM);
  auto destination = NlAddress(step.destination.network(), step.destination.prefix_length());
  if (!destination.ok()) return destination.error();
  auto gateway = NlAddress(step.gateway, step.gateway.max_prefix());
  if (!gateway.ok()) return gateway.error();

  rtnl_route_set_family(route.get(), step.gateway.is_v4() ? AF_INET : AF_INET6);
  if (const int error = rtnl_route_set_dst(route.get(), destination->get()); error < 0) {
    return netcfg::RtnlError("building the route to " + step.destination.ToString(), error);
  }
  rtnl_route_set_table(route.get(), RT_TABLE_MAIN);
  rtnl_route_set_protocol(route.get(), RTPROT_STATIC);
  rtnl_route_set_scope(route.get(), RT_SCOPE_UNIVERSE);
  rtnl_route_set_type(route.get(), RTN_UNICAST);
  rtnl_nexthop* nexthop = rtnl_route_nh_alloc();
  if (nexthop == nullptr) return Error::Environment("building a libnl next hop", ENOMEM);
  rtnl_route_nh_set_gateway(nexthop, gateway->get());
  rtnl_route_add_nexthop(route.get(), nexthop);  // the route owns it from here
  return route;
}

Result<LibnlPtr<nl_sock>> ProofNetlink::Connect() {
  LibnlPtr<nl_sock> socket(nl_socket_alloc());
  if (!socket) return Error::Environment("allocating a libnl netlink socket", ENOMEM);
  if (const int error = nl_connect(socket.get(), NETLINK_ROUTE); error < 0) {
    return StepError("opening an rtnetlink socket in a throwaway namespace", error);
  }
  return socket;
}

nl_sock* ProofNetlink::SocketOf(ProofSide side) const {
  return side == ProofSide::kPod ? pod_.get() : outside_.get();
}

Result<LibnlPtr<rtnl_link>> ProofNetlink::Link(ProofSide side, const std::string& name) const {
  rtnl_link* raw = nullptr;
  if (const int error = rtnl_link_get_kernel(SocketOf(side), 0, name.c_str(), &raw); error < 0) {
    return StepError(std::string(SideName(side)) + ": looking up link " + name, error);
  }
  return LibnlPtr<rtnl_link>(raw);
}

Status ProofNetlink::Configure(const ProofStep& step) {
  return std::visit([this](const auto& s) { return Run(s); }, step);
}

Status ProofNetlink::Run(const CreateVethPair& step) {
  auto pair = BuildVethPair(step, outside_netns_fd_);
  if (!pair) return Error::Environment("building a libnl veth object", ENOMEM);
  if (const int error = rtnl_link_add(pod_.get(), pair.get(), NLM_F_CREATE | NLM_F_EXCL);
      error < 0) {
    return StepError(DescribeStep(step), error);
  }
  return OkStatus();
}

Status ProofNetlink::Run(const SetLinkUp& step) {
  auto link = Link(step.side, step.link);
  if (!link.ok()) return link.error();
  auto change = BuildLinkUp();
  if (!change) return Error::Environment("building a libnl link change", ENOMEM);
  if (const int error = rtnl_link_change(SocketOf(step.side), link->get(), change.get(), 0);
      error < 0) {
    return StepError(DescribeStep(step), error);
  }
  return OkStatus();
}

Status ProofNetlink::Run(const AddAddress& step) {
  auto link = Link(step.side, step.link);
  if (!link.ok()) return link.error();
  auto address = BuildAddress(step, rtnl_link_get_ifindex(link->get()));
  if (!address.ok()) return address.error();
  if (const int error = rtnl_addr_add(SocketOf(step.side), address->get(), NLM_F_EXCL); error < 0) {
    return StepError(DescribeStep(step), error);
  }
  return OkStatus();
}

Status ProofNetlink::Run(const AddRoute& step) {
  auto route = BuildRoute(step);
  if (!route.ok()) return route.error();
  if (const int error = rtnl_route_add(SocketOf(step.side), route->get(), NLM_F_EXCL); error < 0) {
    return StepError(DescribeStep(step), error);
  }
  return OkStatus();
}

Status ProofNetlink::Run(const AwaitOperUp& step) {
  const auto deadline = std::chrono::steady_clock::now() + step.within;
  while (true) {
    auto link = Link(step.side, step.link);
    if (!link.ok()) return link.error();
    const std::uint8_t state = rtnl_link_get_operstate(link->get());
    if (state == IF_OPER_UP) return OkStatus();
    if (std::chrono::steady_clock::now() >= deadline) {
      char name[32];
      return Error::Environment(
          std::string(SideName(step.side)) + ": " + step.link + " is still " +
              rtnl_link_operstate2str(state, name, sizeof(name)) + " " +
              std::to_string(step.within.count()) + " ms after it was set up",
          "the kernel did not bring the proof's veth pair up; check dmesg, or choose the "
          "backend by hand with --backend legacy|nft");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace dind::rules
