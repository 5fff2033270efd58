// SPDX-License-Identifier: Apache-2.0
#include "daemon/privileges/capability_needs.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace dind::privileges {
namespace {

constexpr CapabilityMask kNetAdmin = Bit(Capability::kNetAdmin);
constexpr CapabilityMask kNetRaw = Bit(Capability::kNetRaw);
constexpr CapabilityMask kSysAdmin = Bit(Capability::kSysAdmin);

TEST(RunNeeds, DefaultsNeedNetAdminNetRawAndSysAdmin) {
  const Needs needs = RunNeeds({});
  EXPECT_EQ(needs.required_mask(), kNetAdmin | kNetRaw | kSysAdmin);
  EXPECT_EQ(needs.mask(), kNetAdmin | kNetRaw | kSysAdmin);
}

TEST(RunNeeds, NothingWithoutRulesAndProbes) {
  RunFeatures features;
  features.rules = false;
  features.probes = false;
  EXPECT_EQ(RunNeeds(features).mask(), 0u);
}

TEST(RunNeeds, ExplicitBackendWithoutProbesNeedsNoSysAdmin) {
  RunFeatures features;
  features.backend_auto = false;
  features.probes = false;
  EXPECT_EQ(RunNeeds(features).mask(), kNetAdmin | kNetRaw);
}

TEST(RunNeeds, AutoBackendWithoutProbesWantsSysAdminForTheProofOnly) {
  RunFeatures features;
  features.probes = false;
  const Needs needs = RunNeeds(features);
  EXPECT_EQ(needs.mask(), kNetAdmin | kNetRaw | kSysAdmin);
  EXPECT_EQ(needs.required_mask(), kNetAdmin | kNetRaw);
}

TEST(RunNeeds, ProbesWithoutMtuProbeNeedNoNetRaw) {
  RunFeatures features;
  features.rules = false;
  features.mtu_probe = false;
  EXPECT_EQ(RunNeeds(features).mask(), kNetAdmin | kSysAdmin);
  features.mtu_probe = true;
  EXPECT_EQ(RunNeeds(features).mask(), kNetAdmin | kSysAdmin | kNetRaw);
}

TEST(RunNeeds, LowListenPortNeedsNetBindService) {
  RunFeatures features;
  features.listen_port = 80;
  EXPECT_TRUE(RunNeeds(features).Has(Capability::kNetBindService));
  features.listen_port = 1024;
  EXPECT_FALSE(RunNeeds(features).Has(Capability::kNetBindService));
  features.listen_port = 0;  // any free port
  EXPECT_FALSE(RunNeeds(features).Has(Capability::kNetBindService));
}

TEST(RunNeeds, DaemonJsonOfAnotherOwnerNeedsChownAndFowner) {
  RunFeatures features;
  features.daemon_json_other_owner = true;
  const Needs needs = RunNeeds(features);
  EXPECT_TRUE(needs.Has(Capability::kChown));
  EXPECT_TRUE(needs.Has(Capability::kFowner));
  EXPECT_FALSE(needs.Has(Capability::kDacOverride));
  features.daemon_json_other_owner = false;
  features.daemon_json_not_writable = true;
  EXPECT_TRUE(RunNeeds(features).Has(Capability::kDacOverride));
  EXPECT_FALSE(RunNeeds(features).Has(Capability::kChown));
}

TEST(Needs, OneEntryPerCapabilityWithReasonsJoinedAndRequiredWins) {
  Needs needs;
  needs.Add(Capability::kSysAdmin, "the proof", false);
  needs.Add(Capability::kSysAdmin, "the probe");
  ASSERT_EQ(needs.list().size(), 1u);
  EXPECT_EQ(needs.list()[0].why, "the proof; the probe");
  EXPECT_TRUE(needs.list()[0].required);
}

TEST(RulesNeeds, AutoWantsSysAdminOptionally) {
  EXPECT_EQ(RulesNeeds(true).required_mask(), kNetAdmin | kNetRaw);
  EXPECT_EQ(RulesNeeds(true).mask(), kNetAdmin | kNetRaw | kSysAdmin);
  EXPECT_EQ(RulesNeeds(false).mask(), kNetAdmin | kNetRaw);
}

TEST(RulesNeeds, NamesTheFlagThatTurnsThemOff) {
  const Needs needs = RulesNeeds(false, "--no-rules");
  ASSERT_FALSE(needs.list().empty());
  EXPECT_NE(needs.list()[0].why.find("(off with --no-rules)"), std::string::npos);
  EXPECT_EQ(RulesNeeds(false).list()[0].why.find("off with"), std::string::npos);
}

TEST(MissingError, NoneWhenEveryRequiredNeedIsPermitted) {
  ProcessFacts facts;
  facts.permitted = kNetAdmin | kNetRaw;  // SYS_ADMIN is optional here
  EXPECT_FALSE(MissingError(RulesNeeds(true), facts).has_value());
}

TEST(MissingError, NamesTheMissingCapabilityWhyAndTheSecurityContext) {
  ProcessFacts facts;
  facts.euid = 0;
  facts.permitted = kNetRaw | kSysAdmin;
  facts.bounding = kNetRaw | kSysAdmin;
  const auto error = MissingError(RunNeeds({}), facts);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->ExitCode(), 1);
  const std::string message = error->Message();
  EXPECT_NE(message.find("missing CAP_NET_ADMIN for the masquerade rules"), std::string::npos)
      << message;
  EXPECT_NE(message.find("the egress probe's veth on the docker bridge (off with --no-probes)"),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find("CAP_NET_RAW for"), std::string::npos) << message;  // it is held
  EXPECT_NE(message.find("securityContext.capabilities {drop: [ALL], add: [NET_ADMIN, NET_RAW, "
                         "SYS_ADMIN]}"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("not in the bounding set"), std::string::npos) << message;
}

TEST(MissingError, ExplainsFileCapabilitiesWhenANonRootUserLostThemAtExec) {
  ProcessFacts facts;
  facts.euid = 65532;
  facts.permitted = 0;
  facts.bounding = kNetAdmin | kNetRaw | kSysAdmin;
  const auto error = MissingError(RunNeeds({}), facts);
  ASSERT_TRUE(error.has_value());
  const std::string message = error->Message();
  EXPECT_NE(message.find("uid 65532 receives them only from the binary's file capabilities"),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find("not in the bounding set"), std::string::npos) << message;
}

TEST(ModeBitsGrant, OwnerGroupOtherInTheKernelsOrder) {
  struct stat file {};
  file.st_uid = 1000;
  file.st_gid = 2000;
  file.st_mode = S_IFDIR | 0750;
  EXPECT_TRUE(ModeBitsGrant(file, 1000, 1, {}, W_OK | X_OK));
  EXPECT_FALSE(ModeBitsGrant(file, 1001, 2000, {}, W_OK | X_OK));  // group: r-x
  EXPECT_TRUE(ModeBitsGrant(file, 1001, 1, {2000}, R_OK | X_OK));  // a supplementary group
  EXPECT_FALSE(ModeBitsGrant(file, 1001, 1, {}, R_OK));            // other: ---
  EXPECT_FALSE(ModeBitsGrant(file, 0, 0, {}, R_OK));  // root is "other" without DAC_OVERRIDE
  file.st_mode = S_IFDIR | 0077;  // the owner class decides even when "other" grants more
  EXPECT_FALSE(ModeBitsGrant(file, 1000, 1, {}, R_OK));
}

}  // namespace
}  // namespace dind::privileges
