// SPDX-License-Identifier: Apache-2.0
#include "daemon/http/responder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>

#include "daemon/http/health_routes.h"

namespace dind::http {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Echoes the path it was asked for, so tests see what reached the handler.
Response EchoPath(std::string_view path) {
  if (path == "/missing") return Response{404, std::string(kTextPlain), "no\n", {}};
  return Response{200, std::string(kTextPlain), "path=" + std::string(path) + "\n", {}};
}

std::string Answer(std::string_view request, const Limits& limits = {}) {
  return RespondToBytes(request, EchoPath, limits);
}

std::size_t Count(const std::string& text, std::string_view what) {
  std::size_t count = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
  return count;
}

TEST(RespondToBytesTest, AnswersAGetWithExactBytes) {
  EXPECT_EQ(Answer("GET /healthz HTTP/1.1\r\nHost: pod\r\n\r\n"),
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 14\r\n"
            "Cache-Control: no-store\r\n"
            "\r\n"
            "path=/healthz\n");
}

TEST(RespondToBytesTest, HeadSendsTheLengthOfTheGetBodyButNoBody) {
  EXPECT_EQ(Answer("HEAD /healthz HTTP/1.1\r\nHost: pod\r\n\r\n"),
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 14\r\n"
            "Cache-Control: no-store\r\n"
            "\r\n");
}

TEST(RespondToBytesTest, RoutesOnThePathWithoutTheQuery) {
  EXPECT_THAT(Answer("GET /metrics?name=x#frag HTTP/1.1\r\n\r\n"), HasSubstr("path=/metrics\n"));
}

TEST(RespondToBytesTest, PassesTheHandlersStatus) {
  EXPECT_THAT(Answer("GET /missing HTTP/1.1\r\n\r\n"), StartsWith("HTTP/1.1 404 Not Found\r\n"));
}

TEST(RespondToBytesTest, AnswersPipelinedRequestsInOrder) {
  const std::string out =
      Answer("GET /a HTTP/1.1\r\n\r\nHEAD /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n");
  EXPECT_EQ(Count(out, "HTTP/1.1 200 OK"), 3u);
  EXPECT_LT(out.find("path=/a"), out.find("path=/c"));
  EXPECT_THAT(out, Not(HasSubstr("path=/b")));  // HEAD
}

TEST(RespondToBytesTest, ConnectionCloseEndsTheConversation) {
  const std::string out =
      Answer("GET /a HTTP/1.1\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
  EXPECT_THAT(out, HasSubstr("Connection: close\r\n"));
  EXPECT_EQ(Count(out, "HTTP/1.1 200"), 1u);
}

TEST(RespondToBytesTest, Http10ClosesUnlessAskedToKeepAlive) {
  EXPECT_THAT(Answer("GET /a HTTP/1.0\r\n\r\n"), HasSubstr("Connection: close\r\n"));
  const std::string kept = Answer("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_THAT(kept, HasSubstr("Connection: keep-alive\r\n"));
}

TEST(RespondToBytesTest, OtherMethodsGet405WithAllow) {
  const std::string out = Answer("DELETE /healthz HTTP/1.1\r\n\r\nGET /a HTTP/1.1\r\n\r\n");
  EXPECT_THAT(out, StartsWith("HTTP/1.1 405 Method Not Allowed\r\n"));
  EXPECT_THAT(out, HasSubstr("\r\nAllow: GET, HEAD\r\n"));
  EXPECT_THAT(out, HasSubstr("only GET and HEAD are supported\n"));
  EXPECT_THAT(out, HasSubstr("path=/a"));  // no body: the connection goes on
}

TEST(RespondToBytesTest, AMethodWithABodyGets405AndTheConnectionCloses) {
  const std::string out =
      Answer("POST /healthz HTTP/1.1\r\nContent-Length: 4\r\n\r\nGET GET /a HTTP/1.1\r\n\r\n");
  EXPECT_THAT(out, StartsWith("HTTP/1.1 405 "));
  EXPECT_THAT(out, HasSubstr("Connection: close\r\n"));
  EXPECT_EQ(Count(out, "HTTP/1.1 "), 1u);
}

TEST(RespondToBytesTest, AGetWithABodyGets413AndTheConnectionCloses) {
  for (const std::string framing : {"Content-Length: 3\r\n", "Transfer-Encoding: chunked\r\n",
                                    "Content-Length: 99999999999\r\n"}) {
    const std::string out = Answer("GET /a HTTP/1.1\r\n" + framing + "\r\nabc");
    EXPECT_THAT(out, StartsWith("HTTP/1.1 413 Payload Too Large\r\n")) << framing;
    EXPECT_THAT(out, HasSubstr("Connection: close\r\n")) << framing;
  }
  // An explicit empty body is no body.
  EXPECT_THAT(Answer("GET /a HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), StartsWith("HTTP/1.1 200"));
}

TEST(RespondToBytesTest, AnOversizedHeadGets431) {
  Limits limits;
  limits.max_header_bytes = 1024;
  const std::string big = "GET /a HTTP/1.1\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n";
  const std::string out = Answer(big, limits);
  EXPECT_THAT(out, StartsWith("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
  EXPECT_THAT(out, HasSubstr("Connection: close\r\n"));
  // Also when the head has not even ended yet: waiting for more would not help.
  EXPECT_THAT(Answer(big.substr(0, 1500), limits), StartsWith("HTTP/1.1 431 "));
  // Just under the limit is fine.
  const std::string fits = "GET /a HTTP/1.1\r\nX-Big: " + std::string(900, 'a') + "\r\n\r\n";
  EXPECT_THAT(Answer(fits, limits), StartsWith("HTTP/1.1 200 "));
}

TEST(RespondToBytesTest, TooManyHeaderFieldsGet431) {
  Limits limits;
  limits.max_header_fields = 3;
  std::string request = "GET /a HTTP/1.1\r\n";
  for (int i = 0; i < 4; ++i) request += "X-" + std::to_string(i) + ": v\r\n";
  const std::string out = Answer(request + "\r\n", limits);
  EXPECT_THAT(out, StartsWith("HTTP/1.1 431 "));
  EXPECT_THAT(out, HasSubstr("the request has 4 header fields; at most 3 are accepted"));
  EXPECT_THAT(Answer("GET /a HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits),
              StartsWith("HTTP/1.1 200 "));
}

TEST(RespondToBytesTest, GarbageGets400AndTheConnectionCloses) {
  for (const std::string garbage :
       {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", "GET /a HTTP/9.9\r\n\r\n",
        "GET /a HTTP/1.1\r\nBad Header\r\n\r\n", "GET\r\n\r\n"}) {
    const std::string out = Answer(garbage);
    EXPECT_THAT(out, StartsWith("HTTP/1.1 400 Bad Request\r\n")) << garbage;
    EXPECT_THAT(out, HasSubstr("Connection: close\r\n")) << garbage;
  }
}

TEST(RespondToBytesTest, TargetsThatAreNotAPathGet400) {
  EXPECT_THAT(Answer("GET http://pod/healthz HTTP/1.1\r\n\r\n"), StartsWith("HTTP/1.1 400 "));
}

TEST(RespondToBytesTest, AnIncompleteRequestGetsNoAnswerYet) {
  EXPECT_EQ(Answer("GET /healthz HTTP/1.1\r\nHost: p"), "");
  EXPECT_EQ(Answer(""), "");
  // A complete request before it is still answered.
  EXPECT_THAT(Answer("GET /a HTTP/1.1\r\n\r\nGET /b HT"), HasSubstr("path=/a"));
}

TEST(RespondTest, AThrowingHandlerGets500) {
  const Handler throws = [](std::string_view) -> Response { throw std::runtime_error("boom"); };
  const std::string out = RespondToBytes("GET /x HTTP/1.1\r\n\r\n", throws, {});
  EXPECT_THAT(out, StartsWith("HTTP/1.1 500 Internal Server Error\r\n"));
  EXPECT_THAT(out, Not(HasSubstr("boom")));  // internals stay in the log
  const Handler throws_int = [](std::string_view) -> Response { throw 7; };
  EXPECT_THAT(RespondToBytes("GET /x HTTP/1.1\r\n\r\n", throws_int, {}),
              StartsWith("HTTP/1.1 500"));
}

TEST(RespondTest, AnInvalidStatusFromTheHandlerGets500) {
  for (unsigned status : {0u, 101u, 600u}) {
    const Handler bad = [status](std::string_view) { return Response{status, "", "", {}}; };
    EXPECT_THAT(RespondToBytes("GET /x HTTP/1.1\r\n\r\n", bad, {}), StartsWith("HTTP/1.1 500"));
  }
}

TEST(RespondTest, AnEmptyHandlerAnswers404) {
  EXPECT_THAT(RespondToBytes("GET /x HTTP/1.1\r\n\r\n", Handler(), {}), StartsWith("HTTP/1.1 404"));
}

TEST(SerializeTest, HeaderValuesCannotSplitTheResponse) {
  Reply reply;
  reply.keep_alive = true;
  reply.response = Response{200,
                            "text/plain\r\nSet-Cookie: x=1",
                            "b",
                            {{"X-Ok", "a\r\nInjected: 1"}, {"Bad Name", "v"}, {"", "v"}}};
  EXPECT_EQ(Serialize(reply, 11),
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: text/plainSet-Cookie: x=1\r\n"
            "Content-Length: 1\r\n"
            "Cache-Control: no-store\r\n"
            "X-Ok: aInjected: 1\r\n"
            "\r\n"
            "b");
}

TEST(SerializeTest, NoContentHasNoBodyAndNoLength) {
  Reply reply;
  reply.keep_alive = false;
  reply.response = Response{204, std::string(kTextPlain), "ignored", {}};
  EXPECT_EQ(Serialize(reply, 11),
            "HTTP/1.1 204 No Content\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n");
}

TEST(SerializeTest, UnknownStatusCodesHaveAnEmptyReason) {
  Reply reply;
  reply.keep_alive = true;
  reply.response = Response{299, std::string(kTextPlain), "", {}};
  EXPECT_THAT(Serialize(reply, 11), StartsWith("HTTP/1.1 299 \r\n"));
}

// --- MakeHealthRoutes --------------------------------------------------------------------------

struct FakeDaemon {
  Readiness readiness{true, ""};
  int metrics_calls = 0;

  Handler Routes() {
    return MakeHealthRoutes(HealthCallbacks{
        [this] { return readiness; },
        [this] {
          ++metrics_calls;
          return std::string("dind_up 1\n");
        },
        [] { return std::string(R"({"ready":true})"); },
    });
  }
};

TEST(HealthRoutesTest, HealthzIsAlwaysOk) {
  FakeDaemon daemon;
  daemon.readiness = {false, "no docker bridge yet"};
  const Response response = daemon.Routes()("/healthz");
  EXPECT_EQ(response.status, 200u);
  EXPECT_EQ(response.body, "ok\n");
  EXPECT_EQ(response.content_type, "text/plain; charset=utf-8");
}

TEST(HealthRoutesTest, ReadyzFollowsReadinessWithAOneLineReason) {
  FakeDaemon daemon;
  Handler routes = daemon.Routes();
  EXPECT_EQ(routes("/readyz").status, 200u);
  EXPECT_EQ(routes("/readyz").body, "ready\n");
  daemon.readiness = {false, "egress probe to 10.96.0.1:443 failed:\ntimed out\r\n"};
  const Response not_ready = routes("/readyz");
  EXPECT_EQ(not_ready.status, 503u);
  EXPECT_EQ(not_ready.body, "egress probe to 10.96.0.1:443 failed: timed out\n");
  daemon.readiness = {false, ""};
  EXPECT_EQ(routes("/readyz").body, "not ready\n");
}

TEST(HealthRoutesTest, MetricsUseThePrometheusContentTypeAndAreRenderedPerRequest) {
  FakeDaemon daemon;
  Handler routes = daemon.Routes();
  const Response response = routes("/metrics");
  EXPECT_EQ(response.status, 200u);
  EXPECT_EQ(response.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(response.body, "dind_up 1\n");
  routes("/metrics");
  EXPECT_EQ(daemon.metrics_calls, 2);
}

TEST(HealthRoutesTest, StatusIsJson) {
  FakeDaemon daemon;
  const Response response = daemon.Routes()("/status");
  EXPECT_EQ(response.status, 200u);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(response.body, "{\"ready\":true}\n");
}

TEST(HealthRoutesTest, EverythingElseAndMissingCallbacksAre404) {
  FakeDaemon daemon;
  Handler routes = daemon.Routes();
  for (const char* path : {"/", "/healthz/", "/HEALTHZ", "/readyz/x", "/metricsx", ""}) {
    EXPECT_EQ(routes(path).status, 404u) << path;
  }
  Handler bare = MakeHealthRoutes({});
  EXPECT_EQ(bare("/healthz").status, 200u);
  EXPECT_EQ(bare("/readyz").status, 404u);
  EXPECT_EQ(bare("/metrics").status, 404u);
  EXPECT_EQ(bare("/status").status, 404u);
}

}  // namespace
}  // namespace dind::http
