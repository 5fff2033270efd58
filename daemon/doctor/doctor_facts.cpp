// SPDX-License-Identifier: Apache-2.0
#include "daemon/doctor/doctor_facts.h"

#include <dirent.h>

#include <cerrno>
#include <memory>

#include "common/check.h"
#include "common/files.h"
#include "daemon/docker/docker_client.h"
#include "netcfg/dockerd/go_buildinfo.h"

namespace dind::doctor {

std::string HostFiles::PathOf(std::string_view absolute) const {
  return root_ + std::string(absolute);
}

Result<std::string> HostFiles::Read(std::string_view absolute) const {
  return ReadFile(PathOf(absolute));
}

Result<struct stat> HostFiles::Stat(std::string_view absolute) const {
  const std::string path = PathOf(absolute);
  struct stat status {};
  if (::stat(path.c_str(), &status) != 0) return Error::FromErrno("stat " + path);
  return status;
}

Result<std::vector<std::string>> HostFiles::List(std::string_view absolute) const {
  const std::string path = PathOf(absolute);
  const std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(path.c_str()), &::closedir);
  if (!dir) return Error::FromErrno("listing " + path);
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* entry = ::readdir(dir.get())) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  if (errno != 0) return Error::FromErrno("listing " + path);
  return names;
}

const Result<std::string>& DockerdInfoBody(const DoctorContext& context) {
  auto& body = context.dockerd_answers.info_body;
  if (body) return *body;
  boost::asio::io_context io;
  docker::ClientOptions options;
  options.socket_path = context.docker_socket;
  options.request_timeout = std::chrono::seconds(5);
  docker::DockerClient client(io, std::move(options));
  client.Get("/info", [&body](Result<std::string> answer) { body.emplace(std::move(answer)); });
  io.run();  // ends with the request, at the latest at its deadline
  DIND_CHECK(body.has_value(), "Get returned without calling back");
  return *body;
}

const Result<docker::DockerVersionInfo>& DockerdVersion(const DoctorContext& context) {
  auto& version = context.dockerd_answers.version;
  if (!version) {
    docker::ClientOptions options;
    options.socket_path = context.docker_socket;
    options.request_timeout = std::chrono::milliseconds(2000);
    version.emplace(docker::ReadVersionNow(std::move(options)));
  }
  return *version;
}

std::optional<std::pair<netcfg::DockerVersion, std::string>> DockerdBinaryVersion() {
  const char* path_variable = std::getenv("PATH");
  const auto path = netcfg::FindProgram("dockerd", path_variable != nullptr ? path_variable : "");
  if (!path) return std::nullopt;
  auto built = netcfg::ReadDockerdBuildVersion(*path);
  if (!built) return std::nullopt;
  auto version = netcfg::ParseDockerVersion(*built);
  if (!version) return std::nullopt;
  return std::make_pair(*version, "Go build info of " + *path);
}

}  // namespace dind::doctor
