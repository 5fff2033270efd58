// SPDX-License-Identifier: Apache-2.0
#include "daemon/egress/attach_kernel.h"

#include <set>
#include <utility>

#include "netcfg/netlink/wiring_executor.h"

namespace dind::egress {
namespace {

using netcfg::NetnsSide;

// What to do when a step is refused, in the probe's terms.
netcfg::WiringHints AttachHints() {
  return {
      "attaching the egress probe to the docker bridge needs CAP_NET_ADMIN (and "
      "CAP_SYS_ADMIN for its namespace); grant them to dind-netcfg",
      ""};
}

// An executor with a socket in each namespace given; a socket is made by a thread that enters
// the namespace, so the daemon's own threads stay where they are.
Result<netcfg::WiringExecutor> Connect(
    std::initializer_list<std::pair<NetnsSide, int>> namespaces) {
  netcfg::WiringExecutor executor(AttachHints());
  for (const auto& [side, netns_fd] : namespaces) {
    auto socket = RunInNetns<ScopedFd>(netns_fd, [] { return netcfg::OpenRtnlSocket(); });
    if (!socket) {
      return socket.error().Wrap("in the " + std::string(netcfg::SideName(side)) + " namespace");
    }
    DIND_RETURN_IF_ERROR(executor.AddNamespace(side, std::move(*socket), netns_fd));
  }
  return executor;
}

}  // namespace

Result<netcfg::NetworkSnapshot> NetlinkAttachKernel::ReadPodLinks(
    const std::vector<std::string>& links) {
  auto pod = Connect({{NetnsSide::kPod, pod_netns_fd_}});
  if (!pod) return pod.error();

  netcfg::NetworkSnapshot snapshot;
  std::set<int> indexes;
  for (const std::string& name : links) {
    auto link = pod->FindLink(NetnsSide::kPod, name);
    if (!link) return link.error();
    if (!*link) continue;
    snapshot.links.push_back(std::move(**link));
    indexes.insert(snapshot.links.back().index);
  }
  if (indexes.empty()) return snapshot;

  auto addresses = pod->ReadAddresses(NetnsSide::kPod);
  if (!addresses) return addresses.error();
  for (const netcfg::AddressInfo& address : *addresses) {
    if (indexes.contains(address.link_index)) snapshot.addresses.push_back(address);
  }
  return snapshot;
}

Result<ScopedFd> NetlinkAttachKernel::CreateProbeNamespace() {
  return CreateNetns();
}

Status NetlinkAttachKernel::Execute(const AttachPlan& plan, int probe_netns_fd) {
  auto executor = Connect({{NetnsSide::kPod, pod_netns_fd_}, {NetnsSide::kProbe, probe_netns_fd}});
  if (!executor) return executor.error();
  return executor->Execute(plan.steps);
}

Status NetlinkAttachKernel::DeletePodLink(const std::string& name) {
  auto pod = Connect({{NetnsSide::kPod, pod_netns_fd_}});
  if (!pod) return pod.error();
  return pod->DeleteLink(NetnsSide::kPod, name);
}

Result<bool> NetlinkAttachKernel::LinksUp(const std::string& host_link,
                                          const std::string& probe_link, int probe_netns_fd) {
  auto executor = Connect({{NetnsSide::kPod, pod_netns_fd_}, {NetnsSide::kProbe, probe_netns_fd}});
  if (!executor) return executor.error();
  for (const auto& [side, name] :
       {std::pair{NetnsSide::kPod, &host_link}, std::pair{NetnsSide::kProbe, &probe_link}}) {
    auto up = executor->IsOperUp(side, *name);
    if (!up) return up.error();
    if (!*up) return false;
  }
  return true;
}

}  // namespace dind::egress
