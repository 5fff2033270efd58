// SPDX-License-Identifier: Apache-2.0
#include "daemon/http/responder.h"

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>
#include <exception>
#include <iterator>
#include <limits>

#include "common/log.h"

namespace dind::http {
namespace beast_http = boost::beast::http;
namespace {

Reply PlainReply(unsigned status, std::string body, bool keep_alive) {
  Reply reply;
  reply.response.status = status;
  reply.response.body = std::move(body);
  reply.keep_alive = keep_alive;
  return reply;
}

// Header values come from the handler; a CR or LF in them would let it split the response.
std::string SanitizeHeaderValue(std::string_view value) {
  std::string clean;
  clean.reserve(value.size());
  for (const char c : value) {
    if (c != '\r' && c != '\n' && c != '\0') clean += c;
  }
  return clean;
}

bool IsTokenChar(char c) {
  const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  return alnum || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsValidHeaderName(std::string_view name) {
  if (name.empty()) return false;
  for (const char c : name) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

std::string ReasonPhrase(unsigned status) {
  const auto reason = beast_http::obsolete_reason(static_cast<beast_http::status>(status));
  const std::string_view text(reason.data(), reason.size());
  return text == "<unknown-status>" ? std::string() : std::string(text);
}

// For the log only: a client controls the path, so it is cut short.
std::string Shorten(std::string_view text) {
  constexpr std::size_t kMax = 200;
  return text.size() <= kMax ? std::string(text) : std::string(text.substr(0, kMax)) + "...";
}

}  // namespace

Reply Respond(const RequestHead& head, const Handler& handler, const Limits& limits) {
  if (head.field_count > limits.max_header_fields) {
    return PlainReply(431,
                      "the request has " + std::to_string(head.field_count) +
                          " header fields; at most " + std::to_string(limits.max_header_fields) +
                          " are accepted\n",
                      false);
  }
  const bool is_get = head.method == beast_http::verb::get;
  const bool is_head = head.method == beast_http::verb::head;
  if (!is_get && !is_head) {
    // The body of a refused request is never read, so the connection cannot carry another one.
    Reply reply =
        PlainReply(405, "only GET and HEAD are supported\n", head.keep_alive && !head.has_body);
    reply.response.headers.emplace_back("Allow", "GET, HEAD");
    return reply;
  }
  if (head.has_body) return PlainReply(413, "requests to this endpoint carry no body\n", false);
  if (head.target.empty() || head.target.front() != '/') {
    return PlainReply(400, "the request target must be a path such as /healthz\n", head.keep_alive);
  }
  const std::string_view path = head.target.substr(0, head.target.find_first_of("?#"));

  Reply reply;
  reply.head_only = is_head;
  reply.keep_alive = head.keep_alive;
  try {
    reply.response = handler ? handler(path) : Response{404, std::string(kTextPlain), "", {}};
  } catch (const std::exception& error) {
    log::Error("health endpoint: the handler failed; answered 500",
               {{"path", Shorten(path)}, {"error", error.what()}});
    reply.response = Response{500, std::string(kTextPlain), "internal error\n", {}};
  } catch (...) {
    log::Error("health endpoint: the handler failed; answered 500", {{"path", Shorten(path)}});
    reply.response = Response{500, std::string(kTextPlain), "internal error\n", {}};
  }
  if (reply.response.status < 200 || reply.response.status > 599) {
    log::Error("health endpoint: the handler returned an invalid status; answered 500",
               {{"path", Shorten(path)}, {"status", std::to_string(reply.response.status)}});
    reply.response = Response{500, std::string(kTextPlain), "internal error\n", {}};
  }
  return reply;
}

void ConfigureParser(RequestParser& parser, const Limits& limits) {
  parser.header_limit(limits.max_header_bytes);
  // The body is never read: Respond refuses a request with one and the connection closes. No
  // limit here, or the parser would fail on a large Content-Length before Respond sees it.
  // (Not boost::none: Beast 1.74 compares the length against it as "exceeded".)
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
}

RequestHead HeadOf(const RequestParser& parser) {
  const auto& request = parser.get();
  RequestHead head;
  head.method = request.method();
  const auto target = request.target();
  head.target = std::string_view(target.data(), target.size());
  head.version = request.version();
  head.keep_alive = request.keep_alive();
  const auto content_length = parser.content_length();
  head.has_body = parser.chunked() || (content_length && *content_length > 0);
  head.field_count = static_cast<std::size_t>(std::distance(request.begin(), request.end()));
  return head;
}

std::optional<Reply> ReplyToParseError(const boost::system::error_code& error) {
  if (error == beast_http::error::header_limit || error == beast_http::error::buffer_overflow) {
    return PlainReply(431, "the request header is too large\n", false);
  }
  if (error.category() == beast_http::make_error_code(beast_http::error::bad_method).category() &&
      error != beast_http::error::end_of_stream && error != beast_http::error::partial_message) {
    return PlainReply(400, "the request is not valid HTTP/1.1\n", false);
  }
  return std::nullopt;  // the client closed, reset or timed out: nobody to answer
}

std::string Serialize(const Reply& reply, unsigned request_version) {
  const Response& response = reply.response;
  // 204 and 304 never carry a body, not even its length.
  const bool bodiless_status = response.status == 204 || response.status == 304;
  std::string out =
      "HTTP/1.1 " + std::to_string(response.status) + " " + ReasonPhrase(response.status) + "\r\n";
  if (!bodiless_status) {
    out += "Content-Type: " + SanitizeHeaderValue(response.content_type) + "\r\n";
    out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
  }
  out += "Cache-Control: no-store\r\n";
  for (const auto& [name, value] : response.headers) {
    if (!IsValidHeaderName(name)) continue;
    out += name + ": " + SanitizeHeaderValue(value) + "\r\n";
  }
  if (!reply.keep_alive) {
    out += "Connection: close\r\n";
  } else if (request_version < 11) {
    out += "Connection: keep-alive\r\n";  // HTTP/1.0 closes by default
  }
  out += "\r\n";
  if (!reply.head_only && !bodiless_status) out += response.body;
  return out;
}

std::string RespondToBytes(std::string_view bytes, const Handler& handler, const Limits& limits) {
  std::string out;
  while (!bytes.empty()) {
    RequestParser parser;
    ConfigureParser(parser, limits);
    boost::system::error_code error;
    // The parser wants the whole header in one buffer and consumes nothing until it has it.
    const std::size_t used = parser.put(boost::asio::buffer(bytes.data(), bytes.size()), error);
    bytes.remove_prefix(used);
    if (error == beast_http::error::need_more && !parser.is_header_done()) {
      // An incomplete head: the server would wait for more, up to the request timeout. (A head
      // already longer than the limit fails with header_limit instead.)
      return out;
    }
    if (error && error != beast_http::error::need_more) {
      if (auto reply = ReplyToParseError(error)) out += Serialize(*reply, 11);
      return out;
    }
    const RequestHead head = HeadOf(parser);
    const Reply reply = Respond(head, handler, limits);
    out += Serialize(reply, head.version);
    if (!reply.keep_alive) return out;
  }
  return out;
}

}  // namespace dind::http
