// SPDX-License-Identifier: Apache-2.0
#include "daemon/kind/kind_config.h"

#include <vector>

#include "common/check.h"

namespace dind::kind {
namespace {

struct Taken {
  Cidr cidr;
  std::string why;
};

// What a nested cluster's subnets must not overlap: what the pod reaches (its addresses, routes,
// the Kubernetes service, nameservers, --avoid) and what docker's networks take.
std::vector<Taken> TakenRanges(const netcfg::DetectionReport& report) {
  std::vector<Taken> taken;
  for (const auto& avoided : report.pools.avoided) taken.push_back({avoided.cidr, avoided.reason});
  taken.push_back({report.pools.bridge_network, "docker's default bridge"});
  for (const auto& pool : report.pools.default_address_pools) {
    taken.push_back({pool.base, "docker's default-address-pools"});
  }
  return taken;
}

// The first /16 from `first` on (counting up `count` /16s) that overlaps nothing taken.
Result<Cidr> FirstFree(const std::string& what, const std::string& first, int count,
                       const std::vector<Taken>& taken, std::string& reason) {
  const Cidr start = Cidr::Parse(first).value();
  std::string collisions;
  for (int i = 0; i < count; ++i) {
    const Cidr candidate = Cidr::Of(
        IpAddress::V4(start.network().v4_host_order() + (static_cast<std::uint32_t>(i) << 16)), 16);
    const Taken* hit = nullptr;
    for (const auto& range : taken) {
      if (range.cidr.Overlaps(candidate)) hit = &range;
    }
    if (hit == nullptr) {
      reason = i == 0 ? "KIND's default, outside every range the pod reaches and docker's networks"
                      : "the first free /16 from " + first + " on; " + collisions;
      return candidate;
    }
    if (i < 3) {
      collisions += (collisions.empty() ? "" : ", ") + candidate.ToString() + " overlaps " +
                    hit->cidr.ToString() + " (" + hit->why + ")";
    }
  }
  return Error::Environment("no " + what + " from " + first + " on is free: " + collisions,
                            "pass --avoid only for ranges that are really in use");
}

}  // namespace

Result<KindClusterPlan> PlanKindCluster(const netcfg::DetectionReport& report,
                                        std::uint32_t nodes) {
  DIND_CHECK(nodes >= 1 && nodes <= kMaxKindNodes, "a node count the command checked");
  KindClusterPlan plan;
  plan.nodes = static_cast<int>(nodes);
  std::vector<Taken> taken = TakenRanges(report);
  auto pods = FirstFree("pod subnet", "10.244.0.0/16", 12, taken, plan.pod_subnet_reason);
  if (!pods) return pods.error();
  plan.pod_subnet = *pods;
  taken.push_back({plan.pod_subnet, "the nested cluster's pod subnet"});
  auto services =
      FirstFree("service subnet", "10.96.0.0/16", 12, taken, plan.service_subnet_reason);
  if (!services) return services.error();
  plan.service_subnet = *services;
  return plan;
}

std::string RenderKindConfig(const KindClusterPlan& plan) {
  std::string yaml =
      "# A KIND cluster nested in this pod, written by `dind-netcfg kind-config`.\n"
      "#   podSubnet " +
      plan.pod_subnet.ToString() + ": " + plan.pod_subnet_reason + ".\n" + "#   serviceSubnet " +
      plan.service_subnet.ToString() + ": " + plan.service_subnet_reason +
      ".\n"
      "#   cgroupRoot /kubelet: the nested kubelet manages only the cgroups below its own root;\n"
      "#   at its default it takes the dind container's cgroup for an unknown pod's and kills\n"
      "#   its processes (the D2iQ write-up, \"Running KIND in a Pod\").\n"
      "kind: Cluster\n"
      "apiVersion: kind.x-k8s.io/v1alpha4\n"
      "networking:\n"
      "  podSubnet: \"" +
      plan.pod_subnet.ToString() + "\"\n" + "  serviceSubnet: \"" + plan.service_subnet.ToString() +
      "\"\n" +
      "kubeadmConfigPatches:\n"
      "  - |\n"
      "    apiVersion: kubelet.config.k8s.io/v1beta1\n"
      "    kind: KubeletConfiguration\n"
      "    cgroupRoot: /kubelet\n"
      "nodes:\n"
      "  - role: control-plane\n";
  for (int i = 1; i < plan.nodes; ++i) yaml += "  - role: worker\n";
  return yaml;
}

}  // namespace dind::kind
