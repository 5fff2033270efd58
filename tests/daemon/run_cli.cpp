// SPDX-License-Identifier: Apache-2.0
#include "tests/daemon/run_cli.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace dind::cli::testing {
namespace {

bool IsSteeringVariable(const std::string& entry) {
  return entry.starts_with("DIND_NETCFG_") || entry.starts_with("KUBERNETES_SERVICE_HOST=");
}

std::vector<std::string> ChildEnvironment(const Environment& env) {
  std::vector<std::string> entries;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    if (!IsSteeringVariable(*entry)) entries.emplace_back(*entry);
  }
  // Each test proves for itself: a proof kept by an earlier test (or on this machine) must not
  // stand in for it. Tests of the cache name their own file.
  bool cache_named = false;
  for (const auto& [name, value] : env) {
    entries.push_back(name + "=" + value);
    cache_named = cache_named || name == "DIND_NETCFG_PROOF_CACHE";
  }
  if (!cache_named) entries.emplace_back("DIND_NETCFG_PROOF_CACHE=off");
  return entries;
}

std::vector<char*> PointersTo(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (auto& text : strings) pointers.push_back(text.data());
  pointers.push_back(nullptr);
  return pointers;
}

// Drains both pipes together so a child filling one cannot block on the other.
void ReadUntilClosed(int out_fd, int err_fd, ProcessResult& result) {
  std::array<pollfd, 2> fds{pollfd{out_fd, POLLIN, 0}, pollfd{err_fd, POLLIN, 0}};
  std::array<std::string*, 2> sinks{&result.out, &result.err};
  int open_count = 2;
  std::array<char, 4096> buffer;
  while (open_count > 0) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
    }
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = ::read(fds[i].fd, buffer.data(), buffer.size());
      if (n > 0) {
        sinks[i]->append(buffer.data(), static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_count;
      }
    }
  }
}

}  // namespace

ProcessResult RunProcess(const std::vector<std::string>& argv, const Environment& env) {
  std::vector<std::string> args = argv;
  std::vector<std::string> environment = ChildEnvironment(env);
  std::vector<char*> arg_pointers = PointersTo(args);
  std::vector<char*> env_pointers = PointersTo(environment);

  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
  }
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    ::execvpe(arg_pointers[0], arg_pointers.data(), env_pointers.data());
    const std::string message = "exec " + args[0] + ": " + std::strerror(errno) + "\n";
    (void)!::write(STDERR_FILENO, message.data(), message.size());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  ProcessResult result;
  ReadUntilClosed(out_pipe[0], err_pipe[0], result);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

ProcessResult RunCli(const std::vector<std::string>& args, const Environment& env) {
  std::vector<std::string> argv{DIND_NETCFG_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProcess(argv, env);
}

std::string Describe(const ProcessResult& result) {
  return "exit " + std::to_string(result.exit_code) + "\n--- stdout ---\n" + result.out +
         "--- stderr ---\n" + result.err;
}

}  // namespace dind::cli::testing
