// SPDX-License-Identifier: Apache-2.0
#include "tests/support/netns.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <stdexcept>

namespace dind::testing {
namespace {
std::atomic<int> g_counter{0};

std::string ShellQuote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}
}  // namespace

CommandResult RunShell(const std::string& command) {
  CommandResult result;
  const std::string wrapped = "( " + command + " ) 2>&1";
  FILE* pipe = ::popen(wrapped.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer;
  size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    result.output.append(buffer.data(), n);
  }
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string MustRun(const std::string& command) {
  CommandResult result = RunShell(command);
  if (result.exit_code != 0) {
    ADD_FAILURE() << "command failed (exit " << result.exit_code << "): " << command << "\n"
                  << result.output;
  }
  return result.output;
}

bool CanCreateNamespaces() { return ::geteuid() == 0; }

ScopedNetns::ScopedNetns(const std::string& prefix)
    : name_(prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(g_counter++)) {
  CommandResult added = RunShell("ip netns add " + name_);
  if (added.exit_code != 0) {
    throw std::runtime_error("ip netns add " + name_ + " failed: " + added.output);
  }
  MustExec("ip link set lo up");
}

ScopedNetns::~ScopedNetns() { RunShell("ip netns delete " + name_); }

CommandResult ScopedNetns::Exec(const std::string& command) const {
  return RunShell("nsenter --net=" + path() + " sh -c " + ShellQuote(command));
}

std::string ScopedNetns::MustExec(const std::string& command) const {
  CommandResult result = Exec(command);
  if (result.exit_code != 0) {
    ADD_FAILURE() << "command failed in netns " << name_ << " (exit " << result.exit_code
                  << "): " << command << "\n"
                  << result.output;
  }
  return result.output;
}

EnterNetns::EnterNetns(const ScopedNetns& netns) {
  original_fd_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  const int target = ::open(netns.path().c_str(), O_RDONLY | O_CLOEXEC);
  if (original_fd_ < 0 || target < 0 || ::setns(target, CLONE_NEWNET) != 0) {
    throw std::runtime_error("cannot enter netns " + netns.name());
  }
  ::close(target);
}

EnterNetns::~EnterNetns() {
  if (::setns(original_fd_, CLONE_NEWNET) != 0) std::abort();  // never run on in the wrong netns
  ::close(original_fd_);
}

}  // namespace dind::testing
