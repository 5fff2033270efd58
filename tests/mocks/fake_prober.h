// SPDX-License-Identifier: Apache-2.0
// The prober's collaborators as fakes, for the prober's and the sidecar's tests: an attachment
// that answers what the test set, and a probe factory whose probes finish (or hang) on a timer
// as the test set per target, counting how many ran at once and how many were cancelled.
#pragma once

#include <fcntl.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/mtu.h"
#include "daemon/egress/prober.h"

namespace dind::testing {

// The vantage of an attachment to docker0 (172.17.0.0/16); its namespace is /dev/null.
inline egress::Vantage Docker0Vantage(int index = 4) {
  return egress::Vantage{
      {"docker0", index, Cidr::Parse("172.17.0.0/16").value(),
       IpAddress::Parse("172.17.0.1").value(), 1500},
      "dnc-probe0",
      IpAddress::Parse("172.17.255.254").value(),
      Cidr::Parse("172.17.0.0/17").value(),
      std::make_shared<const ScopedFd>(::open("/dev/null", O_RDONLY | O_CLOEXEC))};
}

// The same with IPv6 on docker0 (fd00:db8:1::/64, gateway fd00:db8:1::1), as dockerd makes it
// with "ipv6": true and "fixed-cidr-v6".
inline egress::Vantage Docker0DualStackVantage(int index = 4) {
  egress::Vantage vantage = Docker0Vantage(index);
  vantage.bridge.ipv6 = egress::BridgeIpv6{Cidr::Parse("fd00:db8:1::/64").value(),
                                           IpAddress::Parse("fd00:db8:1::1").value()};
  vantage.address_v6 = IpAddress::Parse("fd00:db8:1:0:ffff:ffff:ffff:ffff").value();
  return vantage;
}

class FakeAttachment final : public egress::Attachment {
 public:
  egress::AttachStatus next{egress::AttachStatus::State::kAttached, "", Docker0Vantage()};
  int settling = 0;  // Ensure says kSettling this many times first
  int ensured = 0;
  egress::AttachStatus Ensure() override {
    if (++ensured <= settling) {
      return {egress::AttachStatus::State::kSettling, "waiting", std::nullopt};
    }
    return next;
  }
  Mtu docker_mtu = 0;  // what the reconciler last told it
  void SetDockerMtu(Mtu mtu) override { docker_mtu = mtu; }
};

// How a fake probe behaves.
struct Behaviour {
  egress::Outcome outcome = egress::Outcome::kPassed;
  std::chrono::milliseconds delay{1};
  bool never_finishes = false;
  std::chrono::milliseconds timeout{1000};
  std::string make_error;  // Make fails with this
};

struct Counters {
  int made = 0;
  int running = 0;
  int most_running = 0;
  int cancelled = 0;
};

class FakeProbe final : public egress::Probe, public std::enable_shared_from_this<FakeProbe> {
 public:
  FakeProbe(boost::asio::io_context& io, std::string description, Behaviour behaviour,
            Counters& counters, Family family = Family::kIPv4)
      : timer_(io),
        description_(std::move(description)),
        behaviour_(behaviour),
        counters_(counters),
        family_(family) {}
  std::string Description() const override { return description_; }
  std::chrono::milliseconds Timeout() const override { return behaviour_.timeout; }
  std::string TimeoutHint() const override { return "the fake never answers"; }
  void Start(egress::ProbeDone done) override {
    counters_.most_running = std::max(counters_.most_running, ++counters_.running);
    if (behaviour_.never_finishes) return;
    timer_.expires_after(behaviour_.delay);
    timer_.async_wait([self = shared_from_this(), done](const boost::system::error_code& error) {
      if (error || self->cancelled_) return;
      --self->counters_.running;
      done({self->behaviour_.outcome,
            self->description_ + " " + std::string(egress::OutcomeName(self->behaviour_.outcome)),
            std::nullopt, self->family_});
    });
  }
  void Cancel() override {
    if (cancelled_) return;
    cancelled_ = true;
    --counters_.running;
    ++counters_.cancelled;
    timer_.cancel();
  }

 private:
  boost::asio::steady_timer timer_;
  std::string description_;
  Behaviour behaviour_;
  Counters& counters_;
  Family family_;
  bool cancelled_ = false;
};

class FakeFactory final : public egress::ProbeFactory {
 public:
  explicit FakeFactory(boost::asio::io_context& io) : io_(io) {}
  std::map<std::string, Behaviour> behaviours;  // by target key; default: passes
  Counters counters;

  Result<std::shared_ptr<egress::Probe>> Make(const egress::ProbeTarget& target,
                                              const egress::Vantage& vantage) override {
    const Behaviour behaviour = behaviours[target.Key()];
    if (!behaviour.make_error.empty()) return Error::Environment(behaviour.make_error);
    ++counters.made;
    return std::shared_ptr<egress::Probe>(std::make_shared<FakeProbe>(
        io_, "TCP connect to " + target.HostPort() + " " + vantage.From(target.family()), behaviour,
        counters, target.family()));
  }

 private:
  boost::asio::io_context& io_;
};

}  // namespace dind::testing
