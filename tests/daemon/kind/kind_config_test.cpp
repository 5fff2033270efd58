// SPDX-License-Identifier: Apache-2.0
// The nested KIND cluster's config from a detection of the typical test pod (its own address
// is 10.244.1.5/24, inside KIND's default pod subnet).
#include "daemon/kind/kind_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/netcfg/detect/fixtures.h"

namespace dind::kind {
namespace {

using ::testing::HasSubstr;

netcfg::DetectionReport Report(std::vector<Cidr> avoid = {}) {
  netcfg::DetectOptions options;
  options.dockerd_version = "24.0.7";
  options.avoid = std::move(avoid);
  return netcfg::Detect(netcfg::testing::PodFacts(1450), options).value();
}

TEST(PlanKindClusterTest, SubnetsStayClearOfThePodAndOfDocker) {
  auto plan = PlanKindCluster(Report(), 3);
  ASSERT_TRUE(plan.ok()) << plan.error().Message();
  // 10.244.0.0/16 holds the pod's own address: the next /16 is taken, and the reason says why.
  EXPECT_EQ(plan->pod_subnet.ToString(), "10.245.0.0/16");
  EXPECT_THAT(plan->pod_subnet_reason, HasSubstr("10.244.0.0/16 overlaps 10.244.1.0/24"));
  EXPECT_EQ(plan->service_subnet.ToString(), "10.96.0.0/16");
  EXPECT_THAT(plan->service_subnet_reason, HasSubstr("KIND's default"));
  const auto report = Report();
  for (const auto& pool : report.pools.default_address_pools) {
    EXPECT_FALSE(pool.base.Overlaps(plan->pod_subnet)) << pool.base.ToString();
    EXPECT_FALSE(pool.base.Overlaps(plan->service_subnet)) << pool.base.ToString();
  }
}

TEST(PlanKindClusterTest, AvoidedRangesMoveTheServiceSubnetToo) {
  auto plan = PlanKindCluster(Report({Cidr::Parse("10.96.0.0/15").value()}), 1);
  ASSERT_TRUE(plan.ok()) << plan.error().Message();
  EXPECT_EQ(plan->service_subnet.ToString(), "10.98.0.0/16");
}

TEST(PlanKindClusterTest, WhenEveryCandidateIsTakenTheErrorSaysWhatTookThem) {
  auto plan = PlanKindCluster(Report({Cidr::Parse("10.240.0.0/12").value()}), 1);
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(plan.error().Message(), HasSubstr("no pod subnet from 10.244.0.0/16 on is free"));
  EXPECT_THAT(plan.error().Message(), HasSubstr("10.240.0.0/12"));
}

TEST(RenderKindConfigTest, NamesEveryValueAndWhy) {
  const std::string yaml = RenderKindConfig(PlanKindCluster(Report(), 3).value());
  EXPECT_THAT(yaml, HasSubstr("apiVersion: kind.x-k8s.io/v1alpha4\n"));
  EXPECT_THAT(yaml, HasSubstr("  podSubnet: \"10.245.0.0/16\"\n"));
  EXPECT_THAT(yaml, HasSubstr("  serviceSubnet: \"10.96.0.0/16\"\n"));
  EXPECT_THAT(yaml, HasSubstr("    kind: KubeletConfiguration\n    cgroupRoot: /kubelet\n"));
  EXPECT_THAT(yaml, HasSubstr("#   cgroupRoot /kubelet: "));
  EXPECT_THAT(yaml, HasSubstr("  - role: control-plane\n  - role: worker\n  - role: worker\n"));
}

}  // namespace
}  // namespace dind::kind
