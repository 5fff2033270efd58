// SPDX-License-Identifier: Apache-2.0
// The sidecar's ports as fakes: a change feed the test makes readable by writing to a pipe, and
// a dockerd whose API the test subscribes, disconnects and answers at will. Both are driven on
// the test's io_context, as the real ones are.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <string>
#include <vector>

#include "common/scoped_fd.h"
#include "daemon/sidecar/sidecar_ports.h"

namespace dind::testing {

class FakeChangeFeed final : public sidecar::ChangeFeed {
 public:
  FakeChangeFeed() {
    int ends[2] = {-1, -1};
    if (::pipe2(ends, O_NONBLOCK | O_CLOEXEC) == 0) {
      read_end_ = ScopedFd(ends[0]);
      write_end_ = ScopedFd(ends[1]);
    }
  }
  // What the next drains answer: whether the notifications touched what the reader watches,
  // or (non-empty) the error reading them fails with.
  bool relevant = true;
  std::string fail_with;
  int drains = 0;

  // One notification arrives.
  void Notify() { (void)!::write(write_end_.get(), "n", 1); }

  int fd() const override { return read_end_.get(); }
  Result<bool> Drain() override {
    ++drains;
    char buffer[64];
    while (::read(read_end_.get(), buffer, sizeof buffer) > 0) {
    }
    if (!fail_with.empty()) return Error::Environment(fail_with, ENOBUFS);
    return relevant;
  }

 private:
  ScopedFd read_end_;
  ScopedFd write_end_;
};

class FakeDockerFeed final : public sidecar::DockerFeed {
 public:
  explicit FakeDockerFeed(boost::asio::io_context& io) : io_(io) {}
  // What GET /networks answers; an error string makes it fail.
  std::vector<docker::DockerNetwork> networks;
  std::string list_error;
  int lists = 0;
  // What GET /info answers (dockerd 20.10's: no FirewallBackend); an error string makes it fail.
  docker::DockerInfo info{.server_version = "20.10.24", .ipv4_forwarding = true};
  std::string info_error;
  int info_reads = 0;
  bool watching = false;
  bool stopped = false;

  // dockerd's side of the event stream.
  void Subscribe() { callbacks_.on_subscribed(); }
  void Event(docker::NetworkAction action) {
    docker::NetworkEvent event;
    event.action = action;
    callbacks_.on_event(event);
  }
  void Disconnect(const std::string& why) {
    callbacks_.on_disconnected(Error::Environment(why), std::chrono::milliseconds(500));
  }

  std::string socket() const override { return "/run/fake-docker.sock"; }
  void ListNetworks(NetworksCallback done) override {
    ++lists;
    // Answered later, from the loop, as the real client answers.
    boost::asio::post(io_, [this, done = std::move(done)] {
      if (stopped) return;
      if (!list_error.empty()) return done(Error::Environment(list_error));
      done(networks);
    });
  }
  void ReadInfo(InfoCallback done) override {
    ++info_reads;
    boost::asio::post(io_, [this, done = std::move(done)] {
      if (stopped) return;
      if (!info_error.empty()) return done(Error::Environment(info_error));
      done(info);
    });
  }
  void Watch(docker::WatchCallbacks callbacks) override {
    watching = true;
    callbacks_ = std::move(callbacks);
  }
  void Stop() override { stopped = true; }

 private:
  boost::asio::io_context& io_;
  docker::WatchCallbacks callbacks_;
};

}  // namespace dind::testing
