// SPDX-License-Identifier: Apache-2.0
// Test hosts made of network namespaces. Every namespace a test makes is deleted by its owner's
// destructor, also when the test fails; the machine's own namespace is never changed.
#pragma once

#include <string>

namespace dind::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `command` with /bin/sh -c and returns its exit code and output.
CommandResult RunShell(const std::string& command);

// Like RunShell, but fails the current test (ADD_FAILURE) when the command exits non-zero.
std::string MustRun(const std::string& command);

// True when the process may create namespaces (root with CAP_SYS_ADMIN and CAP_NET_ADMIN).
bool CanCreateNamespaces();

class ScopedNetns {
 public:
  // Creates namespace "<prefix>-<pid>-<counter>" with `lo` up.
  explicit ScopedNetns(const std::string& prefix);
  ~ScopedNetns();
  ScopedNetns(const ScopedNetns&) = delete;
  ScopedNetns& operator=(const ScopedNetns&) = delete;

  const std::string& name() const { return name_; }
  std::string path() const { return "/var/run/netns/" + name_; }
  // Runs a shell command inside the namespace (nsenter --net, so /sys stays the machine's).
  CommandResult Exec(const std::string& command) const;
  std::string MustExec(const std::string& command) const;

 private:
  std::string name_;
};

// Moves the calling thread into a namespace for its lifetime, so in-process kernel code
// (libnl, libiptc, libnftnl) can be tested there; restores the original namespace after.
class EnterNetns {
 public:
  explicit EnterNetns(const ScopedNetns& netns);
  ~EnterNetns();
  EnterNetns(const EnterNetns&) = delete;
  EnterNetns& operator=(const EnterNetns&) = delete;

 private:
  int original_fd_ = -1;
};

}  // namespace dind::testing

// Skips a root test with a clear reason when it cannot create namespaces.
#define DIND_REQUIRE_NETNS()                                                      \
  do {                                                                            \
    if (!::dind::testing::CanCreateNamespaces())                                  \
      GTEST_SKIP() << "needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) to create netns"; \
  } while (0)
