// SPDX-License-Identifier: Apache-2.0
#include "daemon/doctor/doctor_facts.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <memory>

#include "common/check.h"
#include "common/files.h"
#include "common/strings.h"
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

std::string FactsProcess::ProcPath(std::string_view file) const {
  return (pid == 0 ? std::string("/proc/self/") : "/proc/" + std::to_string(pid) + "/") +
         std::string(file);
}

std::string FactsProcess::RootPath(std::string_view absolute) const {
  if (pid == 0) return std::string(absolute);
  return "/proc/" + std::to_string(pid) + "/root" + std::string(absolute);
}

std::string FactsProcess::Describe() const {
  return name + " pid " + std::to_string(pid == 0 ? static_cast<int>(::getpid()) : pid);
}

namespace {

// The arguments of /proc/PID/cmdline (NUL-separated).
std::vector<std::string> Arguments(std::string_view cmdline) {
  std::vector<std::string> arguments;
  std::size_t start = 0;
  while (start < cmdline.size()) {
    const std::size_t end = std::min(cmdline.find('\0', start), cmdline.size());
    arguments.emplace_back(cmdline.substr(start, end - start));
    start = end + 1;
  }
  return arguments;
}

// Whether a dockerd started with `arguments` listens on `socket`: one of its -H/--host values
// names it, or it has none and `socket` is dockerd's default.
bool Serves(const std::vector<std::string>& arguments, std::string_view socket) {
  bool has_host = false;
  for (std::size_t i = 1; i < arguments.size(); ++i) {
    std::string_view value;
    const std::string_view argument = arguments[i];
    if ((argument == "-H" || argument == "--host") && i + 1 < arguments.size()) {
      value = arguments[++i];
    } else if (argument.starts_with("-H=") || argument.starts_with("--host=")) {
      value = argument.substr(argument.find('=') + 1);
    } else if (argument.starts_with("-H") && argument.size() > 2) {
      value = argument.substr(2);
    } else {
      continue;
    }
    has_host = true;
    if (value.starts_with("unix://")) value.remove_prefix(7);
    if (value == socket) return true;
  }
  return !has_host && socket == docker::kDefaultSocketPath;
}

}  // namespace

Result<FactsProcess> ChooseFactsProcess(const HostFiles& files, std::string_view request,
                                        std::string_view docker_socket) {
  const auto usage_hint = "give --pid auto, self or the pid of the dind container's dockerd";
  if (request == "self") return FactsProcess{.chosen_by = "--pid self"};
  if (request != "auto") {
    int pid = 0;
    const auto [end, error] = std::from_chars(request.data(), request.data() + request.size(), pid);
    if (error != std::errc() || end != request.data() + request.size() || pid <= 0) {
      return Error::BadInput("--pid " + std::string(request) + " is not auto, self or a pid",
                             usage_hint);
    }
    auto comm = files.Read("/proc/" + std::string(request) + "/comm");
    if (!comm) {
      return Error::BadInput("--pid " + std::string(request) + ": no such process here (" +
                                 comm.error().Message() + ")",
                             usage_hint);
    }
    return FactsProcess{.pid = pid,
                        .name = std::string(TrimmedLine(*comm)),
                        .chosen_by = "--pid " + std::string(request)};
  }
  auto entries = files.List("/proc");
  if (!entries) return FactsProcess{.chosen_by = "/proc unreadable: " + entries.error().Message()};
  std::vector<int> dockerds;
  std::vector<int> serving;
  for (const auto& entry : *entries) {
    int pid = 0;
    const auto [end, error] = std::from_chars(entry.data(), entry.data() + entry.size(), pid);
    if (error != std::errc() || end != entry.data() + entry.size()) continue;
    const auto comm = files.Read("/proc/" + entry + "/comm");
    if (!comm || TrimmedLine(*comm) != "dockerd") continue;
    dockerds.push_back(pid);
    const auto cmdline = files.Read("/proc/" + entry + "/cmdline");
    if (cmdline && Serves(Arguments(*cmdline), docker_socket)) serving.push_back(pid);
  }
  std::string chosen_by;
  int pid = 0;
  if (serving.size() == 1) {
    pid = serving.front();
    chosen_by = "the dockerd serving " + std::string(docker_socket);
  } else if (dockerds.size() == 1) {
    pid = dockerds.front();
    chosen_by = "the only dockerd visible";
  } else {
    return FactsProcess{.chosen_by = dockerds.empty()
                                         ? "no dockerd visible in this process namespace"
                                         : std::to_string(dockerds.size()) +
                                               " dockerds visible, none alone serving " +
                                               std::string(docker_socket) + " (give --pid)"};
  }
  FactsProcess dockerd{.pid = pid, .name = "dockerd", .chosen_by = std::move(chosen_by)};
  // Its root is readable by root in the same user namespace (ptrace access); not by others.
  if (auto root = files.Stat(dockerd.RootPath("/")); !root) {
    return FactsProcess{.chosen_by = "dockerd pid " + std::to_string(pid) +
                                     " visible but its root unreadable (" + root.error().Message() +
                                     "): run doctor as root"};
  }
  return dockerd;
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

std::optional<std::pair<netcfg::DockerVersion, std::string>> DockerdVersionNotServed(
    const DoctorContext& context) {
  if (context.told_dockerd) return std::make_pair(*context.told_dockerd, "--dockerd-version");
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
