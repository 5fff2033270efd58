// SPDX-License-Identifier: Apache-2.0
// The probe attachment's kernel as a fake: the pod namespace as links and addresses, a journal
// of every call by its description, and Execute making the probe's port as the kernel would.
// Tests break it at a named step, refuse the namespace or keep the ports down for a while.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <variant>
#include <vector>

#include "daemon/egress/attach_kernel.h"

namespace dind::testing {

class FakeAttachKernel final : public egress::AttachKernel {
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
  Status Execute(const egress::AttachPlan& plan, int probe_netns_fd) override {
    EXPECT_GE(probe_netns_fd, 0);
    for (const netcfg::WiringStep& step : plan.steps) {
      const std::string described = netcfg::DescribeStep(step);
      calls.push_back(described);
      if (!fail_step.empty() && described.find(fail_step) != std::string::npos) {
        return Error::Environment(described, ENODEV);
      }
      if (const auto* create = std::get_if<netcfg::CreateVethPair>(&step)) {
        pod.links.push_back({next_index_++, create->name, "veth", create->mtu, false});
      }
      if (const auto* enslave = std::get_if<netcfg::EnslaveToBridge>(&step)) {
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
    if (address != nullptr) {
      pod.addresses.push_back({index, IpAddress::Parse(address).value(), prefix});
    }
  }
  // A further address on link `index`, e.g. the bridge's IPv6 one (fd00:db8:1::1/64).
  void AddAddress(int index, const char* address, int prefix) {
    pod.addresses.push_back({index, IpAddress::Parse(address).value(), prefix});
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

}  // namespace dind::testing
