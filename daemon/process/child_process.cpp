// SPDX-License-Identifier: Apache-2.0
#include "daemon/process/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <unordered_set>

extern char** environ;

namespace dind::process {
namespace {

// execvp's fallback when PATH is unset, widened to the sbin directories dockerd lives in.
constexpr std::string_view kDefaultPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string_view KeyOf(std::string_view entry) {
  return entry.substr(0, entry.find('='));
}

// The inherited environment with `extra` laid over it: an overridden key appears once, with
// its new value; the last of repeated extra keys wins.
Result<std::vector<std::string>> ChildEnvironment(const std::vector<std::string>& extra) {
  for (const std::string& entry : extra) {
    const std::size_t equals = entry.find('=');
    if (equals == std::string::npos || equals == 0) {
      return Error::BadInput("environment entry '" + entry + "' is not KEY=VALUE",
                             "write it as NAME=value");
    }
  }
  std::unordered_set<std::string_view> overridden;
  std::vector<std::string> environment;
  for (auto it = extra.rbegin(); it != extra.rend(); ++it) {
    if (overridden.insert(KeyOf(*it)).second) environment.push_back(*it);
  }
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    if (!overridden.contains(KeyOf(*entry))) environment.emplace_back(*entry);
  }
  return environment;
}

std::string PathOf(const std::vector<std::string>& environment) {
  for (const std::string& entry : environment) {
    if (KeyOf(entry) == "PATH") return entry.substr(5);
  }
  return std::string(kDefaultPath);
}

// `path` as the child will see it after changing into `working_directory`.
std::string AsSeenByChild(const std::string& path, const std::optional<std::string>& cwd) {
  if (path.starts_with('/') || !cwd) return path;
  return *cwd + "/" + path;
}

// 0 when `path` is a file this process may execute, else the errno exec would fail with.
int ExecutableError(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return errno;
  if (S_ISDIR(info.st_mode)) return EISDIR;
  if (::faccessat(AT_FDCWD, path.c_str(), X_OK, AT_EACCESS) != 0) return errno;
  return 0;
}

Error NotRunnable(const std::string& program, int errnum) {
  switch (errnum) {
    case ENOENT:
    case ENOTDIR:
      return Error{ErrorKind::kBadInput, "'" + program + "' does not exist", errnum,
                   "give the path of an installed program"};
    case ENOEXEC:
      return Error{ErrorKind::kBadInput, "'" + program + "' is not a program the kernel can run",
                   errnum, "a script needs a #! line naming its interpreter"};
    default:
      return Error{ErrorKind::kBadInput, "'" + program + "' is not executable", errnum,
                   "chmod +x it, or give the path of an executable program"};
  }
}

// The path to hand posix_spawn: argv[0] itself when it names a path, else the first executable
// of that name on the child's PATH (an empty PATH element is the working directory, as in sh).
Result<std::string> ResolveProgram(const std::string& program, const std::string& path,
                                   const std::optional<std::string>& cwd) {
  if (program.find('/') != std::string::npos) {
    if (const int error = ExecutableError(AsSeenByChild(program, cwd)); error != 0) {
      return NotRunnable(program, error);
    }
    return program;
  }
  std::optional<std::string> not_executable;
  std::string_view rest = path;
  while (true) {
    const std::size_t colon = rest.find(':');
    const std::string_view directory = rest.substr(0, colon);
    std::string candidate = directory.empty() ? std::string(".") : std::string(directory);
    candidate += '/';
    candidate += program;
    const int error = ExecutableError(AsSeenByChild(candidate, cwd));
    if (error == 0) return candidate;
    if (error == EACCES && !not_executable) not_executable = candidate;
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  if (not_executable) return NotRunnable(*not_executable, EACCES);
  return Error::BadInput("'" + program + "' is not on PATH (" + path + ")",
                         "install it, or give its full path");
}

// posix_spawn's C structures, destroyed on every path out.
class SpawnSettings {
 public:
  SpawnSettings() {
    ::posix_spawn_file_actions_init(&actions_);
    ::posix_spawnattr_init(&attributes_);
  }
  ~SpawnSettings() {
    ::posix_spawnattr_destroy(&attributes_);
    ::posix_spawn_file_actions_destroy(&actions_);
  }
  SpawnSettings(const SpawnSettings&) = delete;
  SpawnSettings& operator=(const SpawnSettings&) = delete;

  // Each returns 0 or an errno (EINVAL, ENOMEM).
  int Configure(const LaunchSpec& spec) {
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (spec.new_process_group) {
      flags |= POSIX_SPAWN_SETPGROUP;
      if (const int e = ::posix_spawnattr_setpgroup(&attributes_, 0); e != 0) return e;
      // In the child, after it has its group; glibc blocks every signal until the exec, so
      // the SIGTTOU a background group's tcsetpgrp would raise does not stop it.
      if (spec.take_terminal && ::isatty(STDIN_FILENO) == 1 &&
          ::tcgetpgrp(STDIN_FILENO) == ::getpgrp()) {
        const int e = ::posix_spawn_file_actions_addtcsetpgrp_np(&actions_, STDIN_FILENO);
        if (e != 0) return e;
      }
    }
    sigset_t empty;
    sigemptyset(&empty);
    if (const int e = ::posix_spawnattr_setsigmask(&attributes_, &empty); e != 0) return e;
    // SIG_IGN survives exec, so every signal is reset to SIG_DFL, as after fork and exec. All
    // bits rather than sigfillset, which leaves out glibc's internal signals 32 and 33: glibc's
    // posix_spawn would set those to SIG_IGN in the child, and the child would keep them so.
    sigset_t all;
    std::memset(&all, 0xff, sizeof all);
    if (const int e = ::posix_spawnattr_setsigdefault(&attributes_, &all); e != 0) return e;
    if (const int e = ::posix_spawnattr_setflags(&attributes_, flags); e != 0) return e;

    if (spec.working_directory) {
      const char* directory = spec.working_directory->c_str();
      if (const int e = ::posix_spawn_file_actions_addchdir_np(&actions_, directory); e != 0) {
        return e;
      }
    }
    if (spec.output_fd) {
      for (const int target : {STDOUT_FILENO, STDERR_FILENO}) {
        const int e = ::posix_spawn_file_actions_adddup2(&actions_, *spec.output_fd, target);
        if (e != 0) return e;
      }
    }
    // After the dup2s, so a descriptor above 2 given as output_fd is not needed any more.
    return ::posix_spawn_file_actions_addclosefrom_np(&actions_, STDERR_FILENO + 1);
  }

  const posix_spawn_file_actions_t* actions() const { return &actions_; }
  const posix_spawnattr_t* attributes() const { return &attributes_; }

 private:
  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attributes_;
};

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

}  // namespace

Result<pid_t> Launch(const LaunchSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty()) {
    return Error::BadInput("nothing to run: the command line is empty",
                           "give the command after --");
  }
  const std::string& program = spec.argv[0];
  if (spec.working_directory) {
    // Checked here: posix_spawn's ENOENT would not say whether the directory or the program
    // is missing.
    struct stat info {};
    const int errnum = ::stat(spec.working_directory->c_str(), &info) != 0 ? errno
                       : S_ISDIR(info.st_mode)                             ? 0
                                                                           : ENOTDIR;
    if (errnum != 0) {
      return Error{ErrorKind::kBadInput,
                   "working directory '" + *spec.working_directory + "' for '" + program + "'",
                   errnum, "give an existing directory"};
    }
  }
  auto environment = ChildEnvironment(spec.extra_environment);
  if (!environment) return environment.error();
  auto executable = ResolveProgram(program, PathOf(*environment), spec.working_directory);
  if (!executable) return executable.error();

  SpawnSettings settings;
  if (const int e = settings.Configure(spec); e != 0) {
    return Error::Environment("preparing to start '" + program + "'", e);
  }
  std::vector<std::string> argv = spec.argv;
  std::vector<char*> argv_pointers = CStrings(argv);
  std::vector<char*> environment_pointers = CStrings(*environment);
  pid_t pid = 0;
  // glibc reports the exec's own failure (the file vanished since ResolveProgram) here too.
  const int e = ::posix_spawn(&pid, executable->c_str(), settings.actions(), settings.attributes(),
                              argv_pointers.data(), environment_pointers.data());
  if (e == ENOENT || e == ENOTDIR || e == EACCES || e == ENOEXEC || e == EISDIR) {
    return NotRunnable(program, e);
  }
  if (e != 0) {
    return Error::Environment("starting '" + program + "'", e,
                              "the container may be out of processes (pids limit) or memory");
  }
  return pid;
}

ExitStatus ExitStatus::FromWaitStatus(pid_t pid, int wait_status) {
  ExitStatus status;
  status.pid = pid;
  if (WIFEXITED(wait_status)) status.code = WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) status.signal = WTERMSIG(wait_status);
  return status;
}

std::string ExitStatus::Describe() const {
  if (!killed()) return "exited with status " + std::to_string(code);
  std::string text = "killed by signal " + std::to_string(signal);
  if (const char* name = ::sigabbrev_np(signal); name != nullptr) {
    text += " (SIG" + std::string(name) + ")";
  }
  return text;
}

}  // namespace dind::process
