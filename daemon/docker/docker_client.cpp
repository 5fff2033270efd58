// SPDX-License-Identifier: Apache-2.0
#include "daemon/docker/docker_client.h"

#include <sys/un.h>

#include <algorithm>
#include <array>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cerrno>
#include <exception>
#include <limits>
#include <list>
#include <optional>
#include <utility>

#include "common/check.h"
#include "common/log.h"
#include "daemon/asio/asio_support.h"

namespace dind::docker {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace beast_http = boost::beast::http;
using Socket = asio::local::stream_protocol::socket;
using Endpoint = asio::local::stream_protocol::endpoint;
using boost::system::error_code;

namespace {

constexpr std::string_view kNotDockerHint =
    "check that --docker-socket points at dockerd's API socket";

std::string Where(const ClientOptions& options) {
  return "dockerd at " + options.socket_path;
}

Result<Endpoint> EndpointFor(const std::string& path) {
  if (path.empty()) return Error::BadInput("--docker-socket is empty", "pass the socket's path");
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return Error::BadInput("--docker-socket \"" + path + "\" is " + std::to_string(path.size()) +
                               " bytes long; unix socket paths have at most " +
                               std::to_string(sizeof(sockaddr_un::sun_path) - 1),
                           "use a shorter path, e.g. a symlink to the socket");
  }
  try {
    return Endpoint(path);
  } catch (const std::exception& error) {
    return Error::BadInput("--docker-socket \"" + path + "\": " + error.what());
  }
}

Error ConnectError(const ClientOptions& options, const error_code& error) {
  std::string hint;
  if (error.value() == ENOENT) {
    hint =
        "dockerd is not running or its socket is not mounted here; start it or pass the "
        "socket's path with --docker-socket";
  } else if (error.value() == ECONNREFUSED) {
    hint = "nothing listens on the socket: dockerd is starting, restarting or gone";
  } else if (error.value() == EACCES || error.value() == EPERM) {
    hint = "no permission on the socket: run as root or as a member of the socket's group";
  } else {
    hint = std::string(kNotDockerHint);
  }
  return asio_support::ErrorFromBoost("connecting to " + Where(options), error, hint);
}

Error TimeoutError(const ClientOptions& options, const std::string& target) {
  return Error::Environment(Where(options) + " did not answer GET " + target + " within " +
                                std::to_string(options.request_timeout.count()) + " ms",
                            "dockerd is hung or overloaded; the request was abandoned and is "
                            "tried again later");
}

// Why reading an answer failed, for errors other than the deadline.
Error ReadError(const ClientOptions& options, const std::string& target, const error_code& error) {
  const bool closed = error == beast_http::error::end_of_stream ||
                      error == beast_http::error::partial_message || error == asio::error::eof ||
                      error == asio::error::connection_reset;
  if (closed) {
    return Error::Environment(
        Where(options) + " closed the connection before answering GET " + target,
        "dockerd may be restarting; the request is tried again later");
  }
  if (error == beast_http::error::body_limit) {
    return Error::Environment("the answer of " + Where(options) + " to GET " + target +
                              " is larger than " + std::to_string(options.max_response_bytes) +
                              " bytes");
  }
  if (error.category() == beast_http::make_error_code(beast_http::error::bad_method).category()) {
    return Error::Environment("the answer of " + Where(options) + " to GET " + target +
                                  " is not HTTP: " + error.message(),
                              std::string(kNotDockerHint));
  }
  return asio_support::ErrorFromBoost(
      "reading the answer to GET " + target + " from " + Where(options), error);
}

// Callbacks are the caller's code; whatever they throw stops here, not in the loop.
template <typename Callback, typename... Args>
void InvokeGuarded(const Callback& callback, std::string_view what, Args&&... args) {
  if (!callback) return;
  try {
    callback(std::forward<Args>(args)...);
  } catch (const std::exception& error) {
    log::Error("docker client: a callback failed",
               {{"callback", std::string(what)}, {"error", error.what()}});
  } catch (...) {
    log::Error("docker client: a callback failed", {{"callback", std::string(what)}});
  }
}

}  // namespace

namespace detail {

class RequestOp;

struct ClientState {
  ClientState(asio::io_context& io_context, ClientOptions client_options)
      : io(io_context), options(std::move(client_options)) {}
  asio::io_context& io;
  ClientOptions options;
  std::list<RequestOp*> requests;  // in flight
};

// One GET on a connection of its own, under one deadline.
class RequestOp : public std::enable_shared_from_this<RequestOp> {
 public:
  RequestOp(std::shared_ptr<ClientState> client, std::string target,
            DockerClient::BodyCallback done)
      : client_(std::move(client)),
        target_(std::move(target)),
        socket_(client_->io),
        deadline_(client_->io),
        done_(std::move(done)) {
    parser_.body_limit(client_->options.max_response_bytes);
  }

  void Start() {
    position_ = client_->requests.insert(client_->requests.end(), this);
    registered_ = true;
    auto endpoint = EndpointFor(client_->options.socket_path);
    if (!endpoint) {
      // Never call back from inside Get: the caller may not expect re-entry.
      asio::post(client_->io,
                 [self = shared_from_this(), error = endpoint.error()] { self->Finish(error); });
      return;
    }
    deadline_.expires_after(client_->options.request_timeout);
    deadline_.async_wait([self = shared_from_this()](const error_code& error) {
      if (error || self->finished_) return;
      self->timed_out_ = true;
      error_code ignored;
      self->socket_.close(ignored);  // the pending operation ends with operation_aborted
    });
    error_code error;
    socket_.open(asio::local::stream_protocol(), error);
    if (error) {
      asio::post(client_->io, [self = shared_from_this(), error] {
        self->Finish(asio_support::ErrorFromBoost("opening a unix socket", error));
      });
      return;
    }
    asio_support::SetCloseOnExec(socket_.native_handle());
    socket_.async_connect(*endpoint, [self = shared_from_this()](const error_code& connect_error) {
      self->OnConnect(connect_error);
    });
  }

  // The client is going away: stop without calling back.
  void Abort() {
    done_ = nullptr;
    Finish(Error::Environment("aborted"));
  }

 private:
  void OnConnect(const error_code& error) {
    if (finished_) return;
    if (timed_out_) return Finish(TimeoutError(client_->options, target_));
    if (error) return Finish(ConnectError(client_->options, error));
    request_ = BuildGetRequest(target_);
    asio::async_write(socket_, asio::buffer(request_),
                      [self = shared_from_this()](const error_code& write_error, std::size_t) {
                        self->OnWrite(write_error);
                      });
  }

  void OnWrite(const error_code& error) {
    if (finished_) return;
    if (timed_out_) return Finish(TimeoutError(client_->options, target_));
    if (error) return Finish(ReadError(client_->options, target_, error));
    beast_http::async_read_header(
        socket_, buffer_, parser_,
        [self = shared_from_this()](const error_code& read_error, std::size_t) {
          self->OnHeader(read_error);
        });
  }

  // The size limit is checked here and while reading the body, not left to the parser: Beast
  // 1.74 loses its body_limit error when the body arrives in the same read as the head.
  void OnHeader(const error_code& error) {
    if (finished_) return;
    if (timed_out_) return Finish(TimeoutError(client_->options, target_));
    if (error) return Finish(ReadError(client_->options, target_, error));
    const auto length = parser_.content_length();
    if (length && *length > client_->options.max_response_bytes) return Finish(TooLarge());
    ReadBody();
  }

  void ReadBody() {
    if (parser_.is_done()) return OnComplete();
    beast_http::async_read_some(
        socket_, buffer_, parser_,
        [self = shared_from_this()](const error_code& read_error, std::size_t) {
          if (self->finished_) return;
          if (self->timed_out_)
            return self->Finish(TimeoutError(self->client_->options, self->target_));
          if (read_error)
            return self->Finish(ReadError(self->client_->options, self->target_, read_error));
          if (self->parser_.get().body().size() > self->client_->options.max_response_bytes) {
            return self->Finish(self->TooLarge());
          }
          self->ReadBody();
        });
  }

  Error TooLarge() const {
    return ReadError(client_->options, target_, beast_http::error::body_limit);
  }

  void OnComplete() {
    auto& response = parser_.get();
    if (response.result_int() != 200) {
      const auto reason = response.reason();
      return Finish(Error::Environment(Where(client_->options) + " answered " +
                                       std::to_string(response.result_int()) + " " +
                                       std::string(reason.data(), reason.size()) + " to GET " +
                                       target_ + ": " + ErrorMessageOf(response.body())));
    }
    Finish(std::move(response.body()));
  }

  void Finish(Result<std::string> result) {
    if (finished_) return;
    finished_ = true;
    error_code ignored;
    deadline_.cancel();
    socket_.close(ignored);
    if (registered_) client_->requests.erase(position_);
    registered_ = false;
    auto done = std::move(done_);
    done_ = nullptr;
    InvokeGuarded(done, "GET " + target_, std::move(result));
  }

  std::shared_ptr<ClientState> client_;
  std::string target_;
  std::string request_;
  Socket socket_;
  asio::steady_timer deadline_;
  beast::flat_buffer buffer_;
  beast_http::response_parser<beast_http::string_body> parser_;
  DockerClient::BodyCallback done_;
  bool timed_out_ = false;
  bool finished_ = false;
  bool registered_ = false;
  std::list<RequestOp*>::iterator position_;
};

}  // namespace detail

DockerClient::DockerClient(asio::io_context& io, ClientOptions options)
    : state_(std::make_shared<detail::ClientState>(io, std::move(options))) {}

DockerClient::~DockerClient() {
  while (!state_->requests.empty()) state_->requests.front()->Abort();
}

const ClientOptions& DockerClient::options() const {
  return state_->options;
}

void DockerClient::Get(std::string target, BodyCallback done) {
  std::make_shared<detail::RequestOp>(state_, std::move(target), std::move(done))->Start();
}

void DockerClient::ListNetworks(NetworksCallback done) {
  Get(NetworksTarget(state_->options.api_prefix),
      [source = Where(state_->options), done = std::move(done)](Result<std::string> body) {
        if (!body.ok()) return InvokeGuarded(done, "ListNetworks", body.error());
        InvokeGuarded(done, "ListNetworks", ParseNetworks(*body, source));
      });
}

void DockerClient::ReadInfo(InfoCallback done) {
  Get(InfoTarget(state_->options.api_prefix),
      [source = Where(state_->options), done = std::move(done)](Result<std::string> body) {
        if (!body.ok()) return InvokeGuarded(done, "ReadInfo", body.error());
        InvokeGuarded(done, "ReadInfo", ParseInfo(*body, source));
      });
}

Result<std::vector<DockerNetwork>> ListNetworksNow(ClientOptions options) {
  asio::io_context io;
  DockerClient client(io, std::move(options));
  std::optional<Result<std::vector<DockerNetwork>>> answer;
  client.ListNetworks([&answer](Result<std::vector<DockerNetwork>> networks) {
    answer.emplace(std::move(networks));
  });
  io.run();  // ends with the request: it always completes, at the latest at its deadline
  DIND_CHECK(answer.has_value(), "ListNetworks returned without calling back");
  return std::move(*answer);
}

// --- NetworkEventWatcher ---------------------------------------------------------------------

namespace detail {

struct WatcherState : std::enable_shared_from_this<WatcherState> {
  WatcherState(asio::io_context& io_context, ClientOptions client_options,
               WatchOptions watch_options, WatchCallbacks watch_callbacks)
      : io(io_context),
        options(std::move(client_options)),
        watch(watch_options),
        callbacks(std::move(watch_callbacks)),
        socket(io_context),
        deadline(io_context),
        retry(io_context),
        splitter(watch_options.max_event_bytes),
        target(EventsTarget(options.api_prefix)),
        next_backoff(watch_options.initial_backoff) {}

  // True while the handler of connection `id` may act: a closed or replaced connection's
  // handlers still run once, with operation_aborted, and must do nothing.
  bool Current(std::uint64_t id) const { return running && id == connection; }

  void Connect() {
    const std::uint64_t id = ++connection;
    ++stats.attempts;
    timed_out = false;
    subscribed = false;
    buffer.clear();
    parser.emplace();
    parser->body_limit(std::numeric_limits<std::uint64_t>::max());  // the stream never ends
    auto endpoint = EndpointFor(options.socket_path);
    if (!endpoint) {
      asio::post(io, [self = shared_from_this(), id, error = endpoint.error()] {
        if (self->Current(id)) self->Fail(error);
      });
      return;
    }
    deadline.expires_after(options.request_timeout);
    deadline.async_wait([self = shared_from_this(), id](const error_code& error) {
      if (error || !self->Current(id) || self->subscribed) return;
      self->timed_out = true;
      error_code ignored;
      self->socket.close(ignored);
    });
    error_code error;
    socket.open(asio::local::stream_protocol(), error);
    if (error) {
      asio::post(io, [self = shared_from_this(), id, error] {
        if (self->Current(id))
          self->Fail(asio_support::ErrorFromBoost("opening a unix socket", error));
      });
      return;
    }
    asio_support::SetCloseOnExec(socket.native_handle());
    socket.async_connect(
        *endpoint, [self = shared_from_this(), id](const error_code& connect_error) {
          if (!self->Current(id)) return;
          if (self->timed_out) return self->Fail(TimeoutError(self->options, self->target));
          if (connect_error) return self->Fail(ConnectError(self->options, connect_error));
          self->request = BuildGetRequest(self->target);
          asio::async_write(self->socket, asio::buffer(self->request),
                            [self, id](const error_code& write_error, std::size_t) {
                              self->OnWritten(id, write_error);
                            });
        });
  }

  void OnWritten(std::uint64_t id, const error_code& error) {
    if (!Current(id)) return;
    if (timed_out) return Fail(TimeoutError(options, target));
    if (error) return Fail(ReadError(options, target, error));
    beast_http::async_read_header(
        socket, buffer, *parser,
        [self = shared_from_this(), id](const error_code& read_error, std::size_t) {
          self->OnHeader(id, read_error);
        });
  }

  void OnHeader(std::uint64_t id, const error_code& error) {
    if (!Current(id)) return;
    if (timed_out) return Fail(TimeoutError(options, target));
    if (error) return Fail(ReadError(options, target, error));
    const auto& response = parser->get();
    if (response.result_int() != 200) {
      const auto reason = response.reason();
      return Fail(Error::Environment(
          Where(options) + " answered " + std::to_string(response.result_int()) + " " +
          std::string(reason.data(), reason.size()) + " to GET " + target));
    }
    // Subscribed: from here on, silence is normal (no network changes), so no deadline.
    deadline.cancel();
    subscribed = true;
    subscribed_at = std::chrono::steady_clock::now();
    ++stats.subscriptions;
    splitter.Reset();
    InvokeGuarded(callbacks.on_subscribed, "on_subscribed");
    if (Current(id)) ReadBody(id);
  }

  void ReadBody(std::uint64_t id) {
    parser->get().body().data = chunk.data();
    parser->get().body().size = chunk.size();
    beast_http::async_read_some(
        socket, buffer, *parser,
        [self = shared_from_this(), id](error_code read_error, std::size_t) {
          if (read_error == beast_http::error::need_buffer) read_error = {};
          self->OnBody(id, read_error);
        });
  }

  void OnBody(std::uint64_t id, const error_code& error) {
    if (!Current(id)) return;
    const std::size_t received = chunk.size() - parser->get().body().size;
    auto objects = splitter.Feed(std::string_view(chunk.data(), received));
    if (!objects) return Fail(objects.error().Wrap(Where(options)));
    for (const std::string& object : *objects) {
      auto event = ParseEvent(object, Where(options));
      if (!event) return Fail(event.error());
      if (!event->has_value()) continue;
      ++stats.events;
      InvokeGuarded(callbacks.on_event, "on_event", **event);
      if (!Current(id)) return;  // stopped from inside the callback
    }
    if (error) {
      const bool closed = error == beast_http::error::end_of_stream ||
                          error == beast_http::error::partial_message ||
                          error == asio::error::eof || error == asio::error::connection_reset;
      if (closed) {
        return Fail(Error::Environment(Where(options) + " closed the event stream",
                                       "dockerd restarted or stopped; subscribing again"));
      }
      return Fail(ReadError(options, target, error));
    }
    if (parser->is_done()) {
      return Fail(
          Error::Environment(Where(options) + " ended the event stream", "subscribing again"));
    }
    ReadBody(id);
  }

  // Ends the current connection and schedules the next attempt.
  void Fail(const Error& error) {
    const std::uint64_t id = ++connection;  // the old connection's handlers become stale
    error_code ignored;
    socket.close(ignored);
    deadline.cancel();
    const auto now = std::chrono::steady_clock::now();
    if (subscribed && now - subscribed_at >= watch.stable_after) {
      next_backoff = watch.initial_backoff;
    }
    subscribed = false;
    const std::chrono::milliseconds delay = next_backoff;
    next_backoff = std::min(next_backoff * 2, watch.max_backoff);
    retry.expires_after(delay);
    retry.async_wait([self = shared_from_this(), id](const error_code& wait_error) {
      if (!wait_error && self->Current(id)) self->Connect();
    });
    InvokeGuarded(callbacks.on_disconnected, "on_disconnected", error, delay);
  }

  void Stop() {
    running = false;
    ++connection;
    error_code ignored;
    socket.close(ignored);
    deadline.cancel();
    retry.cancel();
  }

  asio::io_context& io;
  ClientOptions options;
  WatchOptions watch;
  WatchCallbacks callbacks;
  Socket socket;
  asio::steady_timer deadline;
  asio::steady_timer retry;
  beast::flat_buffer buffer;
  std::optional<beast_http::response_parser<beast_http::buffer_body>> parser;
  std::array<char, 16 * 1024> chunk{};
  JsonObjectSplitter splitter;
  std::string target;
  std::string request;
  bool running = false;
  bool subscribed = false;
  bool timed_out = false;
  std::uint64_t connection = 0;
  std::chrono::milliseconds next_backoff;
  std::chrono::steady_clock::time_point subscribed_at{};
  NetworkEventWatcher::Stats stats;
};

}  // namespace detail

NetworkEventWatcher::NetworkEventWatcher(asio::io_context& io, ClientOptions options,
                                         WatchOptions watch, WatchCallbacks callbacks)
    : state_(std::make_shared<detail::WatcherState>(io, std::move(options), watch,
                                                    std::move(callbacks))) {}

NetworkEventWatcher::~NetworkEventWatcher() {
  Stop();
}

void NetworkEventWatcher::Start() {
  if (state_->running) return;
  state_->running = true;
  state_->next_backoff = state_->watch.initial_backoff;
  state_->Connect();
}

void NetworkEventWatcher::Stop() {
  state_->Stop();
}

NetworkEventWatcher::Stats NetworkEventWatcher::stats() const {
  return state_->stats;
}

}  // namespace dind::docker
