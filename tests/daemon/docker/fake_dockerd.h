// SPDX-License-Identifier: Apache-2.0
// A scripted stand-in for dockerd's API: a Beast-parsed HTTP server on a unix socket in a temp
// dir, on the test's io_context. Each accepted connection runs the next script (the last one
// repeats), so a test can make dockerd answer, hang, talk garbage, close, or stream events.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace dind::docker::testing {

namespace asio = boost::asio;
namespace beast_http = boost::beast::http;
using local = asio::local::stream_protocol;

class FakeConnection : public std::enable_shared_from_this<FakeConnection> {
 public:
  using Request = beast_http::request<beast_http::string_body>;

  FakeConnection(local::socket socket, std::vector<std::shared_ptr<FakeConnection>>& held,
                 std::vector<std::string>& targets)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        held_(held),
        targets_(targets) {}

  // Reads one request, records its target, then runs `then`.
  void ReadRequest(std::function<void(const Request&)> then) {
    beast_http::async_read(
        socket_, buffer_, request_,
        [self = shared_from_this(), then](boost::system::error_code error, std::size_t) {
          if (error) return;
          self->targets_.emplace_back(self->request_.target());
          then(self->request_);
        });
  }

  // Writes `bytes` after `delay`, then runs `then`.
  void Write(std::string bytes, std::function<void()> then = {},
             std::chrono::milliseconds delay = std::chrono::milliseconds(0)) {
    auto text = std::make_shared<std::string>(std::move(bytes));
    timer_.expires_after(delay);
    timer_.async_wait([self = shared_from_this(), text, then](boost::system::error_code error) {
      if (error) return;
      asio::async_write(self->socket_, asio::buffer(*text),
                        [self, text, then](boost::system::error_code write_error, std::size_t) {
                          if (!write_error && then) then();
                        });
    });
  }

  void Close() {
    boost::system::error_code ignored;
    socket_.shutdown(local::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  // Does nothing more, keeping the connection open until the fake is destroyed.
  void Hang() { held_.push_back(shared_from_this()); }

  // True when the peer closed its end (read returns EOF), checked without blocking.
  bool PeerClosed() {
    socket_.non_blocking(true);
    char byte = 0;
    boost::system::error_code error;
    socket_.read_some(asio::buffer(&byte, 1), error);
    return error == asio::error::eof || error == asio::error::connection_reset;
  }

 private:
  local::socket socket_;
  asio::steady_timer timer_;
  boost::beast::flat_buffer buffer_;
  Request request_;
  std::vector<std::shared_ptr<FakeConnection>>& held_;
  std::vector<std::string>& targets_;
};

using Script = std::function<void(std::shared_ptr<FakeConnection>)>;

class FakeDockerd {
 public:
  // `accept` false: listen but never accept, like a dockerd stuck before its accept loop.
  FakeDockerd(asio::io_context& io, std::vector<Script> scripts, bool accept = true)
      : acceptor_(io), scripts_(std::move(scripts)) {
    char pattern[] = "/tmp/fake-dockerd-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) ADD_FAILURE() << "mkdtemp";
    directory_ = pattern;
    path_ = directory_ + "/docker.sock";
    const local::endpoint endpoint(path_);
    acceptor_.open(endpoint.protocol());
    acceptor_.bind(endpoint);
    acceptor_.listen();
    if (accept) Accept();
  }
  ~FakeDockerd() {
    for (auto& connection : held_) connection->Close();
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    std::error_code remove_ignored;
    std::filesystem::remove_all(directory_, remove_ignored);
  }
  FakeDockerd(const FakeDockerd&) = delete;
  FakeDockerd& operator=(const FakeDockerd&) = delete;

  const std::string& path() const { return path_; }
  const std::string& directory() const { return directory_; }
  int connections() const { return connections_; }
  const std::vector<std::string>& targets() const { return targets_; }
  const std::vector<std::shared_ptr<FakeConnection>>& held() const { return held_; }

 private:
  void Accept() {
    acceptor_.async_accept([this](boost::system::error_code error, local::socket socket) {
      if (error) return;
      const std::size_t index = std::min<std::size_t>(connections_, scripts_.size() - 1);
      ++connections_;
      scripts_[index](std::make_shared<FakeConnection>(std::move(socket), held_, targets_));
      Accept();
    });
  }

  local::acceptor acceptor_;
  std::vector<Script> scripts_;
  std::string directory_;
  std::string path_;
  int connections_ = 0;
  std::vector<std::shared_ptr<FakeConnection>> held_;
  std::vector<std::string> targets_;
};

// --- building answers ------------------------------------------------------------------------

inline std::string HttpResponse(int status, std::string_view reason, std::string_view body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
         "\r\nContent-Type: application/json\r\nApi-Version: 1.41\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

// The head dockerd sends before streaming events.
inline std::string StreamHead() {
  return "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\n"
         "Docker-Experimental: false\r\nServer: Docker/20.10.24+dfsg1 (linux)\r\n"
         "Transfer-Encoding: chunked\r\n\r\n";
}

inline std::string Chunk(std::string_view data) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return size + std::string(data) + "\r\n";
}

// Answers the request with `response`, then closes.
inline Script Answer(std::string response) {
  return [response](std::shared_ptr<FakeConnection> connection) {
    connection->ReadRequest([connection, response](const FakeConnection::Request&) {
      connection->Write(response, [connection] { connection->Close(); });
    });
  };
}

// Reads the request and never answers.
inline Script HangAfterRequest() {
  return [](std::shared_ptr<FakeConnection> connection) {
    connection->ReadRequest([connection](const FakeConnection::Request&) { connection->Hang(); });
  };
}

// Writes pieces[i..] one after another, `gap` apart, then closes (or hangs when `hang_after`).
inline void WritePieces(std::shared_ptr<FakeConnection> connection,
                        std::shared_ptr<const std::vector<std::string>> pieces, std::size_t i,
                        std::chrono::milliseconds gap, bool hang_after) {
  if (i == pieces->size()) {
    if (hang_after) {
      connection->Hang();
    } else {
      connection->Close();
    }
    return;
  }
  connection->Write((*pieces)[i], [=] { WritePieces(connection, pieces, i + 1, gap, hang_after); },
                    i == 0 ? std::chrono::milliseconds(0) : gap);
}

inline Script Stream(std::vector<std::string> pieces, std::chrono::milliseconds gap,
                     bool hang_after = false) {
  auto shared = std::make_shared<const std::vector<std::string>>(std::move(pieces));
  return [shared, gap, hang_after](std::shared_ptr<FakeConnection> connection) {
    connection->ReadRequest([=](const FakeConnection::Request&) {
      WritePieces(connection, shared, 0, gap, hang_after);
    });
  };
}

}  // namespace dind::docker::testing
