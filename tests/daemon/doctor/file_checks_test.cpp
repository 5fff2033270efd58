// SPDX-License-Identifier: Apache-2.0
// The checks read from files: each pure check on values, and FileChecks on a root whose /proc,
// /sys, /dev and /lib a test writes into a temp dir.
#include "daemon/doctor/file_checks.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/utsname.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <vector>

#include "daemon/doctor/doctor_facts.h"
#include "tests/mocks/temp_dir.h"

namespace dind::doctor {
namespace {

using ::dind::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

const FileText kAbsent = Error::Environment("reading x", ENOENT);
const FileText kDenied = Error::Environment("reading x", EACCES);

// The header and two CPUs of /proc/net/stat/nf_conntrack (Linux 6.1); drop is column 11,
// early_drop 12, both hex.
std::string ConntrackStat(const std::string& cpu0_drop, const std::string& cpu1_early_drop) {
  return "entries  clashres found new invalid ignore delete chainlength insert insert_failed "
         "drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n"
         "00000010  00000000 00000000 00000000 00000003 00000000 00000000 00000000 00000000 "
         "00000000 " +
         cpu0_drop +
         " 00000000 00000000  00000000 00000000 00000000 00000000\n"
         "00000010  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 "
         "00000000 00000000 " +
         cpu1_early_drop + " 00000000  00000000 00000000 00000000 00000000\n";
}
const std::string kNoDrops = ConntrackStat("00000000", "00000000");

TEST(ConntrackTest, StatusByShareOfTheMaximum) {
  struct Case {
    std::string count;
    CheckStatus status;
  };
  for (const Case& c : {Case{"0\n", CheckStatus::kOk}, Case{"749\n", CheckStatus::kOk},
                        Case{"750\n", CheckStatus::kWarn}, Case{"899\n", CheckStatus::kWarn},
                        Case{"900\n", CheckStatus::kFail}, Case{"1000\n", CheckStatus::kFail}}) {
    const CheckResult result = CheckConntrack(c.count, std::string("1000\n"), kNoDrops);
    EXPECT_EQ(result.id, "conntrack");
    EXPECT_EQ(result.status, c.status) << c.count << result.summary;
    EXPECT_EQ(result.observed["max"], 1000);
    EXPECT_EQ(result.fix.empty(), c.status == CheckStatus::kOk) << result.fix;
  }
  const CheckResult full = CheckConntrack(std::string("950"), std::string("1000"), kNoDrops);
  EXPECT_THAT(full.summary, HasSubstr("950 of 1000 conntrack entries"));
  EXPECT_THAT(full.fix, HasSubstr("net.netfilter.nf_conntrack_max on the node"));
}

TEST(ConntrackTest, DropsOnAnyCpuWarn) {
  const CheckResult result =
      CheckConntrack(std::string("10"), std::string("1000"), ConntrackStat("0000000a", "00000001"));
  EXPECT_EQ(result.status, CheckStatus::kWarn);
  EXPECT_EQ(result.observed["drops"], 11);
  EXPECT_THAT(result.summary, HasSubstr("11 packets dropped"));
  // A fail stays a fail.
  EXPECT_EQ(CheckConntrack(std::string("990"), std::string("1000"), ConntrackStat("1", "0")).status,
            CheckStatus::kFail);
}

TEST(ConntrackTest, WhatCannotBeReadIsUnknownNeverOk) {
  const CheckResult not_loaded = CheckConntrack(kAbsent, kAbsent, kAbsent);
  EXPECT_EQ(not_loaded.status, CheckStatus::kUnknown);
  EXPECT_EQ(not_loaded.summary, "nf_conntrack not loaded in this network namespace");
  EXPECT_EQ(CheckConntrack(kDenied, std::string("1"), kNoDrops).status, CheckStatus::kUnknown);
  EXPECT_EQ(CheckConntrack(std::string("1"), kDenied, kNoDrops).status, CheckStatus::kUnknown);
  EXPECT_EQ(CheckConntrack(std::string("x"), std::string("1"), kNoDrops).status,
            CheckStatus::kUnknown);
  EXPECT_EQ(CheckConntrack(std::string("1"), std::string("0"), kNoDrops).status,
            CheckStatus::kUnknown);
  // Without the stat file the share is still judged, and the drops are said to be unknown.
  const CheckResult no_stat = CheckConntrack(std::string("1"), std::string("10"), kAbsent);
  EXPECT_EQ(no_stat.status, CheckStatus::kOk);
  EXPECT_THAT(no_stat.summary, HasSubstr("drops unknown"));
}

TEST(ConntrackTest, DropSumNeedsTheNamedColumns) {
  EXPECT_EQ(SumConntrackDrops(ConntrackStat("000000ff", "00000100")).value(), 511u);
  EXPECT_FALSE(SumConntrackDrops("entries found\n00000001 00000002\n"));
  EXPECT_FALSE(SumConntrackDrops("entries drop early_drop\n1 2\n"));
  EXPECT_FALSE(SumConntrackDrops("entries drop early_drop\n1 zz 2\n"));
  EXPECT_FALSE(SumConntrackDrops(""));
}

TEST(UidMapTest, OnlyTheFullIdentityIsTheNodesNamespace) {
  EXPECT_TRUE(ParseUidMap("         0          0 4294967295\n")->initial);
  const auto pod = ParseUidMap("         0  833617920      65536\n");
  ASSERT_TRUE(pod);
  EXPECT_FALSE(pod->initial);
  EXPECT_THAT(pod->lines, ElementsAre("0 833617920 65536"));
  EXPECT_FALSE(ParseUidMap("")->initial);  // as moby: an empty map is a user namespace
  EXPECT_FALSE(ParseUidMap("0 0\n"));
}

TEST(UsernsTest, TheNodesNamespaceIsOk) {
  const CheckResult result =
      CheckUserns(std::string("0 0 4294967295\n"), kAbsent, std::string("filter\n"));
  EXPECT_EQ(result.status, CheckStatus::kOk);
  EXPECT_EQ(result.observed["user_namespace"], false);
}

TEST(UsernsTest, SaysTheMappingAndWhatCannotWork) {
  const CheckResult delegated = CheckUserns(std::string("0 833617920 65536\n"),
                                            std::string("cpuset cpu io memory hugetlb pids\n"),
                                            std::string("filter\nnat\nraw\n"));
  EXPECT_EQ(delegated.status, CheckStatus::kWarn);
  EXPECT_THAT(delegated.summary, HasSubstr("uid_map 0 833617920 65536"));
  EXPECT_THAT(delegated.summary, HasSubstr("module loads"));
  EXPECT_THAT(delegated.summary, Not(HasSubstr("cgroup writes")));
  EXPECT_THAT(delegated.summary, Not(HasSubstr("legacy")));
  EXPECT_THAT(delegated.fix, HasSubstr("hostUsers: true"));

  const CheckResult bare = CheckUserns(std::string("0 100000 65536\n"),
                                       std::string("cpuset cpu io\n"), std::string("filter\n"));
  EXPECT_THAT(bare.summary, HasSubstr("cgroup writes (memory, pids not delegated)"));
  EXPECT_THAT(bare.summary, HasSubstr("legacy iptables tables not loaded by the node (nat, raw)"));

  const CheckResult v1 = CheckUserns(std::string("0 100000 65536\n"), kAbsent, kAbsent);
  EXPECT_THAT(v1.summary, HasSubstr("cgroup v1 cannot be delegated"));
  EXPECT_THAT(v1.summary, HasSubstr("(filter, nat, raw)"));
}

TEST(UsernsTest, UnreadableMapIsUnknown) {
  EXPECT_EQ(CheckUserns(kDenied, kAbsent, kAbsent).status, CheckStatus::kUnknown);
  EXPECT_EQ(CheckUserns(std::string("garbage\n"), kAbsent, kAbsent).status, CheckStatus::kUnknown);
}

TEST(KindInotifyTest, KindsNumbersOrAWarningWithTheNodeFix) {
  EXPECT_EQ(CheckKindInotify(std::string("524288\n"), std::string("512\n")).status,
            CheckStatus::kOk);
  const CheckResult ubuntu = CheckKindInotify(std::string("8192\n"), std::string("128\n"));
  EXPECT_EQ(ubuntu.status, CheckStatus::kWarn);
  EXPECT_THAT(ubuntu.summary, HasSubstr("max_user_watches < 524288, max_user_instances < 512"));
  EXPECT_THAT(ubuntu.fix, HasSubstr("on the node"));
  EXPECT_EQ(CheckKindInotify(std::string("524288"), std::string("128")).status, CheckStatus::kWarn);
  EXPECT_EQ(CheckKindInotify(kAbsent, std::string("512")).status, CheckStatus::kUnknown);
}

TEST(KindKmsgTest, MustBeACharacterDevice) {
  struct stat null_device {};
  ASSERT_EQ(::stat("/dev/null", &null_device), 0);
  EXPECT_EQ(CheckKindKmsg(null_device).status, CheckStatus::kOk);
  struct stat regular {};
  ASSERT_EQ(::stat("/proc/self/status", &regular), 0);
  EXPECT_EQ(CheckKindKmsg(regular).status, CheckStatus::kFail);
  const CheckResult missing = CheckKindKmsg(Error::Environment("stat", ENOENT));
  EXPECT_EQ(missing.status, CheckStatus::kFail);
  EXPECT_THAT(missing.fix, HasSubstr("CharDevice"));
  EXPECT_EQ(CheckKindKmsg(Error::Environment("stat", EACCES)).status, CheckStatus::kUnknown);
}

TEST(KindModulesTest, TheRunningKernelsModulesOrAWarning) {
  using Names = std::vector<std::string>;
  EXPECT_EQ(CheckKindModules(Names{"6.1.0-9", "6.1.0-10"}, "6.1.0-10").status, CheckStatus::kOk);
  const CheckResult other = CheckKindModules(Names{"6.1.0-9"}, "6.1.0-10");
  EXPECT_EQ(other.status, CheckStatus::kWarn);
  EXPECT_THAT(other.summary, HasSubstr("not the running kernel's 6.1.0-10"));
  EXPECT_EQ(CheckKindModules(Names{}, "6.1.0-10").status, CheckStatus::kWarn);
  const CheckResult missing = CheckKindModules(Error::Environment("list", ENOENT), "6.1.0-10");
  EXPECT_EQ(missing.status, CheckStatus::kWarn);
  EXPECT_THAT(missing.fix, HasSubstr("read-only hostPath"));
  EXPECT_EQ(CheckKindModules(Error::Environment("list", EACCES), "6.1.0-10").status,
            CheckStatus::kUnknown);
}

TEST(KindCgroupnsTest, V2OrV1InACgroupNamespace) {
  EXPECT_EQ(CheckKindCgroupns(std::string("cpu memory pids\n"), kAbsent).status, CheckStatus::kOk);
  EXPECT_EQ(CheckKindCgroupns(kAbsent, std::string("5:memory:/\n4:cpu,cpuacct:/\n0::/\n")).status,
            CheckStatus::kOk);
  const CheckResult host = CheckKindCgroupns(
      kAbsent, std::string("4:cpuacct,cpu:/kubepods/pod1/abc\n1:name=systemd:/\n"));
  EXPECT_EQ(host.status, CheckStatus::kWarn);
  EXPECT_THAT(host.summary, HasSubstr("/kubepods/pod1/abc"));
  // cpuset is not cpu.
  EXPECT_EQ(CheckKindCgroupns(kAbsent, std::string("3:cpuset:/x\n")).status, CheckStatus::kUnknown);
  EXPECT_EQ(CheckKindCgroupns(kDenied, kAbsent).status, CheckStatus::kUnknown);
}

TEST(KindCgroupDelegationTest, InAUserNamespaceCpuMemoryPidsMustBeDelegated) {
  EXPECT_EQ(CheckKindCgroupDelegation(std::string("0 0 4294967295\n"), kAbsent).status,
            CheckStatus::kOk);
  const std::string pod = "0 100000 65536\n";
  EXPECT_EQ(CheckKindCgroupDelegation(pod, std::string("cpuset cpu io memory pids\n")).status,
            CheckStatus::kOk);
  const CheckResult missing = CheckKindCgroupDelegation(pod, std::string("cpu io\n"));
  EXPECT_EQ(missing.status, CheckStatus::kFail);
  EXPECT_THAT(missing.summary, HasSubstr("memory, pids not delegated"));
  EXPECT_EQ(CheckKindCgroupDelegation(pod, kAbsent).status, CheckStatus::kFail);
}

// A root the test fills: /proc, /sys, /dev and /lib as a pod would show them.
class FakeRoot {
 public:
  void Write(const std::string& absolute, const std::string& content) const {
    const std::filesystem::path path = dir_.path() + absolute;
    std::filesystem::create_directories(path.parent_path());
    ::dind::testing::WriteTestFile(path, content, 0644);
  }
  void MakeDir(const std::string& absolute) const {
    std::filesystem::create_directories(dir_.path() + absolute);
  }
  const std::string& path() const { return dir_.path(); }

 private:
  TempDir dir_;
};

std::vector<std::string> Ids(const std::vector<CheckResult>& results) {
  std::vector<std::string> ids;
  for (const auto& result : results) ids.push_back(result.id);
  return ids;
}

const CheckResult& Find(const std::vector<CheckResult>& results, const std::string& id) {
  for (const auto& result : results) {
    if (result.id == id) return result;
  }
  ADD_FAILURE() << "no check " << id;
  return results.front();
}

TEST(FileChecksTest, ReadsInotifyAndConntrackFromTheFilesATestWrites) {
  FakeRoot root;
  root.Write("/proc/sys/net/netfilter/nf_conntrack_count", "800\n");
  root.Write("/proc/sys/net/netfilter/nf_conntrack_max", "1000\n");
  root.Write("/proc/net/stat/nf_conntrack", kNoDrops);
  root.Write("/proc/self/uid_map", "0 100000 65536\n");
  root.Write("/sys/fs/cgroup/cgroup.controllers", "cpu io memory pids\n");
  root.Write("/proc/net/ip_tables_names", "filter\nnat\nraw\n");
  root.Write("/proc/sys/fs/inotify/max_user_watches", "8192\n");
  root.Write("/proc/sys/fs/inotify/max_user_instances", "512\n");
  root.Write("/dev/kmsg", "a regular file, not the device\n");
  utsname uts{};
  ASSERT_EQ(::uname(&uts), 0);
  root.MakeDir(std::string("/lib/modules/") + uts.release);
  const HostFiles files(root.path());

  DoctorContext plain{files};
  const auto results = FileChecks(plain);
  EXPECT_THAT(Ids(results), ElementsAre("conntrack", "userns"));
  EXPECT_EQ(Find(results, "conntrack").status, CheckStatus::kWarn);
  EXPECT_EQ(Find(results, "conntrack").observed["count"], 800);
  EXPECT_THAT(Find(results, "conntrack").source, HasSubstr("read by doctor pid"));
  EXPECT_EQ(Find(results, "userns").status, CheckStatus::kWarn);

  DoctorContext kind{files};
  kind.for_kind = true;
  const auto kind_results = FileChecks(kind);
  EXPECT_THAT(Ids(kind_results),
              ElementsAre("conntrack", "userns", "kind-inotify", "kind-kmsg", "kind-modules",
                          "kind-cgroupns", "kind-cgroup-delegation"));
  EXPECT_EQ(Find(kind_results, "kind-inotify").status, CheckStatus::kWarn);
  EXPECT_EQ(Find(kind_results, "kind-inotify").observed["max_user_watches"], 8192);
  EXPECT_EQ(Find(kind_results, "kind-kmsg").status, CheckStatus::kFail);
  EXPECT_EQ(Find(kind_results, "kind-modules").status, CheckStatus::kOk);
  EXPECT_EQ(Find(kind_results, "kind-cgroupns").status, CheckStatus::kOk);
  EXPECT_EQ(Find(kind_results, "kind-cgroup-delegation").status, CheckStatus::kOk);
}

TEST(FileChecksTest, AnEmptyRootIsUnknownOrMissingNeverOk) {
  FakeRoot root;
  const HostFiles files(root.path());
  DoctorContext kind{files};
  kind.for_kind = true;
  for (const auto& result : FileChecks(kind)) {
    EXPECT_NE(result.status, CheckStatus::kOk) << result.id << ": " << result.summary;
    EXPECT_FALSE(result.fix.empty()) << result.id;
  }
}

// /proc as a pod with two dockerds would show it (a dind container and a second one beside).
void WriteDockerd(const FakeRoot& root, int pid, const std::string& cmdline) {
  const std::string proc = "/proc/" + std::to_string(pid);
  root.Write(proc + "/comm", "dockerd\n");
  root.Write(proc + "/cmdline", cmdline);
  root.MakeDir(proc + "/root");
}

TEST(FactsProcessTest, AutoFindsTheDockerdServingTheSocket) {
  FakeRoot root;
  root.Write("/proc/5/comm", "bash\n");
  root.Write("/proc/5/cmdline", std::string("bash\0", 5));
  WriteDockerd(root, 77, std::string("dockerd\0-H\0unix:///run/a.sock\0", 30));
  const HostFiles files(root.path());

  // One dockerd: it, whatever its socket.
  auto only = ChooseFactsProcess(files, "auto", "/var/run/docker.sock");
  ASSERT_TRUE(only.ok()) << only.error().Message();
  EXPECT_EQ(only->pid, 77);
  EXPECT_EQ(only->name, "dockerd");
  EXPECT_EQ(only->chosen_by, "the only dockerd visible");
  EXPECT_EQ(only->ProcPath("uid_map"), "/proc/77/uid_map");
  EXPECT_EQ(only->RootPath("/etc/resolv.conf"), "/proc/77/root/etc/resolv.conf");
  EXPECT_EQ(only->Describe(), "dockerd pid 77");

  // Two: the one whose -H/--host names the socket; dockerd's default socket without -H.
  WriteDockerd(root, 78, std::string("dockerd\0--host=unix:///run/b.sock\0", 34));
  WriteDockerd(root, 79, std::string("dockerd\0--debug\0", 16));
  EXPECT_EQ(ChooseFactsProcess(files, "auto", "/run/a.sock")->pid, 77);
  EXPECT_EQ(ChooseFactsProcess(files, "auto", "/run/b.sock")->pid, 78);
  EXPECT_EQ(ChooseFactsProcess(files, "auto", "/var/run/docker.sock")->pid, 79);
  const auto none = ChooseFactsProcess(files, "auto", "/run/c.sock");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->pid, 0);
  EXPECT_THAT(none->chosen_by, HasSubstr("3 dockerds visible, none alone serving /run/c.sock"));
}

TEST(FactsProcessTest, SelfAPidOrAClearError) {
  FakeRoot root;
  WriteDockerd(root, 77, std::string("dockerd\0", 8));
  const HostFiles files(root.path());
  const auto self = ChooseFactsProcess(files, "self", "/var/run/docker.sock");
  ASSERT_TRUE(self.ok());
  EXPECT_EQ(self->pid, 0);
  EXPECT_EQ(self->ProcPath("cgroup"), "/proc/self/cgroup");
  EXPECT_EQ(self->RootPath("/dev/kmsg"), "/dev/kmsg");
  EXPECT_THAT(self->Describe(), HasSubstr("doctor pid "));
  EXPECT_EQ(ChooseFactsProcess(files, "77", "")->name, "dockerd");
  for (const char* bad : {"x", "77x", "0", "-3", "99"}) {
    const auto chosen = ChooseFactsProcess(files, bad, "/var/run/docker.sock");
    ASSERT_FALSE(chosen.ok()) << bad;
    EXPECT_EQ(chosen.error().ExitCode(), 2) << bad;
    EXPECT_THAT(chosen.error().Message(), HasSubstr(std::string("--pid ") + bad)) << bad;
  }
}

TEST(FactsProcessTest, ADockerdWhoseRootCannotBeReadLeavesDoctorsOwn) {
  FakeRoot root;
  root.Write("/proc/77/comm", "dockerd\n");
  root.Write("/proc/77/cmdline", std::string("dockerd\0", 8));
  const HostFiles files(root.path());
  const auto chosen = ChooseFactsProcess(files, "auto", "/var/run/docker.sock");
  ASSERT_TRUE(chosen.ok());
  EXPECT_EQ(chosen->pid, 0);
  EXPECT_THAT(chosen->chosen_by, HasSubstr("dockerd pid 77 visible but its root unreadable"));
}

TEST(FileChecksTest, ContainerFactsAreDockerdsWhenDoctorRunsBesideIt) {
  FakeRoot root;
  // Doctor's own container: a user namespace, no cgroup controllers, no /dev/kmsg.
  root.Write("/proc/self/uid_map", "0 100000 65536\n");
  root.Write("/sys/fs/cgroup/cgroup.controllers", "\n");
  // dockerd's (pid 77): privileged, every controller, /dev/kmsg.
  WriteDockerd(root, 77, std::string("dockerd\0", 8));
  root.Write("/proc/77/uid_map", "0 0 4294967295\n");
  root.Write("/proc/77/net/ip_tables_names", "filter\nnat\nraw\n");
  root.Write("/proc/77/cgroup", "0::/\n");
  root.Write("/proc/77/root/sys/fs/cgroup/cgroup.controllers", "cpu io memory pids\n");
  root.Write("/proc/77/root/dev/kmsg", "a regular file, not the device\n");
  const HostFiles files(root.path());
  DoctorContext context{files};
  context.for_kind = true;
  context.process = ChooseFactsProcess(files, "auto", "/var/run/docker.sock").value();
  const auto results = FileChecks(context);
  const CheckResult& userns = Find(results, "userns");
  EXPECT_EQ(userns.status, CheckStatus::kOk) << userns.summary;
  EXPECT_THAT(userns.source, HasSubstr("as dockerd pid 77 sees them, through /proc/77"));
  EXPECT_EQ(Find(results, "kind-cgroup-delegation").status, CheckStatus::kOk);
  // Read through dockerd's root: present but not a character device, so fail (absent: warn).
  EXPECT_EQ(Find(results, "kind-kmsg").status, CheckStatus::kFail);
  EXPECT_THAT(Find(results, "conntrack").source, HasSubstr("read by doctor pid"));

  context.process = ChooseFactsProcess(files, "self", "").value();
  EXPECT_EQ(Find(FileChecks(context), "userns").status, CheckStatus::kWarn);
}

TEST(RunAllChecksTest, RunsTheFileChecks) {
  FakeRoot root;
  const HostFiles files(root.path());
  const auto results = RunAllChecks(DoctorContext{files});
  EXPECT_THAT(Ids(results), ::testing::IsSupersetOf({"conntrack", "userns"}));
}

}  // namespace
}  // namespace dind::doctor
