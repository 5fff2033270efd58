// SPDX-License-Identifier: Apache-2.0
#include "daemon/probe/attach_kernel.h"

#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/nexthop.h>
#include <sys/socket.h>

#include <cerrno>
#include <set>
#include <tuple>

#include "netcfg/netlink/rtnl_builders.h"
#include "netcfg/netlink/rtnl_convert.h"

namespace dind::probe {
namespace {

// libnl's error for an attachment step, with what the operator can do about it.
Error StepError(const std::string& what, int nl_error) {
  Error error = netcfg::RtnlError(what, nl_error);
  if (error.errnum == EPERM || error.errnum == EACCES) {
    error.kind = ErrorKind::kPermission;
    error.hint =
        "attaching the egress probe to the docker bridge needs CAP_NET_ADMIN (and CAP_SYS_ADMIN "
        "for its namespace); grant them to dind-netcfg";
  } else if (error.hint.empty()) {
    error.hint = "the egress probes cannot run until this works; the rest of dind-netcfg does";
  }
  return error;
}

Result<LibnlPtr<nl_sock>> ConnectIn(int netns_fd, const std::string& which) {
  return RunInNetns<LibnlPtr<nl_sock>>(netns_fd, [&]() -> Result<LibnlPtr<nl_sock>> {
    LibnlPtr<nl_sock> socket(nl_socket_alloc());
    if (!socket) return Error::Environment("allocating a libnl netlink socket", ENOMEM);
    if (const int error = nl_connect(socket.get(), NETLINK_ROUTE); error < 0) {
      return StepError("opening an rtnetlink socket in the " + which + " namespace", error);
    }
    return socket;
  });
}

// The link `name`; nullptr when it does not exist.
Result<LibnlPtr<rtnl_link>> FindLink(nl_sock* socket, const std::string& name,
                                     const std::string& where) {
  rtnl_link* raw = nullptr;
  const int error = rtnl_link_get_kernel(socket, 0, name.c_str(), &raw);
  if (error == -NLE_OBJ_NOTFOUND || error == -NLE_NODEV) return LibnlPtr<rtnl_link>();
  if (error < 0) return StepError(where + ": looking up link " + name, error);
  return LibnlPtr<rtnl_link>(raw);
}

Result<int> LinkIndex(nl_sock* socket, const std::string& name, const std::string& where) {
  auto link = FindLink(socket, name, where);
  if (!link) return link.error();
  if (!*link) return Error::Environment(where + ": link " + name + " vanished while attaching");
  return rtnl_link_get_ifindex(link->get());
}

// Sends one step through the socket of the namespace it belongs to.
class StepSender {
 public:
  StepSender(nl_sock* pod, nl_sock* probe, int probe_netns_fd)
      : pod_(pod), probe_(probe), probe_netns_fd_(probe_netns_fd) {}

  Status operator()(const CreateVeth& step) const {
    auto veth = BuildVeth(step, probe_netns_fd_);
    if (!veth) return Error::Environment("building a libnl veth object", ENOMEM);
    return Check(step, rtnl_link_add(pod_, veth.get(), NLM_F_CREATE | NLM_F_EXCL));
  }
  Status operator()(const SetLinkUp& step) const {
    nl_sock* socket = step.side == AttachSide::kPod ? pod_ : probe_;
    auto link = FindLink(socket, step.link, step.side == AttachSide::kPod ? "pod" : "probe");
    if (!link) return link.error();
    if (!*link) return Error::Environment(DescribeStep(step) + ": the link does not exist");
    auto change = BuildLinkUp();
    if (!change) return Error::Environment("building a libnl link change", ENOMEM);
    return Check(step, rtnl_link_change(socket, link->get(), change.get(), 0));
  }
  Status operator()(const EnslaveToBridge& step) const {
    auto link = FindLink(pod_, step.link, "pod");
    if (!link) return link.error();
    if (!*link) return Error::Environment(DescribeStep(step) + ": the link does not exist");
    auto change = BuildEnslave(step.bridge_index);
    if (!change) return Error::Environment("building a libnl link change", ENOMEM);
    return Check(step, rtnl_link_change(pod_, link->get(), change.get(), 0));
  }
  Status operator()(const AddAddress& step) const {
    auto index = LinkIndex(probe_, step.link, "probe");
    if (!index) return index.error();
    auto address = BuildAddress(step, *index);
    if (!address) return address.error();
    return Check(step, rtnl_addr_add(probe_, address->get(), NLM_F_CREATE | NLM_F_EXCL));
  }
  Status operator()(const AddDefaultRoute& step) const {
    auto index = LinkIndex(probe_, step.link, "probe");
    if (!index) return index.error();
    auto route = BuildDefaultRoute(step, *index);
    if (!route) return route.error();
    return Check(step, rtnl_route_add(probe_, route->get(), NLM_F_CREATE | NLM_F_EXCL));
  }

 private:
  static Status Check(const AttachStep& step, int nl_error) {
    if (nl_error < 0) return StepError(DescribeStep(step), nl_error);
    return OkStatus();
  }

  nl_sock* pod_;
  nl_sock* probe_;
  int probe_netns_fd_;
};

}  // namespace

LibnlPtr<rtnl_link> BuildVeth(const CreateVeth& step, int probe_netns_fd) {
  return netcfg::BuildVethPair(step.host_link, step.probe_link, probe_netns_fd, step.mtu);
}

LibnlPtr<rtnl_link> BuildLinkUp() {
  return netcfg::BuildLinkUp();
}

LibnlPtr<rtnl_link> BuildEnslave(int bridge_index) {
  LibnlPtr<rtnl_link> change(rtnl_link_alloc());
  if (change) rtnl_link_set_master(change.get(), bridge_index);
  return change;
}

Result<LibnlPtr<rtnl_addr>> BuildAddress(const AddAddress& step, int ifindex) {
  return netcfg::BuildAddress(step.address, step.prefix_length, ifindex);
}

Result<LibnlPtr<rtnl_route>> BuildDefaultRoute(const AddDefaultRoute& step, int ifindex) {
  const IpAddress any = step.gateway.is_v4() ? IpAddress::V4(0) : IpAddress();
  return netcfg::BuildRoute(Cidr::Of(any, 0), step.gateway, ifindex);
}

Result<netcfg::NetworkSnapshot> NetlinkAttachKernel::ReadPodLinks(
    const std::vector<std::string>& links) {
  auto socket = ConnectIn(pod_netns_fd_, "pod");
  if (!socket) return socket.error();

  netcfg::NetworkSnapshot snapshot;
  std::set<int> indexes;
  for (const std::string& name : links) {
    auto link = FindLink(socket->get(), name, "pod");
    if (!link) return link.error();
    if (!*link) continue;
    snapshot.links.push_back(netcfg::LinkFromRtnl(link->get()));
    indexes.insert(snapshot.links.back().index);
  }
  if (indexes.empty()) return snapshot;

  nl_cache* raw_cache = nullptr;
  if (const int error = rtnl_addr_alloc_cache(socket->get(), &raw_cache); error < 0) {
    return StepError("pod: reading addresses through rtnetlink", error);
  }
  LibnlPtr<nl_cache> addresses(raw_cache);
  for (nl_object* object = nl_cache_get_first(addresses.get()); object != nullptr;
       object = nl_cache_get_next(object)) {
    auto info = netcfg::AddressFromRtnl(reinterpret_cast<rtnl_addr*>(object));
    if (info && indexes.contains(info->link_index)) snapshot.addresses.push_back(*info);
  }
  return snapshot;
}

Result<ScopedFd> NetlinkAttachKernel::CreateProbeNamespace() {
  return CreateNetns();
}

Status NetlinkAttachKernel::Execute(const AttachPlan& plan, int probe_netns_fd) {
  auto pod = ConnectIn(pod_netns_fd_, "pod");
  if (!pod) return pod.error();
  auto probe = ConnectIn(probe_netns_fd, "probe");
  if (!probe) return probe.error();
  const StepSender send(pod->get(), probe->get(), probe_netns_fd);
  for (const AttachStep& step : plan.steps) {
    DIND_RETURN_IF_ERROR(std::visit(send, step));
  }
  return OkStatus();
}

Status NetlinkAttachKernel::DeletePodLink(const std::string& name) {
  auto socket = ConnectIn(pod_netns_fd_, "pod");
  if (!socket) return socket.error();
  LibnlPtr<rtnl_link> link(rtnl_link_alloc());
  if (!link) return Error::Environment("building a libnl link object", ENOMEM);
  rtnl_link_set_name(link.get(), name.c_str());
  const int error = rtnl_link_delete(socket->get(), link.get());
  if (error == -NLE_OBJ_NOTFOUND || error == -NLE_NODEV) return OkStatus();
  if (error < 0) return StepError("pod: deleting link " + name, error);
  return OkStatus();
}

Result<bool> NetlinkAttachKernel::LinksUp(const std::string& host_link,
                                          const std::string& probe_link, int probe_netns_fd) {
  auto pod = ConnectIn(pod_netns_fd_, "pod");
  if (!pod) return pod.error();
  auto probe = ConnectIn(probe_netns_fd, "probe");
  if (!probe) return probe.error();
  for (const auto& [socket, name, where] : {std::tuple{pod->get(), &host_link, "pod"},
                                            std::tuple{probe->get(), &probe_link, "probe"}}) {
    auto link = FindLink(socket, *name, where);
    if (!link) return link.error();
    if (!*link) return Error::Environment(std::string(where) + ": link " + *name + " is gone");
    if (rtnl_link_get_operstate(link->get()) != IF_OPER_UP) return false;
  }
  return true;
}

}  // namespace dind::probe
