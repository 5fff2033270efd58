// SPDX-License-Identifier: Apache-2.0
// The Docker API client against FakeDockerd on one io_context, as in the daemon: answers,
// hangs, garbage, closed connections and event streams, with the deadlines that keep the loop
// free.
#include "daemon/docker/docker_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <optional>

#include "tests/daemon/docker/fake_dockerd.h"
#include "tests/daemon/docker/samples.h"

namespace dind::docker {
namespace {

using testing::Answer;
using testing::Chunk;
using ::testing::ElementsAre;
using testing::FakeDockerd;
using testing::HangAfterRequest;
using ::testing::HasSubstr;
using testing::HttpResponse;
using testing::Stream;
using testing::StreamHead;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Runs the loop until `done` or `limit`; false on the limit.
template <typename Predicate>
bool RunUntil(boost::asio::io_context& io, Predicate done, std::chrono::milliseconds limit = 5s) {
  const auto deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    if (io.stopped()) io.restart();
    io.run_for(10ms);
  }
  return true;
}

void RunFor(boost::asio::io_context& io, std::chrono::milliseconds duration) {
  RunUntil(
      io, [] { return false; }, duration);
}

class DockerClientTest : public ::testing::Test {
 protected:
  ClientOptions OptionsFor(const FakeDockerd& fake) {
    ClientOptions options;
    options.socket_path = fake.path();
    options.request_timeout = 2s;
    return options;
  }

  // ListNetworks to completion.
  Result<std::vector<DockerNetwork>> List(const ClientOptions& options) {
    DockerClient client(io_, options);
    std::optional<Result<std::vector<DockerNetwork>>> result;
    client.ListNetworks(
        [&](Result<std::vector<DockerNetwork>> networks) { result.emplace(std::move(networks)); });
    EXPECT_TRUE(RunUntil(
        io_, [&] { return result.has_value(); }, 10s))
        << "no answer at all";
    return result.value_or(Error::Environment("(no callback)"));
  }

  std::string ListError(const ClientOptions& options) {
    auto result = List(options);
    EXPECT_FALSE(result.ok());
    return result.ok() ? std::string() : result.error().Message();
  }

  boost::asio::io_context io_;
};

// The fake serves the list dockerd 28.5.2 gave (samples::Recorded).
TEST_F(DockerClientTest, ListsNetworksFromTheSocket) {
  const std::string body = samples::Recorded("28.5.2", "networks");
  FakeDockerd fake(io_, {Answer(HttpResponse(200, "OK", body))});
  auto networks = List(OptionsFor(fake));
  ASSERT_TRUE(networks.ok()) << networks.error().Message();
  ASSERT_EQ(networks->size(), 4u);
  EXPECT_EQ((*networks)[0].bridge_name, "docker0");
  EXPECT_EQ((*networks)[0].mtu, 1450u);
  EXPECT_THAT(fake.targets(), ElementsAre("/networks"));
}

// The fake serves the /info each recorded release gave and the written ones (samples.h).
TEST_F(DockerClientTest, ReadsInfoFromTheSocket) {
  std::vector<std::string> bodies = {std::string(samples::kInfo24), std::string(samples::kInfo27),
                                     std::string(samples::kInfo29Nftables)};
  for (std::string_view release : samples::kRecordedReleases) {
    bodies.push_back(samples::Recorded(release, "info"));
  }
  for (const std::string& body : bodies) {
    FakeDockerd fake(io_, {Answer(HttpResponse(200, "OK", std::string(body)))});
    DockerClient client(io_, OptionsFor(fake));
    std::optional<Result<DockerInfo>> info;
    client.ReadInfo([&](Result<DockerInfo> answer) { info.emplace(std::move(answer)); });
    ASSERT_TRUE(RunUntil(
        io_, [&] { return info.has_value(); }, 10s));
    ASSERT_TRUE(info->ok()) << info->error().Message();
    EXPECT_EQ((*info)->firewall_driver.has_value(), body.find("FirewallBackend") != body.npos);
    EXPECT_THAT(fake.targets(), ElementsAre("/info"));
    io_.restart();
  }
}

TEST_F(DockerClientTest, UsesThePinnedApiVersion) {
  FakeDockerd fake(io_, {Answer(HttpResponse(200, "OK", "[]"))});
  ClientOptions options = OptionsFor(fake);
  options.api_prefix = "/v1.41";
  ASSERT_TRUE(List(options).ok());
  EXPECT_THAT(fake.targets(), ElementsAre("/v1.41/networks"));
}

TEST_F(DockerClientTest, ReadsAChunkedAnswer) {
  const std::string body(samples::kNetworks);
  FakeDockerd fake(
      io_, {Stream({StreamHead(), Chunk(body.substr(0, 100)), Chunk(body.substr(100)), "0\r\n\r\n"},
                   5ms)});
  auto networks = List(OptionsFor(fake));
  ASSERT_TRUE(networks.ok()) << networks.error().Message();
  EXPECT_EQ(networks->size(), 5u);
}

TEST_F(DockerClientTest, AHangingDockerdTimesOutWithoutStallingTheLoop) {
  FakeDockerd fake(io_, {HangAfterRequest()});
  ClientOptions options = OptionsFor(fake);
  options.request_timeout = 300ms;
  // Other work on the same loop must keep running while dockerd hangs.
  int ticks = 0;
  boost::asio::steady_timer ticker(io_);
  std::function<void()> tick = [&] {
    ticker.expires_after(20ms);
    ticker.async_wait([&](boost::system::error_code error) {
      if (error) return;
      ++ticks;
      tick();
    });
  };
  tick();
  const auto start = Clock::now();
  const std::string message = ListError(options);
  const auto took = Clock::now() - start;
  ticker.cancel();
  EXPECT_THAT(message, HasSubstr("dockerd at " + fake.path() +
                                 " did not answer GET /networks within 300 ms"));
  EXPECT_THAT(message, HasSubstr("hung or overloaded"));
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 1500ms);
  EXPECT_GE(ticks, 8);  // 300 ms / 20 ms, with room for a loaded machine
  // The abandoned connection was closed, not leaked.
  RunFor(io_, 50ms);
  ASSERT_EQ(fake.held().size(), 1u);
  EXPECT_TRUE(fake.held().front()->PeerClosed());
}

TEST_F(DockerClientTest, ADockerdThatNeverAcceptsTimesOut) {
  FakeDockerd fake(io_, {HangAfterRequest()}, /*accept=*/false);
  ClientOptions options = OptionsFor(fake);
  options.request_timeout = 200ms;
  EXPECT_THAT(ListError(options), HasSubstr("did not answer GET /networks within 200 ms"));
}

TEST_F(DockerClientTest, AnAnswerThatIsNotHttpIsAnError) {
  FakeDockerd fake(io_, {Answer("SSH-2.0-OpenSSH_9.2p1\r\n\r\n")});
  const std::string message = ListError(OptionsFor(fake));
  EXPECT_THAT(message, HasSubstr("the answer of dockerd at " + fake.path() +
                                 " to GET /networks is not HTTP"));
  EXPECT_THAT(message, HasSubstr("--docker-socket"));
}

TEST_F(DockerClientTest, ABodyThatIsNotJsonIsAnError) {
  FakeDockerd fake(io_, {Answer(HttpResponse(200, "OK", "{oops"))});
  EXPECT_THAT(ListError(OptionsFor(fake)),
              HasSubstr("the network list from dockerd at " + fake.path() + " is not JSON"));
}

TEST_F(DockerClientTest, ClosingWithoutAnAnswerIsAnError) {
  FakeDockerd fake(io_, {[](std::shared_ptr<testing::FakeConnection> connection) {
                     connection->ReadRequest([connection](const auto&) { connection->Close(); });
                   }});
  EXPECT_THAT(ListError(OptionsFor(fake)),
              HasSubstr("dockerd at " + fake.path() +
                        " closed the connection before answering GET /networks"));
}

TEST_F(DockerClientTest, AnErrorStatusCarriesDockerdsMessage) {
  FakeDockerd fake(
      io_,
      {Answer(HttpResponse(
          400, "Bad Request",
          R"({"message":"client version 1.99 is too new. Maximum supported API version is 1.41"})"))});
  ClientOptions options = OptionsFor(fake);
  options.api_prefix = "/v1.99";
  EXPECT_THAT(ListError(options),
              HasSubstr("dockerd at " + fake.path() +
                        " answered 400 Bad Request to GET /v1.99/networks: client version 1.99 "
                        "is too new"));
}

TEST_F(DockerClientTest, AnOversizedAnswerIsAnError) {
  FakeDockerd fake(io_, {Answer(HttpResponse(200, "OK", "[" + std::string(4096, ' ') + "]"))});
  ClientOptions options = OptionsFor(fake);
  options.max_response_bytes = 1024;
  EXPECT_THAT(ListError(options), HasSubstr("is larger than 1024 bytes"));
}

TEST_F(DockerClientTest, AMissingSocketSaysWhatToCheck) {
  ClientOptions options;
  options.socket_path = "/nonexistent-dind-test/docker.sock";
  const std::string message = ListError(options);
  EXPECT_THAT(message, HasSubstr("connecting to dockerd at /nonexistent-dind-test/docker.sock"));
  EXPECT_THAT(message, HasSubstr("No such file or directory"));
  EXPECT_THAT(message, HasSubstr("--docker-socket"));
}

TEST_F(DockerClientTest, ASocketPathTooLongIsBadInput) {
  ClientOptions options;
  options.socket_path = "/tmp/" + std::string(200, 'x');
  auto result = List(options);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().kind, ErrorKind::kBadInput);
  EXPECT_THAT(result.error().Message(), HasSubstr("unix socket paths have at most 107"));
}

TEST_F(DockerClientTest, DestroyingTheClientCancelsRequestsWithoutCallingBack) {
  FakeDockerd fake(io_, {HangAfterRequest()});
  bool called = false;
  {
    DockerClient client(io_, OptionsFor(fake));
    client.ListNetworks([&](auto) { called = true; });
    ASSERT_TRUE(RunUntil(io_, [&] { return !fake.held().empty(); }));
  }
  RunFor(io_, 100ms);
  EXPECT_FALSE(called);
  EXPECT_TRUE(fake.held().front()->PeerClosed());
}

TEST_F(DockerClientTest, AThrowingCallbackDoesNotReachTheLoop) {
  FakeDockerd fake(io_, {Answer(HttpResponse(200, "OK", "[]"))});
  DockerClient client(io_, OptionsFor(fake));
  bool called = false;
  client.ListNetworks([&](auto) {
    called = true;
    throw std::runtime_error("callback bug");
  });
  EXPECT_NO_THROW(RunUntil(io_, [&] { return called; }));
  EXPECT_TRUE(called);
}

// --- NetworkEventWatcher ---------------------------------------------------------------------

struct Recorded {
  int subscribed = 0;
  std::vector<NetworkEvent> events;
  std::vector<std::string> errors;
  std::vector<std::chrono::milliseconds> retries;

  WatchCallbacks Callbacks() {
    return WatchCallbacks{
        [this] { ++subscribed; },
        [this](const NetworkEvent& event) { events.push_back(event); },
        [this](const Error& error, std::chrono::milliseconds retry_in) {
          errors.push_back(error.Message());
          retries.push_back(retry_in);
        },
    };
  }
  std::vector<std::string> Actions() const {
    std::vector<std::string> actions;
    for (const auto& event : events) actions.push_back(event.action_text);
    return actions;
  }
};

WatchOptions FastWatch() {
  WatchOptions watch;
  watch.initial_backoff = 50ms;
  watch.max_backoff = 200ms;
  return watch;
}

TEST_F(DockerClientTest, WatcherDeliversEventsSplitAcrossChunksAndResubscribes) {
  const std::string create(samples::kCreateEvent);
  const std::string connect(samples::kConnectEvent);
  // The first stream cuts an event in two chunks and puts the end of one and the start of the
  // next in the same chunk; then dockerd "restarts" (closes). The second stream stays open.
  FakeDockerd fake(io_,
                   {Stream({StreamHead(), Chunk(create.substr(0, 40)),
                            Chunk(create.substr(40) + "\n" + connect.substr(0, 10)),
                            Chunk(connect.substr(10) + "\n")},
                           30ms),
                    Stream({StreamHead(), Chunk(std::string(samples::kDestroyEvent) + "\n")}, 10ms,
                           /*hang_after=*/true)});
  Recorded recorded;
  NetworkEventWatcher watcher(io_, OptionsFor(fake), FastWatch(), recorded.Callbacks());
  watcher.Start();
  ASSERT_TRUE(RunUntil(io_, [&] { return recorded.events.size() == 3; }));
  EXPECT_THAT(recorded.Actions(), ElementsAre("create", "connect", "destroy"));
  EXPECT_EQ(recorded.events[0].network_name, "ci-net");
  EXPECT_EQ(recorded.subscribed, 2);
  ASSERT_EQ(recorded.errors.size(), 1u);
  EXPECT_THAT(recorded.errors[0], HasSubstr("dockerd at " + fake.path()));
  EXPECT_THAT(recorded.errors[0], HasSubstr("event stream"));
  EXPECT_EQ(recorded.retries[0], 50ms);
  const std::string target = EventsTarget("");
  EXPECT_THAT(fake.targets(), ElementsAre(target, target));
  const auto stats = watcher.stats();
  EXPECT_EQ(stats.attempts, 2u);
  EXPECT_EQ(stats.subscriptions, 2u);
  EXPECT_EQ(stats.events, 3u);
}

TEST_F(DockerClientTest, WatcherBacksOffWhileTheSocketIsMissing) {
  ClientOptions options;
  options.socket_path = "/nonexistent-dind-test/docker.sock";
  Recorded recorded;
  NetworkEventWatcher watcher(io_, options, FastWatch(), recorded.Callbacks());
  watcher.Start();
  ASSERT_TRUE(RunUntil(io_, [&] { return recorded.retries.size() >= 5; }));
  EXPECT_THAT(std::vector(recorded.retries.begin(), recorded.retries.begin() + 5),
              ElementsAre(50ms, 100ms, 200ms, 200ms, 200ms));
  EXPECT_THAT(recorded.errors[0], HasSubstr("No such file or directory"));
  EXPECT_EQ(recorded.subscribed, 0);
}

TEST_F(DockerClientTest, WatcherResubscribesAfterGarbage) {
  FakeDockerd fake(io_,
                   {Stream({StreamHead(), Chunk("this is not json\n")}, 10ms, true),
                    Stream({StreamHead(), Chunk(std::string(samples::kCreateEvent))}, 10ms, true)});
  Recorded recorded;
  NetworkEventWatcher watcher(io_, OptionsFor(fake), FastWatch(), recorded.Callbacks());
  watcher.Start();
  ASSERT_TRUE(RunUntil(io_, [&] { return recorded.events.size() == 1; }));
  ASSERT_EQ(recorded.errors.size(), 1u);
  EXPECT_THAT(recorded.errors[0], HasSubstr("dockerd at " + fake.path()));
  EXPECT_THAT(recorded.errors[0], HasSubstr("where a JSON object should start"));
  EXPECT_EQ(recorded.subscribed, 2);
}

TEST_F(DockerClientTest, WatcherTimesOutWhenDockerdDoesNotAnswer) {
  FakeDockerd fake(io_, {HangAfterRequest()});
  ClientOptions options = OptionsFor(fake);
  options.request_timeout = 200ms;
  Recorded recorded;
  NetworkEventWatcher watcher(io_, options, FastWatch(), recorded.Callbacks());
  watcher.Start();
  ASSERT_TRUE(RunUntil(io_, [&] { return recorded.errors.size() >= 2; }));
  EXPECT_THAT(recorded.errors[0], HasSubstr("did not answer GET /events"));
  EXPECT_THAT(recorded.errors[0], HasSubstr("within 200 ms"));
  EXPECT_EQ(recorded.subscribed, 0);
}

TEST_F(DockerClientTest, WatcherReportsAnErrorStatus) {
  FakeDockerd fake(io_, {Answer(HttpResponse(500, "Internal Server Error", R"({"message":"x"})"))});
  Recorded recorded;
  NetworkEventWatcher watcher(io_, OptionsFor(fake), FastWatch(), recorded.Callbacks());
  watcher.Start();
  ASSERT_TRUE(RunUntil(io_, [&] { return !recorded.errors.empty(); }));
  EXPECT_THAT(recorded.errors[0], HasSubstr("answered 500 Internal Server Error to GET /events"));
}

TEST_F(DockerClientTest, StoppingTheWatcherEndsAllCallbacks) {
  FakeDockerd fake(io_, {Stream({StreamHead(), Chunk(std::string(samples::kCreateEvent) + "\n" +
                                                     std::string(samples::kDestroyEvent) + "\n")},
                                10ms)});
  Recorded recorded;
  std::optional<NetworkEventWatcher> watcher;
  WatchCallbacks callbacks = recorded.Callbacks();
  auto record_event = callbacks.on_event;
  callbacks.on_event = [&](const NetworkEvent& event) {
    record_event(event);
    watcher->Stop();  // from inside the callback, with another event in the same chunk
  };
  watcher.emplace(io_, OptionsFor(fake), FastWatch(), callbacks);
  watcher->Start();
  ASSERT_TRUE(RunUntil(io_, [&] { return !recorded.events.empty(); }));
  RunFor(io_, 300ms);  // the stream closes and a retry would be due by now
  EXPECT_EQ(recorded.events.size(), 1u);
  EXPECT_TRUE(recorded.errors.empty());
  EXPECT_EQ(fake.connections(), 1);
}

}  // namespace
}  // namespace dind::docker
