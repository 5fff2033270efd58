// SPDX-License-Identifier: Apache-2.0
// The server on real sockets. The io_context runs on a thread of its own, as the daemon's loop
// would; the test thread plays the clients with plain blocking sockets.
#include "daemon/http/health_server.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <future>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "daemon/http/health_routes.h"

namespace dind::http {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A connected client socket, closed on destruction.
class Client {
 public:
  explicit Client(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }

  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // One whole response (head plus Content-Length bytes of body unless `head_only`), or nullopt
  // when the server closed first or nothing complete came within `timeout`.
  std::optional<std::string> ReadResponse(std::chrono::milliseconds timeout = 3000ms,
                                          bool head_only = false) {
    const auto deadline = Clock::now() + timeout;
    while (true) {
      const std::size_t head_end = pending_.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        std::size_t length = 0;
        const std::size_t at = pending_.find("Content-Length: ");
        if (!head_only && at != std::string::npos && at < head_end) {
          length = std::stoul(pending_.substr(at + 16));
        }
        const std::size_t total = head_end + 4 + length;
        if (pending_.size() >= total) {
          std::string response = pending_.substr(0, total);
          pending_.erase(0, total);
          return response;
        }
      }
      if (!ReadSome(deadline)) return std::nullopt;
    }
  }

  // True when the server closes the connection (EOF or reset) within `timeout`; data the server
  // sends before closing is skipped.
  bool ClosedByServerWithin(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (!ReadSome(deadline)) return eof_;
    }
    return false;
  }

  // True when nothing arrived and the connection is still open right now.
  bool StillOpenAndQuiet() {
    pollfd descriptor{fd_, POLLIN, 0};
    return ::poll(&descriptor, 1, 0) == 0;
  }

 private:
  // Reads what is there; false on EOF, error or deadline.
  bool ReadSome(Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= 0ms) return false;
    pollfd descriptor{fd_, POLLIN, 0};
    if (::poll(&descriptor, 1, static_cast<int>(left.count())) <= 0) return false;
    char buffer[4096];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    pending_.append(buffer, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::string pending_;
};

std::string Get(std::string_view path, std::string_view extra_headers = "") {
  return "GET " + std::string(path) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
         std::string(extra_headers) + "\r\n";
}

std::string BodyOf(const std::string& response) {
  return response.substr(response.find("\r\n\r\n") + 4);
}

// The server on its own loop thread, stopped and joined at the end of the test.
class ServerTest : public ::testing::Test {
 protected:
  void Start(Limits limits = {}) {
    server_ = std::make_unique<HealthServer>(io_, MakeHealthRoutes(Callbacks()), limits);
    const Status listening = server_->Listen(*ParseListenAddress("127.0.0.1:0"));
    ASSERT_TRUE(listening.ok()) << listening.error().Message();
    port_ = server_->port();
    ASSERT_NE(port_, 0);
    loop_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    if (loop_.joinable()) {
      boost::asio::post(io_, [this] {
        server_.reset();
        work_.reset();
      });
      loop_.join();
    }
  }

  // Runs `f` on the loop thread and waits for its result.
  template <typename F>
  auto OnLoop(F f) {
    std::promise<decltype(f())> result;
    boost::asio::post(io_, [&] { result.set_value(f()); });
    return result.get_future().get();
  }

  ServerStats Stats() {
    return OnLoop([this] { return server_->stats(); });
  }

  HealthCallbacks Callbacks() {
    return HealthCallbacks{
        [this] {
          return ready_ ? Readiness{true, ""} : Readiness{false, "no docker bridge yet"};
        },
        [] { return std::string("dind_up 1\n"); },
        [this]() -> std::string {
          if (status_throws_) throw std::runtime_error("status failed");
          return R"({"ok":true})";
        },
    };
  }

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      boost::asio::make_work_guard(io_)};
  std::unique_ptr<HealthServer> server_;
  std::thread loop_;
  std::uint16_t port_ = 0;
  std::atomic<bool> ready_{true};
  std::atomic<bool> status_throws_{false};
};

TEST_F(ServerTest, AnswersEveryRouteWithItsStatusAndBody) {
  Start();
  const auto request = [&](std::string_view path) {
    Client client(port_);
    EXPECT_TRUE(client.Send(Get(path)));
    return client.ReadResponse().value_or("(no response)");
  };
  std::string healthz = request("/healthz");
  EXPECT_THAT(healthz, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_EQ(BodyOf(healthz), "ok\n");
  EXPECT_THAT(request("/readyz"), StartsWith("HTTP/1.1 200 "));
  ready_ = false;
  std::string not_ready = request("/readyz");
  EXPECT_THAT(not_ready, StartsWith("HTTP/1.1 503 Service Unavailable\r\n"));
  EXPECT_EQ(BodyOf(not_ready), "no docker bridge yet\n");
  std::string metrics = request("/metrics");
  EXPECT_THAT(metrics, HasSubstr("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
  EXPECT_EQ(BodyOf(metrics), "dind_up 1\n");
  std::string status = request("/status");
  EXPECT_THAT(status, HasSubstr("Content-Type: application/json\r\n"));
  EXPECT_EQ(BodyOf(status), "{\"ok\":true}\n");
  EXPECT_THAT(request("/nope"), StartsWith("HTTP/1.1 404 Not Found\r\n"));

  Client post(port_);
  ASSERT_TRUE(post.Send("POST /healthz HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"));
  std::string refused = post.ReadResponse().value_or("");
  EXPECT_THAT(refused, StartsWith("HTTP/1.1 405 Method Not Allowed\r\n"));
  EXPECT_THAT(refused, HasSubstr("Allow: GET, HEAD\r\n"));
  EXPECT_TRUE(post.ClosedByServerWithin(2000ms));
}

TEST_F(ServerTest, KeepsTheConnectionForSeveralRequestsAndPipelining) {
  Start();
  Client client(port_);
  ASSERT_TRUE(client.Send(Get("/healthz")));
  EXPECT_THAT(client.ReadResponse().value_or(""), StartsWith("HTTP/1.1 200 "));
  ASSERT_TRUE(client.Send(Get("/readyz")));
  EXPECT_EQ(BodyOf(client.ReadResponse().value_or("")), "ready\n");
  // Two requests in one segment.
  ASSERT_TRUE(client.Send(Get("/healthz") + Get("/metrics")));
  EXPECT_EQ(BodyOf(client.ReadResponse().value_or("")), "ok\n");
  EXPECT_EQ(BodyOf(client.ReadResponse().value_or("")), "dind_up 1\n");
  EXPECT_TRUE(client.StillOpenAndQuiet());
  EXPECT_EQ(Stats().accepted, 1u);
  EXPECT_EQ(Stats().requests, 4u);
}

TEST_F(ServerTest, HeadAnswersHeadersOnly) {
  Start();
  Client client(port_);
  ASSERT_TRUE(client.Send("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  const std::string head = client.ReadResponse(3000ms, /*head_only=*/true).value_or("");
  EXPECT_THAT(head, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(head, HasSubstr("Content-Length: 3\r\n"));
  // Had a body followed, this would read "ok\n" as the next response and fail.
  ASSERT_TRUE(client.Send(Get("/nope")));
  EXPECT_THAT(client.ReadResponse().value_or(""), StartsWith("HTTP/1.1 404 "));
}

TEST_F(ServerTest, AnOversizedHeaderGets431AndTheConnectionCloses) {
  Start();
  Client client(port_);
  ASSERT_TRUE(
      client.Send("GET /healthz HTTP/1.1\r\nX-Pad: " + std::string(16 * 1024, 'a') + "\r\n\r\n"));
  EXPECT_THAT(client.ReadResponse().value_or(""),
              StartsWith("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
  EXPECT_TRUE(client.ClosedByServerWithin(3000ms));
  // The server goes on.
  Client next(port_);
  ASSERT_TRUE(next.Send(Get("/healthz")));
  EXPECT_THAT(next.ReadResponse().value_or(""), StartsWith("HTTP/1.1 200 "));
}

TEST_F(ServerTest, AThrowingCallbackGets500AndTheServerGoesOn) {
  Start();
  status_throws_ = true;
  Client client(port_);
  ASSERT_TRUE(client.Send(Get("/status")));
  EXPECT_THAT(client.ReadResponse().value_or(""), StartsWith("HTTP/1.1 500 "));
  ASSERT_TRUE(client.Send(Get("/healthz")));
  EXPECT_THAT(client.ReadResponse().value_or(""), StartsWith("HTTP/1.1 200 "));
}

// Answers /healthz within `limit` on a fresh connection.
void ExpectHealthzWithin(std::uint16_t port, std::chrono::milliseconds limit) {
  const auto start = Clock::now();
  Client probe(port);
  ASSERT_TRUE(probe.connected());
  ASSERT_TRUE(probe.Send(Get("/healthz")));
  const auto response = probe.ReadResponse(limit);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  ASSERT_TRUE(response.has_value()) << "no answer within " << limit.count() << " ms";
  EXPECT_THAT(*response, StartsWith("HTTP/1.1 200 "));
  EXPECT_LT(took, limit);
}

TEST_F(ServerTest, ThreeHundredIdleConnectionsDoNotStopHealthz) {
  Limits limits;
  limits.request_timeout = 30s;  // none of them times out during the test
  Start(limits);
  std::vector<std::unique_ptr<Client>> idle;
  for (int i = 0; i < 300; ++i) {
    idle.push_back(std::make_unique<Client>(port_));
    ASSERT_TRUE(idle.back()->connected()) << i;
  }
  ExpectHealthzWithin(port_, 1000ms);
  // 300 idle + the probe against 256 slots: the 45 that waited longest made room.
  const ServerStats stats = Stats();
  EXPECT_EQ(stats.accepted, 301u);
  EXPECT_EQ(stats.evicted, 45u);
  EXPECT_LE(stats.open_connections, 256u);
  EXPECT_TRUE(idle.front()->ClosedByServerWithin(1000ms));
  EXPECT_TRUE(idle[44]->ClosedByServerWithin(1000ms));
  EXPECT_TRUE(idle[45]->StillOpenAndQuiet());
  EXPECT_TRUE(idle.back()->StillOpenAndQuiet());
  // Idle connections that are not evicted do not get in the way either.
  EXPECT_TRUE(idle.back()->Send(Get("/healthz")));
  EXPECT_THAT(idle.back()->ReadResponse().value_or(""), StartsWith("HTTP/1.1 200 "));
}

TEST_F(ServerTest, IdleConnectionsBelowTheLimitStayAndHealthzStillAnswers) {
  Limits limits;
  limits.request_timeout = 30s;
  limits.max_connections = 1000;
  Start(limits);
  std::vector<std::unique_ptr<Client>> idle;
  for (int i = 0; i < 300; ++i) idle.push_back(std::make_unique<Client>(port_));
  ExpectHealthzWithin(port_, 1000ms);
  EXPECT_EQ(Stats().evicted, 0u);
  EXPECT_TRUE(idle.front()->StillOpenAndQuiet());
}

TEST_F(ServerTest, AtTheLimitTheLongestIdleConnectionMakesRoom) {
  Limits limits;
  limits.max_connections = 2;
  limits.request_timeout = 30s;
  Start(limits);
  Client first(port_);
  Client second(port_);
  // `first` was used most recently, so `second` has waited longest.
  ASSERT_TRUE(first.Send(Get("/healthz")));
  ASSERT_TRUE(first.ReadResponse().has_value());
  Client third(port_);
  ASSERT_TRUE(third.Send(Get("/healthz")));
  EXPECT_THAT(third.ReadResponse().value_or(""), StartsWith("HTTP/1.1 200 "));
  EXPECT_TRUE(second.ClosedByServerWithin(1000ms));
  EXPECT_TRUE(first.StillOpenAndQuiet());
  EXPECT_EQ(Stats().evicted, 1u);
}

TEST_F(ServerTest, ASlowlorisClientIsCutOffByTheDeadline) {
  Limits limits;
  limits.request_timeout = 1000ms;
  Start(limits);
  Client slow(port_);
  const std::string request = Get("/healthz", "User-Agent: slowloris/1.0\r\nAccept: */*\r\n");
  const auto start = Clock::now();
  std::size_t sent = 0;
  bool cut_off = false;
  // One byte per 100 ms would take about 7 s for the whole request.
  while (sent < request.size()) {
    if (!slow.Send(request.substr(sent, 1))) {
      cut_off = true;
      break;
    }
    ++sent;
    if (slow.ClosedByServerWithin(100ms)) {
      cut_off = true;
      break;
    }
  }
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  EXPECT_TRUE(cut_off);
  EXPECT_LT(sent, request.size());
  EXPECT_GE(took, 900ms);
  EXPECT_LT(took, 2500ms);
  EXPECT_EQ(Stats().timed_out, 1u);
  ExpectHealthzWithin(port_, 1000ms);
}

TEST_F(ServerTest, AnIdleKeepAliveConnectionIsClosedAfterTheRequestTimeout) {
  Limits limits;
  limits.request_timeout = 500ms;
  Start(limits);
  Client client(port_);
  ASSERT_TRUE(client.Send(Get("/healthz")));
  ASSERT_TRUE(client.ReadResponse().has_value());
  const auto start = Clock::now();
  EXPECT_TRUE(client.ClosedByServerWithin(3000ms));
  EXPECT_GE(Clock::now() - start, 400ms);
}

TEST_F(ServerTest, StoppingClosesOpenConnections) {
  Start();
  Client client(port_);
  ASSERT_TRUE(client.Send(Get("/healthz")));
  ASSERT_TRUE(client.ReadResponse().has_value());
  OnLoop([this] {
    server_->Stop();
    return 0;
  });
  EXPECT_TRUE(client.ClosedByServerWithin(1000ms));
  EXPECT_FALSE(Client(port_).connected());
}

TEST(HealthServerListenTest, APortInUseIsAnErrorThatSaysWhatToDo) {
  boost::asio::io_context io;
  HealthServer first(io, MakeHealthRoutes({}));
  ASSERT_TRUE(first.Listen(*ParseListenAddress("127.0.0.1:0")).ok());
  HealthServer second(io, MakeHealthRoutes({}));
  const ListenAddress taken = *ParseListenAddress("127.0.0.1:" + std::to_string(first.port()));
  const Status status = second.Listen(taken);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().kind, ErrorKind::kEnvironment);
  const std::string message = status.error().Message();
  EXPECT_THAT(message, HasSubstr("listening on " + taken.ToString()));
  EXPECT_THAT(message, HasSubstr("Address already in use"));
  EXPECT_THAT(message, HasSubstr("--listen"));
  EXPECT_EQ(second.port(), 0);
}

TEST(HealthServerListenTest, AnAddressThatIsNotOnThisHostIsExplained) {
  boost::asio::io_context io;
  HealthServer server(io, MakeHealthRoutes({}));
  // TEST-NET-1 (RFC 5737) is never assigned to a local interface.
  const Status status = server.Listen(*ParseListenAddress("192.0.2.1:0"));
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.error().Message(), HasSubstr("not assigned to any interface"));
}

TEST(HealthServerListenTest, ListensOnIpv6Loopback) {
  boost::asio::io_context io;
  HealthServer server(io, MakeHealthRoutes({}));
  const Status status = server.Listen(*ParseListenAddress("[::1]:0"));
  if (!status.ok() && status.error().errnum == EADDRNOTAVAIL) GTEST_SKIP() << "no IPv6 loopback";
  ASSERT_TRUE(status.ok()) << status.error().Message();
  EXPECT_NE(server.port(), 0);
}

}  // namespace
}  // namespace dind::http
