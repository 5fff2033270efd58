// SPDX-License-Identifier: Apache-2.0
// The attachment's decisions against a fake kernel: when it attaches, re-attaches, detaches,
// and how it cleans up after a failure.
#include "daemon/egress/probe_attachment.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/mocks/fake_attach_kernel.h"

namespace dind::egress {
namespace {

using dind::testing::FakeAttachKernel;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

IpAddress Ip(const char* text) {
  return IpAddress::Parse(text).value();
}

struct Fixture {
  FakeAttachKernel* kernel = nullptr;
  std::unique_ptr<ProbeAttachment> attachment;
  Fixture() {
    auto owned = std::make_unique<FakeAttachKernel>();
    kernel = owned.get();
    attachment = std::make_unique<ProbeAttachment>(std::move(owned), "docker0");
  }
};

const std::vector<std::string> kAttachCalls = {
    "delete dnc-probe0",
    "create namespace",
    "pod: create veth dnc-probe0 with peer eth0 in the probe namespace, MTU 1500",
    "probe: set lo up",
    "probe: set eth0 up",
    "probe: add 172.17.255.254/16 to eth0",
    "probe: add default route via 172.17.0.1 dev eth0",
    "pod: enslave dnc-probe0 to bridge docker0",
    "pod: set dnc-probe0 up"};

TEST(ProbeAttachmentTest, NoBridgeYetSaysSoPlainly) {
  Fixture f;
  const AttachStatus status = f.attachment->Ensure();
  EXPECT_EQ(status.state, AttachStatus::State::kNoBridge);
  EXPECT_EQ(status.reason, "no docker bridge docker0 yet: dockerd still starting?");
  EXPECT_FALSE(status.vantage);
  EXPECT_THAT(f.kernel->calls, IsEmpty());
}

TEST(ProbeAttachmentTest, BridgeWithoutAddressOrNotABridge) {
  Fixture f;
  f.kernel->AddBridge(4, nullptr, 0);
  EXPECT_EQ(f.attachment->Ensure().reason,
            "docker bridge docker0 has no IPv4 address yet: dockerd still starting?");
  f.kernel->Find("docker0")->kind = "dummy";
  const AttachStatus status = f.attachment->Ensure();
  EXPECT_EQ(status.state, AttachStatus::State::kNoBridge);
  EXPECT_THAT(status.reason, HasSubstr("docker0 is a dummy, not a bridge"));
}

TEST(ProbeAttachmentTest, AttachesOnceAndKeepsTheAttachment) {
  Fixture f;
  f.kernel->AddBridge(4, "172.17.0.1", 16);
  const AttachStatus status = f.attachment->Ensure();
  ASSERT_EQ(status.state, AttachStatus::State::kAttached) << status.reason;
  ASSERT_TRUE(status.vantage);
  EXPECT_EQ(status.vantage->address, Ip("172.17.255.254"));
  EXPECT_EQ(status.vantage->host_link, "dnc-probe0");
  EXPECT_EQ(status.vantage->suggested_fixed_cidr, Cidr::Parse("172.17.0.0/17").value());
  EXPECT_EQ(status.vantage->From(), "from the docker bridge (probe 172.17.255.254)");
  ASSERT_TRUE(status.vantage->netns);
  EXPECT_TRUE(status.vantage->netns->valid());
  EXPECT_EQ(f.kernel->calls, kAttachCalls);

  f.kernel->calls.clear();
  const AttachStatus again = f.attachment->Ensure();
  EXPECT_EQ(again.state, AttachStatus::State::kAttached);
  EXPECT_THAT(f.kernel->calls, IsEmpty()) << "an attachment in order is left alone";
}

TEST(ProbeAttachmentTest, DualStackBridgeGivesTheProbeAnIpv6AddressToo) {
  Fixture f;
  f.kernel->AddBridge(4, "172.17.0.1", 16);
  f.kernel->AddAddress(4, "fe80::1", 64);
  f.kernel->AddAddress(4, "fd00:db8:1::1", 64);
  const AttachStatus status = f.attachment->Ensure();
  ASSERT_EQ(status.state, AttachStatus::State::kAttached) << status.reason;
  ASSERT_TRUE(status.vantage);
  EXPECT_EQ(status.vantage->address, Ip("172.17.255.254"));
  EXPECT_EQ(status.vantage->address_v6, Ip("fd00:db8:1:0:ffff:ffff:ffff:ffff"));
  EXPECT_TRUE(status.vantage->Has(Family::kIPv6));
  EXPECT_EQ(status.vantage->From(Family::kIPv6),
            "from the docker bridge (probe fd00:db8:1:0:ffff:ffff:ffff:ffff)");
  EXPECT_EQ(status.vantage->From(), "from the docker bridge (probe 172.17.255.254)");
  EXPECT_THAT(f.kernel->calls,
              ::testing::Contains("probe: add fd00:db8:1:0:ffff:ffff:ffff:ffff/64 to eth0 "
                                  "without DAD"));
  EXPECT_THAT(f.kernel->calls,
              ::testing::Contains("probe: add default route via fd00:db8:1::1 dev eth0"));

  // dockerd restarted without IPv6: the same bridge index, no IPv6 network any more.
  std::erase_if(f.kernel->pod.addresses, [](const auto& a) { return !a.address.is_v4(); });
  const AttachStatus v4_only = f.attachment->Ensure();
  ASSERT_EQ(v4_only.state, AttachStatus::State::kAttached);
  EXPECT_FALSE(v4_only.vantage->address_v6) << "attached again, IPv4 only";
  EXPECT_FALSE(v4_only.vantage->Has(Family::kIPv6));
}

TEST(ProbeAttachmentTest, Ipv4OnlyBridgeGivesNoIpv6Address) {
  Fixture f;
  f.kernel->AddBridge(4, "172.17.0.1", 16);
  const AttachStatus status = f.attachment->Ensure();
  ASSERT_EQ(status.state, AttachStatus::State::kAttached);
  EXPECT_FALSE(status.vantage->address_v6);
  EXPECT_EQ(status.vantage->From(Family::kIPv6), status.vantage->From())
      << "an IPv6 probe that cannot run is described from the IPv4 address";
}

TEST(ProbeAttachmentTest, SettlesUntilTheKernelBringsThePortUp) {
  Fixture f;
  f.kernel->AddBridge(4, "172.17.0.1", 16);
  f.kernel->links_up_after = 2;
  const AttachStatus first = f.attachment->Ensure();
  EXPECT_EQ(first.state, AttachStatus::State::kSettling);
  EXPECT_THAT(first.reason, HasSubstr("waiting for the kernel to bring its port up"));
  EXPECT_FALSE(first.vantage) << "no probing from a port the bridge has not enabled";
  EXPECT_EQ(f.attachment->Ensure().state, AttachStatus::State::kSettling);
  f.kernel->calls.clear();
  const AttachStatus settled = f.attachment->Ensure();
  EXPECT_EQ(settled.state, AttachStatus::State::kAttached);
  EXPECT_TRUE(settled.vantage);
  EXPECT_THAT(f.kernel->calls, IsEmpty()) << "settling is not attaching again";
  EXPECT_EQ(f.attachment->Ensure().state, AttachStatus::State::kAttached);
  EXPECT_EQ(f.kernel->links_up_checks, 3) << "once settled, not asked again";
}

TEST(ProbeAttachmentTest, BridgeDeletedAndMadeAgainMeansAttachingAgain) {
  Fixture f;
  f.kernel->AddBridge(4, "172.17.0.1", 16);
  const AttachStatus first = f.attachment->Ensure();
  ASSERT_EQ(first.state, AttachStatus::State::kAttached);

  f.kernel->RemoveBridge();
  f.kernel->AddBridge(9, "172.17.0.1", 16);
  f.kernel->calls.clear();
  const AttachStatus second = f.attachment->Ensure();
  ASSERT_EQ(second.state, AttachStatus::State::kAttached) << second.reason;
  EXPECT_EQ(second.vantage->bridge.index, 9);
  std::vector<std::string> expected = {"delete dnc-probe0"};  // detach
  expected.insert(expected.end(), kAttachCalls.begin(), kAttachCalls.end());
  EXPECT_EQ(f.kernel->calls, expected);
  EXPECT_EQ(f.kernel->Find("dnc-probe0")->master_index, 9);
  // A probe still holding the old vantage keeps a valid (unplugged) namespace descriptor.
  EXPECT_TRUE(first.vantage->netns->valid());
  EXPECT_NE(first.vantage->netns, second.vantage->netns);
}

TEST(ProbeAttachmentTest, LostPortMeansAttachingAgain) {
  Fixture f;
  f.kernel->AddBridge(4, "172.17.0.1", 16);
  ASSERT_EQ(f.attachment->Ensure().state, AttachStatus::State::kAttached);
  ASSERT_TRUE(f.kernel->DeletePodLink("dnc-probe0").ok());  // someone ran `ip link del dnc-probe0`
  f.kernel->calls.clear();
  EXPECT_EQ(f.attachment->Ensure().state, AttachStatus::State::kAttached);
  EXPECT_THAT(f.kernel->calls, ::testing::Contains("pod: enslave dnc-probe0 to bridge docker0"));
}

TEST(ProbeAttachmentTest, BridgeGoneMeansDetached) {
  Fixture f;
  f.kernel->AddBridge(4, "172.17.0.1", 16);
  ASSERT_EQ(f.attachment->Ensure().state, AttachStatus::State::kAttached);
  f.kernel->RemoveBridge();
  f.kernel->calls.clear();
  const AttachStatus status = f.attachment->Ensure();
  EXPECT_EQ(status.state, AttachStatus::State::kNoBridge);
  EXPECT_EQ(status.reason, "no docker bridge docker0 yet: dockerd still starting?");
  EXPECT_THAT(f.kernel->calls, ElementsAre("delete dnc-probe0"));
  EXPECT_EQ(f.kernel->Find("dnc-probe0"), nullptr);
}

TEST(ProbeAttachmentTest, FailedStepIsUndoneAndNamed) {
  Fixture f;
  f.kernel->AddBridge(4, "172.17.0.1", 16);
  f.kernel->fail_step = "enslave";
  const AttachStatus status = f.attachment->Ensure();
  EXPECT_EQ(status.state, AttachStatus::State::kFailed);
  EXPECT_THAT(status.reason, HasSubstr("attaching to docker bridge docker0"));
  EXPECT_THAT(status.reason, HasSubstr("pod: enslave dnc-probe0 to bridge docker0"));
  EXPECT_EQ(f.kernel->calls.back(), "delete dnc-probe0") << "nothing half-made is left";
  EXPECT_EQ(f.kernel->Find("dnc-probe0"), nullptr);

  f.kernel->fail_step.clear();
  EXPECT_EQ(f.attachment->Ensure().state, AttachStatus::State::kAttached) << "retried next time";
}

TEST(ProbeAttachmentTest, RefusedNamespaceIsAFailureWithTheHint) {
  Fixture f;
  f.kernel->AddBridge(4, "172.17.0.1", 16);
  f.kernel->refuse_namespace = true;
  const AttachStatus status = f.attachment->Ensure();
  EXPECT_EQ(status.state, AttachStatus::State::kFailed);
  EXPECT_THAT(status.reason, HasSubstr("Operation not permitted"));
  EXPECT_THAT(status.reason, HasSubstr("grant it"));
}

TEST(ProbeAttachmentTest, TinyBridgeNetworkIsAFailureNotACrash) {
  Fixture f;
  f.kernel->AddBridge(4, "172.17.0.1", 30);
  const AttachStatus status = f.attachment->Ensure();
  EXPECT_EQ(status.state, AttachStatus::State::kFailed);
  EXPECT_THAT(status.reason, HasSubstr("too small"));
  EXPECT_THAT(f.kernel->calls, IsEmpty());
}

TEST(ProbeAttachmentTest, DetachTwiceIsHarmless) {
  Fixture f;
  f.kernel->AddBridge(4, "172.17.0.1", 16);
  ASSERT_EQ(f.attachment->Ensure().state, AttachStatus::State::kAttached);
  f.kernel->calls.clear();
  EXPECT_TRUE(f.attachment->Detach().ok());
  EXPECT_TRUE(f.attachment->Detach().ok());
  EXPECT_THAT(f.kernel->calls, ElementsAre("delete dnc-probe0"));
}

TEST(ProbeAttachmentTest, DestructorDetaches) {
  std::vector<std::string> deleted;
  {
    auto kernel = std::make_unique<FakeAttachKernel>();
    kernel->deletes_outside = &deleted;
    kernel->AddBridge(4, "172.17.0.1", 16);
    ProbeAttachment attachment(std::move(kernel), "docker0");
    ASSERT_EQ(attachment.Ensure().state, AttachStatus::State::kAttached);
    deleted.clear();
  }
  EXPECT_THAT(deleted, ElementsAre("dnc-probe0"));
}

TEST(ProbeAttachmentTest, DestructorOfADetachedAttachmentDeletesNothing) {
  std::vector<std::string> deleted;
  {
    auto kernel = std::make_unique<FakeAttachKernel>();
    kernel->deletes_outside = &deleted;
    ProbeAttachment attachment(std::move(kernel), "docker0");
    EXPECT_EQ(attachment.Ensure().state, AttachStatus::State::kNoBridge);
  }
  EXPECT_THAT(deleted, IsEmpty());
}

}  // namespace
}  // namespace dind::egress
