// SPDX-License-Identifier: Apache-2.0
// Times one command run inside given namespaces, for benchmark 1 (lib/init_bench.py).
//
//   ns_exec_time --net NS_FILE --mnt NS_FILE [--stderr FILE] -- COMMAND [ARGS...]
//
// Opens both namespace files first (untimed), then times fork -> setns(net) -> setns(mnt) ->
// execvp -> waitpid on CLOCK_MONOTONIC and prints the elapsed nanoseconds on stdout. The command's
// stdout goes to /dev/null, its stderr to FILE (default /dev/null). Exits with the command's exit
// status (128 + signal when killed); 125 when this tool itself failed, 126/127 when the command
// could not be entered or started.
#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: ns_exec_time --net NS_FILE --mnt NS_FILE [--stderr FILE] -- COMMAND...\n");
  return 125;
}

long long NowNs() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<long long>(now.tv_sec) * 1'000'000'000LL + now.tv_nsec;
}

}  // namespace

int main(int argc, char** argv) {
  std::string net_path, mnt_path, stderr_path = "/dev/null";
  int i = 1;
  for (; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (i + 1 >= argc) return Usage();
    if (arg == "--net") {
      net_path = argv[++i];
    } else if (arg == "--mnt") {
      mnt_path = argv[++i];
    } else if (arg == "--stderr") {
      stderr_path = argv[++i];
    } else {
      return Usage();
    }
  }
  if (net_path.empty() || mnt_path.empty() || i >= argc) return Usage();

  const int net_fd = open(net_path.c_str(), O_RDONLY | O_CLOEXEC);
  const int mnt_fd = open(mnt_path.c_str(), O_RDONLY | O_CLOEXEC);
  const int out_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  const int err_fd = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (net_fd < 0 || mnt_fd < 0 || out_fd < 0 || err_fd < 0) {
    std::fprintf(stderr, "ns_exec_time: opening %s, %s or %s: %s\n", net_path.c_str(),
                 mnt_path.c_str(), stderr_path.c_str(), std::strerror(errno));
    return 125;
  }

  const long long start = NowNs();
  const pid_t pid = fork();
  if (pid < 0) {
    std::perror("ns_exec_time: fork");
    return 125;
  }
  if (pid == 0) {
    if (setns(net_fd, CLONE_NEWNET) != 0 || setns(mnt_fd, CLONE_NEWNS) != 0) _exit(126);
    if (dup2(out_fd, STDOUT_FILENO) < 0 || dup2(err_fd, STDERR_FILENO) < 0) _exit(126);
    execvp(argv[i], argv + i);
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      std::perror("ns_exec_time: waitpid");
      return 125;
    }
  }
  const long long elapsed = NowNs() - start;
  std::printf("%lld\n", elapsed);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}
