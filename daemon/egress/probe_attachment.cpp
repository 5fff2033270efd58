// SPDX-License-Identifier: Apache-2.0
#include "daemon/egress/probe_attachment.h"

#include "common/log.h"
#include "daemon/egress/probe.h"

namespace dind::egress {
namespace {

// The link watcher batches carrier changes once a second; five seconds means something is off.
constexpr std::chrono::seconds kSettleLimit{5};

}  // namespace

std::string Vantage::From(Family family) const {
  const IpAddress& source = family == Family::kIPv6 && address_v6 ? *address_v6 : address;
  return "from the docker bridge (probe " + source.ToString() + ")";
}

ProbeAttachment::ProbeAttachment(std::unique_ptr<AttachKernel> kernel, std::string bridge_name,
                                 int slot)
    : kernel_(std::move(kernel)),
      bridge_name_(std::move(bridge_name)),
      slot_(slot),
      host_link_(ProbeHostLinkName(slot)) {}

ProbeAttachment::~ProbeAttachment() {
  if (!vantage_) return;
  if (auto detached = Detach(); !detached.ok()) {
    log::Warn("egress probe: detaching from " + bridge_name_ +
              " failed: " + detached.error().Message());
  }
}

AttachStatus ProbeAttachment::Ensure() {
  auto pod = kernel_->ReadPodLinks({bridge_name_, host_link_});
  if (!pod) {
    return {AttachStatus::State::kFailed,
            "egress probe: reading docker bridge " + bridge_name_ + ": " + pod.error().Message(),
            std::nullopt};
  }
  const BridgeLookup lookup = FindBridge(*pod, bridge_name_);
  const netcfg::LinkInfo* host = pod->FindLink(host_link_);
  const bool host_on_bridge =
      host != nullptr && lookup.facts && host->master_index == lookup.facts->index;
  const std::optional<BridgeFacts> attached =
      vantage_ ? std::optional<BridgeFacts>(vantage_->bridge) : std::nullopt;

  switch (DecideAttachment(attached, lookup, host_on_bridge)) {
    case AttachAction::kKeep:
      return Attached();
    case AttachAction::kAttach:
      return Attach(*lookup.facts);
    case AttachAction::kReattach: {
      log::Info("egress probe: docker bridge " + bridge_name_ +
                " changed (made again, readdressed or probe port lost): attaching again");
      if (auto detached = Detach(); !detached.ok()) {
        return {AttachStatus::State::kFailed, detached.error().Message(), std::nullopt};
      }
      return Attach(*lookup.facts);
    }
    case AttachAction::kDetach: {
      log::Info("egress probe: docker bridge " + bridge_name_ + " is gone: detaching");
      if (auto detached = Detach(); !detached.ok()) {
        return {AttachStatus::State::kFailed, detached.error().Message(), std::nullopt};
      }
      return NoBridge(lookup);
    }
    case AttachAction::kStayDetached:
      return NoBridge(lookup);
  }
  return NoBridge(lookup);
}

AttachStatus ProbeAttachment::NoBridge(const BridgeLookup& lookup) const {
  std::string reason;
  switch (lookup.state) {
    case BridgeLookup::State::kNotABridge:
      reason = bridge_name_ + " is a " + (lookup.kind.empty() ? "device" : lookup.kind) +
               ", not a bridge: is dockerd's bridge named differently?";
      break;
    case BridgeLookup::State::kNoIpv4Address:
      reason =
          "docker bridge " + bridge_name_ + " has no IPv4 address yet: dockerd still starting?";
      break;
    default:
      reason = "no docker bridge " + bridge_name_ + " yet: dockerd still starting?";
      break;
  }
  return {AttachStatus::State::kNoBridge, reason, std::nullopt};
}

AttachStatus ProbeAttachment::Attach(const BridgeFacts& found) {
  // A bridge without ports reports 1500 whatever dockerd's MTU; the probe's veth must have
  // the MTU a nested container's veth gets, or the path-MTU probe measures the wrong thing.
  BridgeFacts bridge = found;
  if (docker_mtu_ != 0) bridge.mtu = docker_mtu_;
  auto failed = [&](const Error& error) {
    return AttachStatus{
        AttachStatus::State::kFailed,
        "egress probe: attaching to docker bridge " + bridge.name + ": " + error.Message(),
        std::nullopt};
  };
  auto plan = PlanAttachment(bridge, slot_);
  if (!plan) return failed(plan.error());
  // A port of that name is ours from an earlier attachment that could not be undone; it must
  // go, or the new veth cannot take its name.
  if (auto cleared = kernel_->DeletePodLink(plan->host_link); !cleared.ok()) {
    return failed(cleared.error());
  }
  auto netns = kernel_->CreateProbeNamespace();
  if (!netns) return failed(netns.error());
  if (auto executed = kernel_->Execute(*plan, netns->get()); !executed.ok()) {
    // Leave nothing half-made on the bridge; the namespace goes with its descriptor.
    if (auto undone = kernel_->DeletePodLink(plan->host_link); !undone.ok()) {
      log::Warn("egress probe: cleaning up after a failed attach: " + undone.error().Message());
    }
    return failed(executed.error());
  }
  vantage_ = Vantage{bridge,
                     plan->host_link,
                     plan->probe_address,
                     plan->suggested_fixed_cidr,
                     std::make_shared<const ScopedFd>(std::move(*netns)),
                     plan->probe_address_v6};
  settled_ = false;
  attached_at_ = std::chrono::steady_clock::now();
  log::Fields fields = {
      {"bridge_network", bridge.network.ToString()},
      {"probe_address", plan->probe_address.ToString()},
      {"port", plan->host_link},
      {"mtu", std::to_string(bridge.mtu)},
      {"keep_dockerd_off_with_fixed_cidr", plan->suggested_fixed_cidr.ToString()}};
  if (bridge.ipv6 && plan->probe_address_v6) {
    fields.push_back({"bridge_network_v6", bridge.ipv6->network.ToString()});
    fields.push_back({"probe_address_v6", plan->probe_address_v6->ToString()});
  }
  log::Info("egress probe attached to docker bridge " + bridge.name, fields);
  return Attached();
}

AttachStatus ProbeAttachment::Attached() {
  if (settled_) return {AttachStatus::State::kAttached, "", vantage_};
  auto up = kernel_->LinksUp(host_link_, kProbeLinkName, vantage_->netns->get());
  if (!up) {
    return {AttachStatus::State::kFailed,
            "egress probe: checking its veth on docker bridge " + bridge_name_ + ": " +
                up.error().Message(),
            std::nullopt};
  }
  if (*up) {
    settled_ = true;
    return {AttachStatus::State::kAttached, "", vantage_};
  }
  const auto waited = std::chrono::steady_clock::now() - attached_at_;
  if (waited < kSettleLimit) {
    return {AttachStatus::State::kSettling,
            "egress probe attached to docker bridge " + bridge_name_ +
                ", waiting for the kernel to bring its port up",
            std::nullopt};
  }
  return {AttachStatus::State::kFailed,
          "egress probe: its port " + host_link_ + " on docker bridge " + bridge_name_ +
              " is not up " +
              FormatDuration(std::chrono::duration_cast<std::chrono::milliseconds>(waited)) +
              " after attaching; check `ip link show " + host_link_ + "` and dmesg",
          std::nullopt};
}

Status ProbeAttachment::Detach() {
  if (!vantage_) return OkStatus();
  Status deleted = kernel_->DeletePodLink(host_link_);
  // The namespace goes regardless (once no probe holds it): without its veth it is useless,
  // and a failed delete is retried by the next attach, which clears the name first.
  vantage_.reset();
  if (!deleted.ok()) return deleted.error().Wrap("egress probe: detaching from " + bridge_name_);
  return OkStatus();
}

}  // namespace dind::egress
