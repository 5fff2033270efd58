// SPDX-License-Identifier: Apache-2.0
#include "daemon/http/health_server.h"

#include <algorithm>
#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <cerrno>
#include <chrono>
#include <list>
#include <optional>
#include <string>
#include <utility>

#include "common/log.h"
#include "daemon/asio/asio_support.h"

namespace dind::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace detail {
class Session;

struct ServerState : std::enable_shared_from_this<ServerState> {
  ServerState(asio::io_context& io_context, Handler request_handler, Limits request_limits)
      : io(io_context),
        handler(std::move(request_handler)),
        limits(request_limits),
        acceptor(io_context),
        accept_retry(io_context) {
    if (limits.max_connections == 0) limits.max_connections = 1;
  }

  void Accept();
  void OnAccept(const error_code& error, tcp::socket socket);
  // Closes the connection that has waited longest for its next request; false when every open
  // connection is busy sending.
  bool EvictLongestIdle();
  void WarnAtLimit();
  void Stop();

  asio::io_context& io;
  Handler handler;
  Limits limits;
  tcp::acceptor acceptor;
  asio::steady_timer accept_retry;
  bool stopped = false;
  bool accept_failing = false;
  std::chrono::steady_clock::time_point last_limit_warning{};
  // Open connections by last activity: the front has waited longest.
  std::list<Session*> sessions;
  ServerStats stats;
};

// One connection: read a request head, answer, repeat while keep-alive holds.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<ServerState> server)
      : stream_(std::move(socket)),
        buffer_(server->limits.max_header_bytes + kBufferSlack),
        server_(std::move(server)) {}

  void Start() {
    position_ = server_->sessions.insert(server_->sessions.end(), this);
    phase_ = Phase::kReading;
    ReadRequest();
  }

  ~Session() {
    // Only reached unclosed when the io_context dropped our handlers without running them.
    if (phase_ != Phase::kNew && phase_ != Phase::kClosed) server_->sessions.erase(position_);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  bool busy() const { return phase_ == Phase::kWriting; }

  // Idempotent. Pending operations finish with operation_aborted and find the session closed.
  void Close() {
    if (phase_ == Phase::kClosed) return;
    phase_ = Phase::kClosed;
    server_->sessions.erase(position_);
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

 private:
  enum class Phase { kNew, kReading, kWriting, kLingering, kClosed };
  // Room for the start of a pipelined request after a head of the maximum size.
  static constexpr std::size_t kBufferSlack = 1024;
  // After a response that closes the connection: how long and how much unread input is drained,
  // so the kernel does not reset the connection and destroy the response before it is read.
  static constexpr std::chrono::milliseconds kLingerTime{1000};
  static constexpr std::size_t kLingerBytes = 64 * 1024;

  void MarkActive() {
    server_->sessions.splice(server_->sessions.end(), server_->sessions, position_);
  }

  void ReadRequest() {
    phase_ = Phase::kReading;
    MarkActive();
    parser_.emplace();
    ConfigureParser(*parser_, server_->limits);
    stream_.expires_after(server_->limits.request_timeout);
    beast::http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](const error_code& error, std::size_t) { self->OnRead(error); });
  }

  void OnRead(const error_code& error) {
    if (phase_ == Phase::kClosed) return;
    if (server_->stopped) return Close();
    if (error) {
      if (error == beast::error::timeout) {
        ++server_->stats.timed_out;
        log::Debug("health endpoint: closed a connection that sent no complete request in time");
      }
      if (auto reply = ReplyToParseError(error)) return Send(*reply, 11);
      return Close();
    }
    const RequestHead head = HeadOf(*parser_);
    Send(Respond(head, server_->handler, server_->limits), head.version);
  }

  void Send(const Reply& reply, unsigned request_version) {
    phase_ = Phase::kWriting;
    keep_alive_ = reply.keep_alive;
    out_ = Serialize(reply, request_version);
    ++server_->stats.requests;
    stream_.expires_after(server_->limits.write_timeout);
    asio::async_write(stream_, asio::buffer(out_),
                      [self = shared_from_this()](const error_code& error, std::size_t) {
                        self->OnWrite(error);
                      });
  }

  void OnWrite(const error_code& error) {
    if (phase_ == Phase::kClosed) return;
    if (error) {
      if (error == beast::error::timeout) ++server_->stats.timed_out;
      return Close();
    }
    if (server_->stopped) return Close();
    if (keep_alive_) return ReadRequest();
    Linger();
  }

  void Linger() {
    phase_ = Phase::kLingering;
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(kLingerTime);
    DrainInput();
  }

  void DrainInput() {
    stream_.async_read_some(asio::buffer(discard_),
                            [self = shared_from_this()](const error_code& error, std::size_t n) {
                              if (self->phase_ == Phase::kClosed) return;
                              self->drained_ += n;
                              if (error || self->drained_ >= kLingerBytes) return self->Close();
                              self->DrainInput();
                            });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  std::string out_;
  std::array<char, 4096> discard_{};
  std::size_t drained_ = 0;
  bool keep_alive_ = false;
  Phase phase_ = Phase::kNew;
  std::shared_ptr<ServerState> server_;
  std::list<Session*>::iterator position_;
};

void ServerState::Accept() {
  acceptor.async_accept([self = shared_from_this()](const error_code& error, tcp::socket socket) {
    self->OnAccept(error, std::move(socket));
  });
}

void ServerState::OnAccept(const error_code& error, tcp::socket socket) {
  if (stopped || error == asio::error::operation_aborted) return;
  if (error) {
    // Out of descriptors or memory: retrying at once would spin the loop. Connections already
    // open keep being served and closing; try again shortly.
    const bool resource_shortage =
        error == asio::error::no_descriptors || error.value() == ENFILE ||
        error == asio::error::no_buffer_space || error == asio::error::no_memory;
    if (resource_shortage) {
      if (!accept_failing) {
        log::Warn("health endpoint: cannot accept connections; retrying every 100 ms",
                  {{"error", asio_support::ErrorFromBoost("accept", error).Message()}});
      }
      accept_failing = true;
      accept_retry.expires_after(std::chrono::milliseconds(100));
      accept_retry.async_wait([self = shared_from_this()](const error_code& wait_error) {
        if (!wait_error && !self->stopped) self->Accept();
      });
      return;
    }
    Accept();  // the client gave up during the handshake (ECONNABORTED and the like)
    return;
  }
  if (accept_failing) {
    log::Info("health endpoint: accepting connections again");
    accept_failing = false;
  }
  asio_support::SetCloseOnExec(socket.native_handle());
  ++stats.accepted;
  if (sessions.size() >= limits.max_connections) {
    WarnAtLimit();
    if (!EvictLongestIdle()) {
      ++stats.refused;
      error_code ignored;
      socket.close(ignored);
      Accept();
      return;
    }
  }
  std::make_shared<Session>(std::move(socket), shared_from_this())->Start();
  Accept();
}

bool ServerState::EvictLongestIdle() {
  for (Session* session : sessions) {
    if (session->busy()) continue;
    session->Close();  // removes it from `sessions`; the loop ends here
    ++stats.evicted;
    return true;
  }
  return false;
}

void ServerState::WarnAtLimit() {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_limit_warning < std::chrono::minutes(1)) return;
  last_limit_warning = now;
  log::Warn("health endpoint: connection limit reached; closing the longest-idle connections",
            {{"limit", std::to_string(limits.max_connections)},
             {"evicted_total", std::to_string(stats.evicted)}});
}

void ServerState::Stop() {
  if (stopped) return;
  stopped = true;
  error_code ignored;
  acceptor.close(ignored);
  accept_retry.cancel();
  while (!sessions.empty()) sessions.front()->Close();
}

}  // namespace detail

namespace {

asio::ip::address ToAsio(const IpAddress& address) {
  if (address.is_v4()) {
    asio::ip::address_v4::bytes_type bytes{};
    std::copy_n(address.bytes().begin(), bytes.size(), bytes.begin());
    return asio::ip::address_v4(bytes);
  }
  asio::ip::address_v6::bytes_type bytes{};
  std::copy_n(address.bytes().begin(), bytes.size(), bytes.begin());
  return asio::ip::address_v6(bytes);
}

std::string BindHint(const error_code& error) {
  if (error == asio::error::address_in_use) {
    return "another process listens on this port (see `ss -ltnp`); stop it or choose another "
           "port with --listen";
  }
  if (error.value() == EADDRNOTAVAIL) {
    return "the address is not assigned to any interface of this pod; use 0.0.0.0 or one of "
           "the pod's addresses in --listen";
  }
  if (error == asio::error::access_denied) {
    return "ports below 1024 need CAP_NET_BIND_SERVICE; choose a higher port with --listen";
  }
  return "check the address given with --listen";
}

}  // namespace

HealthServer::HealthServer(asio::io_context& io, Handler handler, Limits limits)
    : state_(std::make_shared<detail::ServerState>(io, std::move(handler), limits)) {}

HealthServer::~HealthServer() {
  Stop();
}

Status HealthServer::Listen(const ListenAddress& address) {
  const std::string what = "health endpoint: listening on " + address.ToString();
  if (state_->acceptor.is_open()) return Error::Usage(what + ": the server listens already");
  if (state_->stopped) return Error::Usage(what + ": the server was stopped");
  const tcp::endpoint endpoint(ToAsio(address.address), address.port);
  tcp::acceptor& acceptor = state_->acceptor;
  error_code error;
  acceptor.open(endpoint.protocol(), error);
  if (error) return asio_support::ErrorFromBoost(what + ": opening a socket", error);
  asio_support::SetCloseOnExec(acceptor.native_handle());
  // A restarted daemon can bind again while connections of its predecessor are in TIME_WAIT.
  acceptor.set_option(tcp::acceptor::reuse_address(true), error);
  if (!error) acceptor.bind(endpoint, error);
  if (!error) acceptor.listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    error_code ignored;
    acceptor.close(ignored);
    return asio_support::ErrorFromBoost(what, error, BindHint(error));
  }
  state_->Accept();
  log::Info("health endpoint listening",
            {{"address", ListenAddress{address.address, port()}.ToString()}});
  return OkStatus();
}

std::uint16_t HealthServer::port() const {
  error_code error;
  const auto endpoint = state_->acceptor.local_endpoint(error);
  return error ? 0 : endpoint.port();
}

void HealthServer::Stop() {
  state_->Stop();
}

ServerStats HealthServer::stats() const {
  ServerStats stats = state_->stats;
  stats.open_connections = state_->sessions.size();
  return stats;
}

}  // namespace dind::http
