// SPDX-License-Identifier: Apache-2.0
// The Docker API client against a real dockerd (Debian's 20.10), started in a network namespace
// by docker_api_e2e_test.sh, which also created the networks checked here. Not run on its own:
// the script passes the socket and the docker CLI in the environment.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>

#include "daemon/docker/docker_client.h"

namespace dind::docker {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;
using namespace std::chrono_literals;

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

class RealDockerdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.socket_path = Env("DIND_E2E_DOCKER_SOCKET");
    docker_cli_ = Env("DIND_E2E_DOCKER_CLI");
    ASSERT_FALSE(options_.socket_path.empty() || docker_cli_.empty())
        << "run through docker_api_e2e_test.sh, which starts dockerd and sets "
           "DIND_E2E_DOCKER_SOCKET and DIND_E2E_DOCKER_CLI";
  }

  template <typename Predicate>
  bool RunUntil(Predicate done, std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      if (io_.stopped()) io_.restart();
      io_.run_for(20ms);
    }
    return true;
  }

  std::string Docker(const std::string& arguments) const {
    return docker_cli_ + " -H unix://" + options_.socket_path + " " + arguments + " >/dev/null";
  }

  boost::asio::io_context io_;
  ClientOptions options_;
  std::string docker_cli_;
};

const DockerNetwork* Find(const std::vector<DockerNetwork>& networks, std::string_view name) {
  for (const auto& network : networks) {
    if (network.name == name) return &network;
  }
  return nullptr;
}

// dockerd 20.10 (Debian 12's) predates FirewallBackend: it always calls iptables.
TEST_F(RealDockerdTest, ReadsInfo) {
  DockerClient client(io_, options_);
  std::optional<Result<DockerInfo>> info;
  client.ReadInfo([&](auto answer) { info.emplace(std::move(answer)); });
  ASSERT_TRUE(RunUntil([&] { return info.has_value(); }, 10s));
  ASSERT_TRUE(info->ok()) << info->error().Message();
  EXPECT_FALSE((*info)->server_version.empty());
  if ((*info)->server_version.starts_with("20.10.")) {
    EXPECT_FALSE((*info)->firewall_driver);
  }
}

TEST_F(RealDockerdTest, ListsTheNetworksDockerdHas) {
  DockerClient client(io_, options_);
  std::optional<Result<std::vector<DockerNetwork>>> result;
  client.ListNetworks([&](auto networks) { result.emplace(std::move(networks)); });
  ASSERT_TRUE(RunUntil([&] { return result.has_value(); }, 10s));
  ASSERT_TRUE(result->ok()) << result->error().Message();
  const std::vector<DockerNetwork>& networks = **result;

  const DockerNetwork* bridge = Find(networks, "bridge");
  ASSERT_NE(bridge, nullptr);
  EXPECT_EQ(bridge->driver, "bridge");
  EXPECT_EQ(bridge->bridge_name, "docker0");
  EXPECT_EQ(bridge->mtu, 1400u);  // daemon.json "mtu" of the script
  ASSERT_EQ(bridge->subnets.size(), 1u);
  // dockerd 20.10 reports no gateway for the default bridge nor for subnets given on the
  // command line (the samples of the unit tests mirror this); allocated subnets have one.
  EXPECT_TRUE(bridge->gateways.empty());

  ASSERT_NE(Find(networks, "host"), nullptr);
  EXPECT_EQ(Find(networks, "host")->bridge_name, "");
  ASSERT_NE(Find(networks, "none"), nullptr);

  const DockerNetwork* dual = Find(networks, "e2e-dual");
  ASSERT_NE(dual, nullptr);
  EXPECT_EQ(dual->mtu, 1300u);
  EXPECT_TRUE(dual->enable_ipv6);
  EXPECT_THAT(dual->subnets, UnorderedElementsAre(*Cidr::Parse("fd00:dead:beef::/64"),
                                                  *Cidr::Parse("10.250.0.0/24")));
  EXPECT_TRUE(dual->gateways.empty());
  EXPECT_EQ(dual->bridge_name, "br-" + dual->id.substr(0, 12));

  const DockerNetwork* internal = Find(networks, "e2e-internal");
  ASSERT_NE(internal, nullptr);
  EXPECT_TRUE(internal->internal);
  ASSERT_EQ(internal->subnets.size(), 1u);
  ASSERT_EQ(internal->gateways.size(), 1u);
  EXPECT_TRUE(internal->subnets[0].Contains(internal->gateways[0]));
  EXPECT_EQ(internal->mtu, std::nullopt);
}

TEST_F(RealDockerdTest, TheWatcherSeesNetworksCreatedAndRemoved) {
  std::vector<std::string> seen;  // "action name"
  std::optional<std::thread> cli;
  int subscribed = 0;
  std::string last_error;
  NetworkEventWatcher watcher(
      io_, options_, WatchOptions{},
      WatchCallbacks{
          [&] {
            if (++subscribed > 1) return;
            // The CLI blocks; run it beside the loop, which keeps reading events.
            cli.emplace([this] {
              EXPECT_EQ(std::system(Docker("network create e2e-watched").c_str()), 0);
              EXPECT_EQ(std::system(Docker("network rm e2e-watched").c_str()), 0);
            });
          },
          [&](const NetworkEvent& event) {
            if (event.network_name == "e2e-watched") {
              seen.push_back(event.action_text + " " + event.network_name);
            }
          },
          [&](const Error& error, std::chrono::milliseconds) { last_error = error.Message(); }});
  watcher.Start();
  const bool done = RunUntil([&] { return seen.size() >= 2; }, 30s);
  if (cli) cli->join();
  ASSERT_TRUE(done) << "events seen: " << seen.size() << "; last error: " << last_error;
  EXPECT_THAT(seen, ElementsAre("create e2e-watched", "destroy e2e-watched"));
  EXPECT_EQ(subscribed, 1);
}

}  // namespace
}  // namespace dind::docker
