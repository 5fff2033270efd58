// SPDX-License-Identifier: Apache-2.0
// A KIND Cluster config for a cluster nested in this pod (`dind-netcfg kind-config`): the
// nested kubelet under its own cgroup root, and pod and service subnets chosen outside every
// range the pod reaches and every range docker's networks take, each with the reason.
#pragma once

#include <cstdint>
#include <string>

#include "common/cidr.h"
#include "common/result.h"
#include "netcfg/detect/detector.h"

namespace dind::kind {

struct KindClusterPlan {
  int nodes = 1;  // one control plane, the rest workers
  Cidr pod_subnet;
  std::string pod_subnet_reason;
  Cidr service_subnet;
  std::string service_subnet_reason;
};

inline constexpr std::uint32_t kMaxKindNodes = 100;

// `nodes` is 1..kMaxKindNodes (the command checks it before detecting). kEnvironment when every
// candidate subnet collides; the reason names what it collides with.
Result<KindClusterPlan> PlanKindCluster(const netcfg::DetectionReport& report, std::uint32_t nodes);

// The config as YAML (kind.x-k8s.io/v1alpha4), with a comment header saying why each value.
std::string RenderKindConfig(const KindClusterPlan& plan);

}  // namespace dind::kind
