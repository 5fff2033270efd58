// SPDX-License-Identifier: Apache-2.0
// The request/response logic of the health endpoint as pure functions: what to answer to a
// parsed request head, how a response looks on the wire, and what a whole byte stream of
// requests gets back. HealthServer only moves bytes and enforces time; everything a client can
// influence through the bytes it sends is decided here, where unit tests and fuzzers reach it.
#pragma once

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dind::http {

inline constexpr std::string_view kTextPlain = "text/plain; charset=utf-8";
inline constexpr std::string_view kPrometheusText = "text/plain; version=0.0.4; charset=utf-8";
inline constexpr std::string_view kJson = "application/json";

struct Response {
  unsigned status = 200;
  std::string content_type{kTextPlain};
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones, e.g. Allow
};

// Answers a request for `path` (the target without its query string). Called on the event loop:
// it must not block. An exception it throws becomes a 500 and never reaches the loop.
using Handler = std::function<Response(std::string_view path)>;

struct Limits {
  // The request line plus all header fields. Larger requests get 431.
  std::uint32_t max_header_bytes = 8 * 1024;
  // Header fields per request. More get 431.
  std::size_t max_header_fields = 64;
  // From accepting a connection, or finishing the previous response on it, until the next
  // request head is complete. Covers idle keep-alive connections and slow senders (slowloris).
  std::chrono::milliseconds request_timeout{5000};
  // Sending one response, so a client that does not read cannot hold a connection.
  std::chrono::milliseconds write_timeout{5000};
  // Open connections. At the limit a new connection closes the one that has waited longest for
  // its next request, so idle connections cannot lock out the kubelet's probes.
  std::size_t max_connections = 256;
};

// What the server learnt from a request head.
struct RequestHead {
  boost::beast::http::verb method = boost::beast::http::verb::unknown;
  std::string_view target;
  unsigned version = 11;  // 10 or 11
  bool keep_alive = true;
  bool has_body = false;  // Content-Length > 0 or chunked
  std::size_t field_count = 0;
};

struct Reply {
  Response response;
  bool head_only = false;   // HEAD: headers of the GET response, no body
  bool keep_alive = false;  // false: close the connection after sending
};

// The answer to one request: routes GET and HEAD through `handler`, refuses other methods
// (405 with Allow), bodies (413), too many header fields (431) and targets that are not a path
// (400). Catches whatever the handler throws (500).
Reply Respond(const RequestHead& head, const Handler& handler, const Limits& limits);

using RequestParser = boost::beast::http::request_parser<boost::beast::http::empty_body>;
// Applies the header size limit; the server and RespondToBytes parse the same way.
void ConfigureParser(RequestParser& parser, const Limits& limits);
// The head of a request whose header `parser` has read.
RequestHead HeadOf(const RequestParser& parser);

// The reply to a request that failed to parse, or nullopt when the connection should just be
// closed (the client went away or was too slow).
std::optional<Reply> ReplyToParseError(const boost::system::error_code& error);

// The bytes of `reply` on the wire: status line, Content-Type, Content-Length, Cache-Control,
// the extra headers, Connection when it is not the version's default, then the body.
std::string Serialize(const Reply& reply, unsigned request_version);

// Feeds a complete byte stream through the parser and Respond as one connection would see it
// and returns all response bytes, up to where the connection would be closed. An incomplete
// request at the end gets no answer (the server would wait for the rest, up to the timeout).
std::string RespondToBytes(std::string_view bytes, const Handler& handler, const Limits& limits);

}  // namespace dind::http
