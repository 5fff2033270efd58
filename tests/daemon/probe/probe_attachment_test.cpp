// SPDX-License-Identifier: Apache-2.0
// The attachment's decisions against a fake kernel: when it attaches, re-attaches, detaches,
// and how it cleans up after a failure.
#include "daemon/probe/probe_attachment.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

namespace dind::probe {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

IpAddress Ip(const char* text) {
  return IpAddress::Parse(text).value();
}

// The pod namespace as links and addresses; Execute makes the probe's port like the kernel.
class FakeAttachKernel final : public AttachKernel {
 public:
  netcfg::NetworkSnapshot pod;
  std::vector<std::string> calls;
  std::string fail_step;  // Execute fails at the step whose description contains this
  bool refuse_namespace = false;
  std::vector<std::string>* deletes_outside = nullptr;  // outlives the kernel, for destructors
  int links_up_after = 0;                               // LinksUp says "not yet" this many times
  int links_up_checks = 0;

  Result<netcfg::NetworkSnapshot> ReadPodLinks(const std::vector<std::string>& names) override {
    netcfg::NetworkSnapshot seen;
    for (const auto& link : pod.links) {
      if (std::find(names.begin(), names.end(), link.name) == names.end()) continue;
      seen.links.push_back(link);
      for (const auto& address : pod.addresses) {
        if (address.link_index == link.index) seen.addresses.push_back(address);
      }
    }
    return seen;
  }
  Result<ScopedFd> CreateProbeNamespace() override {
    calls.push_back("create namespace");
    if (refuse_namespace) {
      return Error::Permission("creating the probe network namespace", EPERM, "grant it");
    }
    return ScopedFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  }
  Status Execute(const AttachPlan& plan, int probe_netns_fd) override {
    EXPECT_GE(probe_netns_fd, 0);
    for (const AttachStep& step : plan.steps) {
      const std::string described = DescribeStep(step);
      calls.push_back(described);
      if (!fail_step.empty() && described.find(fail_step) != std::string::npos) {
        return Error::Environment(described, ENODEV);
      }
      if (const auto* create = std::get_if<CreateVeth>(&step)) {
        pod.links.push_back({next_index_++, create->host_link, "veth", create->mtu, false});
      }
      if (const auto* enslave = std::get_if<EnslaveToBridge>(&step)) {
        Find(enslave->link)->master_index = enslave->bridge_index;
      }
    }
    return OkStatus();
  }
  Status DeletePodLink(const std::string& name) override {
    calls.push_back("delete " + name);
    if (deletes_outside != nullptr) deletes_outside->push_back(name);
    std::erase_if(pod.links, [&](const netcfg::LinkInfo& link) { return link.name == name; });
    return OkStatus();
  }

  Result<bool> LinksUp(const std::string& host_link, const std::string& probe_link,
                       int probe_netns_fd) override {
    EXPECT_EQ(host_link, "dnc-probe0");
    EXPECT_EQ(probe_link, "eth0");
    EXPECT_GE(probe_netns_fd, 0);
    return ++links_up_checks > links_up_after;
  }

  void AddBridge(int index, const char* address, int prefix) {
    pod.links.push_back({index, "docker0", "bridge", 1500, true});
    if (address != nullptr) pod.addresses.push_back({index, Ip(address), prefix});
  }
  void RemoveBridge() {
    const int index = Find("docker0")->index;
    std::erase_if(pod.links, [](const netcfg::LinkInfo& link) { return link.name == "docker0"; });
    std::erase_if(pod.addresses, [&](const auto& a) { return a.link_index == index; });
    // The kernel releases the ports of a deleted bridge; they stay as plain links.
    for (auto& link : pod.links) {
      if (link.master_index == index) link.master_index = 0;
    }
  }
  netcfg::LinkInfo* Find(const std::string& name) {
    for (auto& link : pod.links) {
      if (link.name == name) return &link;
    }
    return nullptr;
  }

 private:
  int next_index_ = 100;
};

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
}  // namespace dind::probe
