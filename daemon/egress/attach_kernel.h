// SPDX-License-Identifier: Apache-2.0
// The kernel seam of the probe attachment: reading the pod namespace's bridge, making the probe
// namespace and carrying out an AttachPlan's steps (through netcfg's WiringExecutor).
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/egress/attach_plan.h"
#include "daemon/egress/netns_thread.h"
#include "netcfg/netlink/snapshot.h"

namespace dind::egress {

class AttachKernel {
 public:
  virtual ~AttachKernel() = default;
  // The links named `links` that exist in the pod namespace, with their IPv4 and IPv6
  // addresses.
  virtual Result<netcfg::NetworkSnapshot> ReadPodLinks(const std::vector<std::string>& links) = 0;
  // A new network namespace that lives while the descriptor is open.
  virtual Result<ScopedFd> CreateProbeNamespace() = 0;
  // The plan's steps in order; stops at the first that fails and names it.
  virtual Status Execute(const AttachPlan& plan, int probe_netns_fd) = 0;
  // Deletes the pod-namespace link `name` (a veth takes its peer along); Ok when it is absent.
  virtual Status DeletePodLink(const std::string& name) = 0;
  // Whether both ends of the probe's veth are operationally up. The kernel's link watcher turns
  // a new veth's carrier on asynchronously (up to a second later), and the bridge enables the
  // port only then: packets sent before are dropped.
  virtual Result<bool> LinksUp(const std::string& host_link, const std::string& probe_link,
                               int probe_netns_fd) = 0;
};

// rtnetlink through netcfg's WiringExecutor; every call opens its sockets afresh in the
// namespaces it needs (a short-lived thread each, netns_thread.h), so a failed exchange never
// leaves a socket out of step with the kernel.
class NetlinkAttachKernel final : public AttachKernel {
 public:
  // `pod_netns_fd`: the namespace with the docker bridge; not owned, must stay open.
  explicit NetlinkAttachKernel(int pod_netns_fd) : pod_netns_fd_(pod_netns_fd) {}

  Result<netcfg::NetworkSnapshot> ReadPodLinks(const std::vector<std::string>& links) override;
  Result<ScopedFd> CreateProbeNamespace() override;
  Status Execute(const AttachPlan& plan, int probe_netns_fd) override;
  Status DeletePodLink(const std::string& name) override;
  Result<bool> LinksUp(const std::string& host_link, const std::string& probe_link,
                       int probe_netns_fd) override;

 private:
  int pod_netns_fd_;
};

}  // namespace dind::egress
