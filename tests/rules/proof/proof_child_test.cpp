// SPDX-License-Identifier: Apache-2.0
// What the proof says when it may not create namespaces.
#include "rules/proof/proof_child.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace dind::rules {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(EffectiveCapabilitiesTest, ReadsCapEffFromProcStatus) {
  const std::string status =
      "Name:\tdind-netcfg\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\n"
      "CapEff:\t00000000a80425fb\nCapBnd:\t000001ffffffffff\n";
  EXPECT_EQ(EffectiveCapabilities(status), 0xa80425fbULL);
}

TEST(EffectiveCapabilitiesTest, AbsentOrMalformedIsUnknown) {
  EXPECT_EQ(EffectiveCapabilities("Name:\tx\n"), std::nullopt);
  EXPECT_EQ(EffectiveCapabilities("Name:\tx\nCapEff:\tzz\n"), std::nullopt);
  EXPECT_EQ(EffectiveCapabilities("Name:\tx\nCapEff:\t\n"), std::nullopt);
}

TEST(NamespaceRefusalHintTest, NamesTheMissingCapabilities) {
  // docker's default set: no CAP_SYS_ADMIN, no CAP_NET_ADMIN.
  EXPECT_THAT(NamespaceRefusalHint(0xa80425fbULL),
              HasSubstr("lacks CAP_SYS_ADMIN and CAP_NET_ADMIN"));
  const std::uint64_t net_admin_only = 0xa80425fbULL | (1ULL << 12);
  EXPECT_THAT(NamespaceRefusalHint(net_admin_only), HasSubstr("lacks CAP_SYS_ADMIN,"));
  EXPECT_THAT(NamespaceRefusalHint(net_admin_only), Not(HasSubstr("CAP_NET_ADMIN")));
}

TEST(NamespaceRefusalHintTest, WithCapSysAdminItBlamesASandbox) {
  const std::string hint = NamespaceRefusalHint(0x000001ffffffffffULL);
  EXPECT_THAT(hint, HasSubstr("has CAP_SYS_ADMIN"));
  EXPECT_THAT(hint, HasSubstr("seccomp"));
  EXPECT_THAT(hint, HasSubstr("--backend legacy|nft"));
}

TEST(NamespaceRefusalHintTest, UnknownCapabilitiesNameBothNeeded) {
  EXPECT_THAT(NamespaceRefusalHint(std::nullopt),
              HasSubstr("needs CAP_SYS_ADMIN (to create network namespaces) and CAP_NET_ADMIN"));
}

}  // namespace
}  // namespace dind::rules
