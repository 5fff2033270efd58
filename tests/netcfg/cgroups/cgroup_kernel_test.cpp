// SPDX-License-Identifier: Apache-2.0
// The nesting executor on this machine's real cgroups (label root). Every cgroup is made below
// one the test creates (dnc-test-<pid>…) and removed at the end, also when the test fails; the
// processes in them are the test's own `sleep`s and forked children; mounts are made only in
// private mount namespaces of forked children, which end with them.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "netcfg/cgroups/cgroup_nesting.h"
#include "tests/mocks/temp_dir.h"

namespace dind::netcfg {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

bool WriteText(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

// This process's path in the hierarchy whose /proc/self/cgroup line has `controllers`.
std::string OwnPath(const std::string& controllers) {
  std::istringstream lines(ReadText("/proc/self/cgroup"));
  std::string line;
  while (std::getline(lines, line)) {
    const auto first = line.find(':');
    const auto second = line.find(':', first + 1);
    if (line.substr(first + 1, second - first - 1) == controllers) return line.substr(second + 1);
  }
  return {};
}

std::string Join(const std::string& mount, const std::string& path) {
  return path == "/" ? mount : mount + path;
}

std::vector<pid_t> PidsIn(const std::string& cgroup) {
  std::vector<pid_t> pids;
  std::istringstream in(ReadText(cgroup + "/cgroup.procs"));
  pid_t pid;
  while (in >> pid) pids.push_back(pid);
  return pids;
}

// A `sleep` started in `cgroup` (it moves itself before exec).
// Returns once the sleeper has joined `cgroup` and exec'd: its end of a close-on-exec pipe
// closes only then. Returning earlier let a loaded machine run the sleeper's own write after the
// test had moved it, putting it back where the test had just emptied.
pid_t SleepIn(const std::string& cgroup) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    if (!WriteText(cgroup + "/cgroup.procs", std::to_string(::getpid()))) ::_exit(126);
    ::execlp("sleep", "sleep", "60", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  char byte;
  while (::read(fds[0], &byte, 1) < 0 && errno == EINTR) {
  }
  ::close(fds[0]);
  return pid;
}

void Stop(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

bool WaitFor(const std::function<bool()>& condition) {
  for (int i = 0; i < 200; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

// A cgroup the test made, removed with everything below it when the test ends. Processes
// left in it are the test's own (forked children and their sleeps): they are killed first.
class TestCgroup {
 public:
  explicit TestCgroup(std::string path) : path_(std::move(path)) {
    made_ = ::mkdir(path_.c_str(), 0755) == 0;
    if (!made_) ADD_FAILURE() << "mkdir " << path_ << ": " << std::strerror(errno);
  }
  ~TestCgroup() {
    if (!made_) return;
    KillAll(path_);
    RemoveTree(path_);
    std::error_code ignored;
    EXPECT_FALSE(std::filesystem::exists(path_, ignored)) << path_ << " was left behind";
  }
  TestCgroup(const TestCgroup&) = delete;
  TestCgroup& operator=(const TestCgroup&) = delete;

  const std::string& path() const { return path_; }
  bool made() const { return made_; }

 private:
  static std::vector<std::string> Subdirs(const std::string& path) {
    std::vector<std::string> dirs;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
      if (entry.is_directory(ec)) dirs.push_back(entry.path().string());
    }
    return dirs;
  }
  static void KillAll(const std::string& path) {
    for (const auto& dir : Subdirs(path)) KillAll(dir);
    for (pid_t pid : PidsIn(path)) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, WNOHANG);
    }
    WaitFor([&] { return PidsIn(path).empty(); });
  }
  static void RemoveTree(const std::string& path) {
    for (const auto& dir : Subdirs(path)) RemoveTree(dir);
    ::rmdir(path.c_str());
  }

  std::string path_;
  bool made_ = false;
};

// Runs `body` in a forked child (which may unshare namespaces and mount) and reports every
// failure line it wrote. The child never returns into gtest.
void InChild(const std::function<void(std::vector<std::string>&)>& body) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    std::vector<std::string> failures;
    body(failures);
    std::string text;
    for (const auto& failure : failures) text += failure + "\n";
    if (!text.empty()) (void)!::write(fds[1], text.data(), text.size());
    ::_exit(failures.empty() ? 0 : 1);
  }
  ::close(fds[1]);
  std::string output;
  char buffer[4096];
  ssize_t got;
  while ((got = ::read(fds[0], buffer, sizeof buffer)) > 0) output.append(buffer, got);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
}

#define CHILD_EXPECT(condition, message)                                            \
  do {                                                                              \
    if (!(condition)) failures.push_back(std::string(#condition ": ") + (message)); \
  } while (0)

SystemFacts FactsHere() {
  SystemFacts facts;
  facts.proc_self_mountinfo = ReadText("/proc/self/mountinfo");
  facts.proc_self_cgroup = ReadText("/proc/self/cgroup");
  facts.self_pid = static_cast<int>(::getpid());
  return facts;
}

constexpr char kMemory[] = "/sys/fs/cgroup/memory";
constexpr char kUnified[] = "/sys/fs/cgroup/unified";

class CgroupKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  }
  static std::string TestName(const std::string& suffix) {
    return "/dnc-test-" + std::to_string(::getpid()) + suffix;
  }
};

// v1 (this VM): nested cgroups below a cgroup the test made; the busy one is kept and named,
// and after its process ends none is left.
TEST_F(CgroupKernelTest, V1CleanupRemovesNestedCgroupsAndKeepsBusyOnes) {
  const std::string own = OwnPath("memory");
  if (own.empty() || !std::filesystem::exists(std::string(kMemory) + "/cgroup.procs")) {
    GTEST_SKIP() << "no v1 memory hierarchy at " << kMemory;
  }
  TestCgroup test(Join(kMemory, own) + TestName(""));
  ASSERT_TRUE(test.made());
  const std::string parent = test.path() + "/dind";
  for (const auto& dir : {parent, parent + "/c1", parent + "/c2", parent + "/c2/nested"}) {
    ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0) << dir;
  }
  const pid_t sleeper = SleepIn(parent + "/c1");
  ASSERT_TRUE(WaitFor([&] { return PidsIn(parent + "/c1").size() == 1; }));

  LocalCgroupFs fs;
  auto first = RemoveEmptyCgroupsBelow(parent, fs);
  ASSERT_TRUE(first.ok()) << first.error().Message();
  EXPECT_THAT(first->removed, ::testing::ElementsAre(parent + "/c2/nested", parent + "/c2"));
  EXPECT_THAT(first->kept, ::testing::ElementsAre(parent + "/c1: still holds process " +
                                                  std::to_string(sleeper)));
  Stop(sleeper);
  ASSERT_TRUE(WaitFor([&] { return PidsIn(parent + "/c1").empty(); }));
  auto second = RemoveEmptyCgroupsBelow(parent, fs);
  ASSERT_TRUE(second.ok()) << second.error().Message();
  EXPECT_THAT(second->removed, ::testing::ElementsAre(parent + "/c1"));
  EXPECT_THAT(second->kept, IsEmpty());
  auto left = fs.ListSubdirs(parent);
  ASSERT_TRUE(left.ok());
  EXPECT_THAT(*left, IsEmpty());
}

// What the planner decides from this process's own /proc/self on this machine.
TEST_F(CgroupKernelTest, PlanFromThisMachinesOwnFacts) {
  const auto facts = FactsHere();
  const auto plan = PlanCgroupNesting(facts, "the test");
  EXPECT_EQ(plan.read_from, "/proc/self of pid " + std::to_string(::getpid()) + ", the test");
  const auto decision = DecideCgroupParent(facts);
  EXPECT_EQ(plan.version, decision.version);
  if (plan.mode == CgroupNestingMode::kV1HostHierarchy) {
    EXPECT_EQ(plan.cgroup_parent, decision.parent);
    EXPECT_THAT(plan.cleanup_below, Contains(Join(kMemory, *decision.parent)));
  }
  RecordProperty("mode", CgroupNestingModeName(plan.mode));
  RecordProperty("reason", plan.reason);
}

// v1 with the container's own cgroup mounted as the root (the KIND-in-Kubernetes case), made
// in a child: it moves into the test cgroup, and in a private mount namespace mounts that
// cgroup as /sys/fs/cgroup/memory. The plan from its own /proc/self bind-mounts the root onto
// the host path; a second plan finds it done.
TEST_F(CgroupKernelTest, V1OwnRootBindMountMakesTheHostPathExist) {
  const std::string own = OwnPath("memory");
  if (own.empty() || !std::filesystem::exists(std::string(kMemory) + "/cgroup.procs")) {
    GTEST_SKIP() << "no v1 memory hierarchy at " << kMemory;
  }
  TestCgroup test(Join(kMemory, own) + TestName("-bind"));
  ASSERT_TRUE(test.made());
  testing::TempDir stage;
  const std::string host_path = (own == "/" ? std::string() : own) + TestName("-bind");

  InChild([&](std::vector<std::string>& failures) {
    CHILD_EXPECT(WriteText(test.path() + "/cgroup.procs", std::to_string(::getpid())),
                 "joining " + test.path());
    CHILD_EXPECT(::unshare(CLONE_NEWNS) == 0, std::strerror(errno));
    CHILD_EXPECT(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0,
                 std::strerror(errno));
    CHILD_EXPECT(::mount(test.path().c_str(), stage.path().c_str(), nullptr, MS_BIND, nullptr) == 0,
                 std::strerror(errno));
    CHILD_EXPECT(::mount("tmpfs", "/sys/fs/cgroup", "tmpfs", 0, "mode=755") == 0,
                 std::strerror(errno));
    CHILD_EXPECT(::mkdir(kMemory, 0755) == 0, std::strerror(errno));
    CHILD_EXPECT(::mount(stage.path().c_str(), kMemory, nullptr, MS_MOVE, nullptr) == 0,
                 std::strerror(errno));
    if (!failures.empty()) return;

    const auto plan = PlanCgroupNesting(FactsHere(), "the test child");
    CHILD_EXPECT(plan.mode == CgroupNestingMode::kV1OwnRootBindMounts, plan.reason);
    CHILD_EXPECT(plan.own_path == host_path, plan.own_path);
    CHILD_EXPECT(plan.bind_mounts.size() == 1, std::to_string(plan.bind_mounts.size()));
    LocalCgroupFs fs;
    auto applied = ApplyCgroupNesting(plan, fs);
    CHILD_EXPECT(applied.ok(), applied.ok() ? "" : applied.error().Message());
    if (!applied.ok()) return;
    CHILD_EXPECT(applied->done, applied->warnings.empty() ? "" : applied->warnings[0]);
    // The host path shows this container's cgroup: the child itself is in it.
    const std::string inside = std::string(kMemory) + host_path;
    const auto pids = PidsIn(inside);
    CHILD_EXPECT(std::find(pids.begin(), pids.end(), ::getpid()) != pids.end(),
                 ReadText(inside + "/cgroup.procs"));
    const auto again = PlanCgroupNesting(FactsHere(), "the test child");
    CHILD_EXPECT(again.bind_mounts.empty() && again.create.empty(), again.reason);
    CHILD_EXPECT(again.reason.find("in place already") != std::string::npos, again.reason);
  });
  // The child's mount namespace ended with it; the directories it made stay below the test
  // cgroup until removed.
  LocalCgroupFs fs;
  auto cleanup = RemoveEmptyCgroupsBelow(test.path(), fs);
  ASSERT_TRUE(cleanup.ok()) << cleanup.error().Message();
  EXPECT_THAT(cleanup->kept, IsEmpty());
  EXPECT_FALSE(cleanup->removed.empty());
}

// cgroup v2 on a cgroup2 file system mounted in a child's private mount namespace, below a test
// cgroup: init/dind made, the child and its sleep moved into init, subtree_control written as
// far as the machine offers controllers, a nested "container" below dind kept while busy and
// removed once its process ended; a second run finds the split done. With `cgroupns` the child
// also unshares its cgroup namespace, so it sees the test cgroup as "/".
void V2Split(bool cgroupns, const std::string& name) {
  const std::string own = OwnPath("");
  if (!std::filesystem::exists(std::string(kUnified) + "/cgroup.procs")) {
    GTEST_SKIP() << "no cgroup2 hierarchy at " << kUnified;
  }
  TestCgroup test(Join(kUnified, own) + name);
  ASSERT_TRUE(test.made());
  const std::string test_path = (own == "/" ? std::string() : own) + name;  // in the hierarchy

  InChild([&](std::vector<std::string>& failures) {
    CHILD_EXPECT(WriteText(test.path() + "/cgroup.procs", std::to_string(::getpid())),
                 "joining " + test.path());
    const pid_t sleeper = SleepIn(test.path());
    CHILD_EXPECT(WaitFor([&] { return PidsIn(test.path()).size() == 2; }),
                 ReadText(test.path() + "/cgroup.procs"));
    CHILD_EXPECT(::unshare(CLONE_NEWNS | (cgroupns ? CLONE_NEWCGROUP : 0)) == 0,
                 std::strerror(errno));
    CHILD_EXPECT(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0,
                 std::strerror(errno));
    CHILD_EXPECT(::mount("none", "/sys/fs/cgroup", "cgroup2", 0, nullptr) == 0,
                 std::strerror(errno));
    if (!failures.empty()) {
      Stop(sleeper);
      return;
    }
    const std::string base =
        cgroupns ? std::string("/sys/fs/cgroup") : "/sys/fs/cgroup" + test_path;
    const std::string parent = cgroupns ? std::string("/dind") : test_path + "/dind";

    const auto plan = PlanCgroupNesting(FactsHere(), "the test child");
    CHILD_EXPECT(plan.version == "v2", plan.version + ": " + plan.reason);
    CHILD_EXPECT(plan.mode == CgroupNestingMode::kV2Split, plan.reason);
    CHILD_EXPECT(plan.cgroup_parent == parent, plan.cgroup_parent.value_or("(none)"));
    LocalCgroupFs fs;
    auto applied = ApplyCgroupNesting(plan, fs);
    CHILD_EXPECT(applied.ok(), applied.ok() ? "" : applied.error().Message());
    if (!applied.ok()) {
      Stop(sleeper);
      return;
    }
    CHILD_EXPECT(applied->done, applied->warnings.empty() ? "" : applied->warnings[0]);
    CHILD_EXPECT(PidsIn(base).empty(), ReadText(base + "/cgroup.procs"));
    const auto moved = PidsIn(base + "/init");
    CHILD_EXPECT(std::find(moved.begin(), moved.end(), ::getpid()) != moved.end() &&
                     std::find(moved.begin(), moved.end(), sleeper) != moved.end(),
                 ReadText(base + "/init/cgroup.procs"));
    // Every controller offered is enabled in both (this VM's cgroup2 may offer none).
    for (const auto& dir : {base, base + "/dind"}) {
      std::istringstream offered(ReadText(dir + "/cgroup.controllers"));
      const std::string enabled = ReadText(dir + "/cgroup.subtree_control");
      std::string controller;
      while (offered >> controller) {
        CHILD_EXPECT(enabled.find(controller) != std::string::npos, dir + ": " + controller);
      }
    }
    // dockerd's container below cgroup-parent, busy, then gone.
    const std::string container = base + "/dind/c1";
    CHILD_EXPECT(::mkdir(container.c_str(), 0755) == 0, std::strerror(errno));
    CHILD_EXPECT(::mkdir((container + "/nested").c_str(), 0755) == 0, std::strerror(errno));
    const pid_t contained = SleepIn(container);
    CHILD_EXPECT(WaitFor([&] { return PidsIn(container).size() == 1; }), "sleep in c1");
    auto busy = RemoveEmptyCgroupsBelow(base + "/dind", fs);
    CHILD_EXPECT(busy.ok() && busy->kept.size() == 1 &&
                     busy->kept[0].find(std::to_string(contained)) != std::string::npos,
                 busy.ok() && !busy->kept.empty() ? busy->kept[0] : "nothing kept");
    Stop(contained);
    WaitFor([&] { return PidsIn(container).empty(); });
    auto done = RemoveEmptyCgroupsBelow(base + "/dind", fs);
    CHILD_EXPECT(done.ok() && done->kept.empty() && done->removed.size() == 1,
                 done.ok() ? std::to_string(done->removed.size()) : done.error().Message());
    CHILD_EXPECT(!std::filesystem::exists(container), container);

    // A second run: the child now sits in init; the plan reuses the split.
    const auto again_plan = PlanCgroupNesting(FactsHere(), "the test child");
    CHILD_EXPECT(again_plan.cgroup_parent == parent, again_plan.reason);
    auto again = ApplyCgroupNesting(again_plan, fs);
    CHILD_EXPECT(again.ok() && again->done && again->created.empty(),
                 again.ok() ? again_plan.reason : again.error().Message());
    Stop(sleeper);
  });
  // init and dind stay below the test cgroup until it is removed (the destructor checks it is).
  LocalCgroupFs fs;
  auto cleanup = RemoveEmptyCgroupsBelow(test.path(), fs);
  ASSERT_TRUE(cleanup.ok()) << cleanup.error().Message();
  EXPECT_THAT(cleanup->kept, IsEmpty());
  EXPECT_THAT(cleanup->removed, Contains(test.path() + "/init"));
  EXPECT_THAT(cleanup->removed, Contains(test.path() + "/dind"));
}

TEST_F(CgroupKernelTest, V2SplitInTheHostCgroupNamespace) {
  V2Split(false, TestName("-v2"));
}

TEST_F(CgroupKernelTest, V2SplitInACgroupNamespace) {
  V2Split(true, TestName("-v2ns"));
}

}  // namespace
}  // namespace dind::netcfg
