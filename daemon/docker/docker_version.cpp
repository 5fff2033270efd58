// SPDX-License-Identifier: Apache-2.0
#include "daemon/docker/docker_version.h"

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/check.h"

namespace dind::docker {
namespace {

std::string StringAt(const nlohmann::json& document, const char* key) {
  const auto found = document.find(key);
  return found != document.end() && found->is_string() ? found->get<std::string>() : "";
}

}  // namespace

Result<DockerVersionInfo> ParseVersion(std::string_view json, std::string_view source) {
  const std::string what = "the version (GET /version) from " + std::string(source);
  const auto document = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.is_object()) {
    return Error::Environment(what + " is not a JSON object",
                              "check that the socket is dockerd's, not another service's");
  }
  DockerVersionInfo info;
  info.version = StringAt(document, "Version");
  info.api_version = StringAt(document, "ApiVersion");
  info.min_api_version = StringAt(document, "MinAPIVersion");
  if (info.version.empty()) {
    return Error::Environment(what + " has no Version",
                              "check that the socket is dockerd's, not another service's");
  }
  return info;
}

Result<DockerVersionInfo> ReadVersionNow(ClientOptions options) {
  boost::asio::io_context io;
  const std::string source = "dockerd at " + options.socket_path;
  DockerClient client(io, std::move(options));
  std::optional<Result<DockerVersionInfo>> answer;
  client.Get("/version", [&answer, &source](Result<std::string> body) {
    if (!body.ok()) {
      answer.emplace(body.error());
    } else {
      answer.emplace(ParseVersion(*body, source));
    }
  });
  io.run();  // ends with the request: it always completes, at the latest at its deadline
  DIND_CHECK(answer.has_value(), "GET /version returned without calling back");
  return std::move(*answer);
}

std::string VersionSource(std::string_view socket_path) {
  return "GET /version of unix://" + std::string(socket_path);
}

}  // namespace dind::docker
