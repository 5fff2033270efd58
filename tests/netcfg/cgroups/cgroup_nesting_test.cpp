// SPDX-License-Identifier: Apache-2.0
// The entrypoint's cgroup nesting: every decision from sample mountinfo and /proc/self/cgroup
// texts, the executor against the in-memory cgroup tree, and who may write cgroup-parent.
#include "netcfg/cgroups/cgroup_nesting.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "netcfg/detect/daemon_json_plan.h"
#include "netcfg/detect/detection_report.h"
#include "netcfg/detect/detector.h"
#include "tests/mocks/fake_cgroup_fs.h"
#include "tests/netcfg/detect/fixtures.h"

namespace dind::netcfg {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using FakeFs = dind::testing::FakeCgroupFs;

SystemFacts Facts(const std::string& mountinfo, const std::string& cgroup) {
  SystemFacts facts;
  facts.proc_self_mountinfo = mountinfo;
  facts.proc_self_cgroup = cgroup;
  facts.self_pid = 1;
  return facts;
}

// --- Samples -----------------------------------------------------------------------------

// Kubernetes on cgroup v1 (containerd, cgroupfs driver), no cgroup namespace: every hierarchy
// shows the container's own cgroup as its root, /proc/self/cgroup the host path.
constexpr const char* kK8sV1Path = "/kubepods/burstable/pod1234/abcd";
constexpr const char* kK8sV1Mounts =
    "1000 990 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw,mode=755\n"
    "1001 1000 0:27 /kubepods/burstable/pod1234/abcd /sys/fs/cgroup/systemd "
    "rw,nosuid,nodev,noexec,relatime master:9 - cgroup cgroup rw,xattr,name=systemd\n"
    "1002 1000 0:30 /kubepods/burstable/pod1234/abcd /sys/fs/cgroup/cpu,cpuacct "
    "rw,nosuid,nodev,noexec,relatime master:14 - cgroup cgroup rw,cpu,cpuacct\n"
    "1003 1000 0:31 /kubepods/burstable/pod1234/abcd /sys/fs/cgroup/memory "
    "rw,nosuid,nodev,noexec,relatime master:15 - cgroup cgroup rw,memory\n"
    "1004 1000 0:32 /kubepods/burstable/pod1234/abcd /sys/fs/cgroup/pids "
    "rw,nosuid,nodev,noexec,relatime master:16 - cgroup cgroup rw,pids\n";
constexpr const char* kK8sV1Cgroup =
    "12:pids:/kubepods/burstable/pod1234/abcd\n"
    "4:memory:/kubepods/burstable/pod1234/abcd\n"
    "3:cpu,cpuacct:/kubepods/burstable/pod1234/abcd\n"
    "1:name=systemd:/kubepods/burstable/pod1234/abcd\n"
    "0::/\n";

// The same pod with hostPath /sys/fs/cgroup: the host's hierarchies, roots "/".
constexpr const char* kHostPathV1Mounts =
    "1000 990 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime master:8 - tmpfs tmpfs "
    "ro,mode=755\n"
    "1001 1000 0:27 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime master:9 - "
    "cgroup cgroup rw,xattr,name=systemd\n"
    "1002 1000 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime master:14 - "
    "cgroup cgroup rw,cpu,cpuacct\n"
    "1003 1000 0:31 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime master:15 - cgroup "
    "cgroup rw,memory\n";

// cgroup v2 in a cgroup namespace (Docker ≥ 20.10 and Kubernetes on v2 by default).
constexpr const char* kV2Mount =
    "30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 "
    "rw,nsdelegate\n";
constexpr const char* kV2ReadOnlyMount =
    "30 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw\n";
// hostPath /sys/fs/cgroup inside a cgroup namespace: the mount's root lies above the namespace.
constexpr const char* kV2HostPathInNamespace =
    "30 25 0:26 /../../.. /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw\n";

TEST(PlanCgroupNestingTest, KubernetesV1WithoutCgroupnsBindMountsEveryHierarchy) {
  const auto plan = PlanCgroupNesting(Facts(kK8sV1Mounts, kK8sV1Cgroup), "the entrypoint");
  EXPECT_EQ(plan.version, "v1");
  EXPECT_EQ(plan.mode, CgroupNestingMode::kV1OwnRootBindMounts);
  EXPECT_EQ(plan.own_path, kK8sV1Path);
  EXPECT_THAT(plan.reason, HasSubstr("cgroups-mounts workaround"));
  ASSERT_EQ(plan.bind_mounts.size(), 4u);
  EXPECT_EQ(plan.bind_mounts[0].subsystem, "pids");
  EXPECT_EQ(plan.bind_mounts[0].source, "/sys/fs/cgroup/pids");
  EXPECT_EQ(plan.bind_mounts[0].target, "/sys/fs/cgroup/pids/kubepods/burstable/pod1234/abcd");
  EXPECT_EQ(plan.bind_mounts[1].target, "/sys/fs/cgroup/memory/kubepods/burstable/pod1234/abcd");
  EXPECT_EQ(plan.bind_mounts[2].source, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(plan.bind_mounts[3].subsystem, "name=systemd");
  // The target's components are created first, parents before children.
  ASSERT_EQ(plan.create.size(), 16u);
  EXPECT_EQ(plan.create[0].path, "/sys/fs/cgroup/pids/kubepods");
  EXPECT_EQ(plan.create[3].path, "/sys/fs/cgroup/pids/kubepods/burstable/pod1234/abcd");
  EXPECT_FALSE(plan.move);
  EXPECT_THAT(plan.enable_controllers_in, IsEmpty());
  EXPECT_FALSE(plan.cgroup_parent) << "dockerd's /docker is below this container already";
  EXPECT_THAT(plan.cleanup_below, Contains("/sys/fs/cgroup/memory/docker"));
  EXPECT_EQ(plan.cleanup_below.size(), 4u);
  EXPECT_EQ(plan.read_from, "/proc/self of pid 1, the entrypoint");
}

TEST(PlanCgroupNestingTest, V1BindMountsAreIdempotent) {
  std::string mounts = kK8sV1Mounts;
  for (const char* subsystem : {"memory", "pids", "cpu,cpuacct", "systemd"}) {
    mounts += std::string("2000 1003 0:31 ") + kK8sV1Path + " /sys/fs/cgroup/" + subsystem +
              kK8sV1Path + " rw,nosuid - cgroup cgroup rw,memory\n";
  }
  const auto plan = PlanCgroupNesting(Facts(mounts, kK8sV1Cgroup), "the entrypoint");
  EXPECT_EQ(plan.mode, CgroupNestingMode::kV1OwnRootBindMounts);
  EXPECT_THAT(plan.bind_mounts, IsEmpty());
  EXPECT_THAT(plan.create, IsEmpty());
  EXPECT_THAT(plan.reason, HasSubstr("in place already"));

  // Only memory bound before: the three others are still to do.
  const auto partly = PlanCgroupNesting(
      Facts(std::string(kK8sV1Mounts) + "2000 1003 0:31 " + kK8sV1Path + " /sys/fs/cgroup/memory" +
                kK8sV1Path + " rw - cgroup cgroup rw,memory\n",
            kK8sV1Cgroup),
      "");
  EXPECT_EQ(partly.bind_mounts.size(), 3u);
  EXPECT_THAT(partly.reason, HasSubstr("1 in place already"));
}

TEST(PlanCgroupNestingTest, V1HostPathHierarchyUsesOwnPathAsParent) {
  const auto plan = PlanCgroupNesting(Facts(kHostPathV1Mounts, kK8sV1Cgroup), "the entrypoint");
  EXPECT_EQ(plan.mode, CgroupNestingMode::kV1HostHierarchy);
  EXPECT_EQ(plan.cgroup_parent, kK8sV1Path);
  EXPECT_THAT(plan.reason, HasSubstr("D2iQ"));
  EXPECT_THAT(plan.create, IsEmpty());
  EXPECT_THAT(plan.bind_mounts, IsEmpty());
  EXPECT_THAT(plan.cleanup_below,
              ElementsAre("/sys/fs/cgroup/systemd/kubepods/burstable/pod1234/abcd",
                          "/sys/fs/cgroup/cpu,cpuacct/kubepods/burstable/pod1234/abcd",
                          "/sys/fs/cgroup/memory/kubepods/burstable/pod1234/abcd"));
}

// This VM: a hybrid host, memory cgroup /process_api/<id>, the other controllers at "/".
TEST(PlanCgroupNestingTest, HybridHostNestsUnderTheMemoryPathInEveryHierarchy) {
  const auto plan = PlanCgroupNesting(
      Facts("31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
            "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
            "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
            "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n",
            "4:memory:/process_api/ae7b\n1:cpu:/\n0::/\n"),
      "");
  EXPECT_EQ(plan.mode, CgroupNestingMode::kV1HostHierarchy);
  EXPECT_EQ(plan.cgroup_parent, "/process_api/ae7b");
  EXPECT_THAT(plan.cleanup_below, ElementsAre("/sys/fs/cgroup/cpu/process_api/ae7b",
                                              "/sys/fs/cgroup/memory/process_api/ae7b"));
}

TEST(PlanCgroupNestingTest, V2InCgroupNamespaceSplitsTheNamespaceRoot) {
  const auto plan = PlanCgroupNesting(Facts(kV2Mount, "0::/\n"), "the entrypoint");
  EXPECT_EQ(plan.version, "v2");
  EXPECT_EQ(plan.mode, CgroupNestingMode::kV2Split);
  EXPECT_THAT(plan.reason, HasSubstr("hack/dind"));
  ASSERT_EQ(plan.create.size(), 2u);
  EXPECT_EQ(plan.create[0].path, "/sys/fs/cgroup/init");
  EXPECT_EQ(plan.create[1].path, "/sys/fs/cgroup/dind");
  ASSERT_TRUE(plan.move);
  EXPECT_EQ(plan.move->from, "/sys/fs/cgroup");
  EXPECT_EQ(plan.move->to, "/sys/fs/cgroup/init");
  EXPECT_THAT(plan.enable_controllers_in, ElementsAre("/sys/fs/cgroup", "/sys/fs/cgroup/dind"));
  EXPECT_EQ(plan.cgroup_parent, "/dind");
  EXPECT_THAT(plan.cleanup_below, ElementsAre("/sys/fs/cgroup/dind"));
}

// docker run --privileged --cgroupns=host on a systemd host: a .scope below system.slice.
TEST(PlanCgroupNestingTest, PrivilegedV2InTheHostCgroupnsSplitsItsOwnScope) {
  const auto plan =
      PlanCgroupNesting(Facts(kV2Mount, "0::/system.slice/docker-0123abcd.scope\n"), "");
  EXPECT_EQ(plan.mode, CgroupNestingMode::kV2Split);
  EXPECT_THAT(plan.reason, HasSubstr("runner.sh"));
  EXPECT_EQ(plan.create[0].path, "/sys/fs/cgroup/system.slice/docker-0123abcd.scope/init");
  EXPECT_EQ(plan.move->from, "/sys/fs/cgroup/system.slice/docker-0123abcd.scope");
  EXPECT_EQ(plan.cgroup_parent, "/system.slice/docker-0123abcd.scope/dind");
}

// Kubernetes with the systemd cgroup driver, hostPath /sys/fs/cgroup, no cgroup namespace.
TEST(PlanCgroupNestingTest, SystemdDriverSliceAndScopePathsAreKeptAsTheyAre) {
  const std::string own =
      "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod12_34.slice/"
      "cri-containerd-abcd.scope";
  const auto plan = PlanCgroupNesting(Facts(kV2Mount, "0::" + own + "\n"), "");
  EXPECT_EQ(plan.mode, CgroupNestingMode::kV2Split);
  EXPECT_EQ(plan.cgroup_parent, own + "/dind");
  EXPECT_EQ(plan.create[1].path, "/sys/fs/cgroup" + own + "/dind");

  // A systemd driver v1 pod: the same .slice/.scope names in every hierarchy.
  const auto v1 = PlanCgroupNesting(
      Facts("1003 1000 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
            "4:memory:" + own + "\n"),
      "");
  EXPECT_EQ(v1.mode, CgroupNestingMode::kV1HostHierarchy);
  EXPECT_EQ(v1.cgroup_parent, own);
}

TEST(PlanCgroupNestingTest, HostSessionScopeIsNotAContainer) {
  const auto plan =
      PlanCgroupNesting(Facts(kV2Mount, "0::/user.slice/user-1000.slice/session-3.scope\n"), "");
  EXPECT_EQ(plan.mode, CgroupNestingMode::kNothing);
  EXPECT_THAT(plan.reason, HasSubstr("systemd session or service"));
  EXPECT_FALSE(plan.cgroup_parent);
}

TEST(PlanCgroupNestingTest, SecondRunReusesTheInitCgroup) {
  const auto plan = PlanCgroupNesting(Facts(kV2Mount, "0::/init\n"), "");
  EXPECT_EQ(plan.mode, CgroupNestingMode::kV2Split);
  EXPECT_EQ(plan.create[0].path, "/sys/fs/cgroup/init");
  EXPECT_EQ(plan.cgroup_parent, "/dind");
  EXPECT_THAT(plan.reason, HasSubstr("earlier run"));
  const auto nested =
      PlanCgroupNesting(Facts(kV2Mount, "0::/system.slice/docker-1.scope/init\n"), "");
  EXPECT_EQ(nested.cgroup_parent, "/system.slice/docker-1.scope/dind");
}

TEST(PlanCgroupNestingTest, ReadOnlyMountsAreLeftAloneAndSaidSo) {
  const auto v2 = PlanCgroupNesting(Facts(kV2ReadOnlyMount, "0::/\n"), "");
  EXPECT_EQ(v2.mode, CgroupNestingMode::kNothing);
  EXPECT_THAT(v2.reason, AllOf(HasSubstr("read-only (ro)"), HasSubstr("privileged")));
  EXPECT_THAT(v2.create, IsEmpty());
  EXPECT_FALSE(v2.cgroup_parent);

  // Docker's default for an unprivileged container on v1: every hierarchy mounted ro.
  const auto v1 = PlanCgroupNesting(
      Facts("1003 1000 0:31 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup "
            "ro,memory\n",
            "4:memory:/docker/abc\n"),
      "");
  EXPECT_EQ(v1.mode, CgroupNestingMode::kNothing);
  EXPECT_THAT(v1.reason, HasSubstr("read-only"));
  EXPECT_THAT(v1.bind_mounts, IsEmpty());
}

TEST(PlanCgroupNestingTest, HostPathInsideCgroupNamespaceCannotBePlaced) {
  const auto plan = PlanCgroupNesting(Facts(kV2HostPathInNamespace, "0::/\n"), "");
  EXPECT_EQ(plan.mode, CgroupNestingMode::kNothing);
  EXPECT_THAT(plan.reason, HasSubstr("does not contain"));
}

TEST(PlanCgroupNestingTest, V1InCgroupNamespaceNeedsNothing) {
  const auto plan = PlanCgroupNesting(
      Facts(kHostPathV1Mounts, "4:memory:/\n3:cpu,cpuacct:/\n1:name=systemd:/\n"), "");
  EXPECT_EQ(plan.mode, CgroupNestingMode::kNothing);
  EXPECT_THAT(plan.reason, HasSubstr("not needed"));
}

// Mounts hidden by a later one at or above their place are not what the process sees.
TEST(PlanCgroupNestingTest, HiddenMountsAreIgnored) {
  const std::string mounts =
      std::string(kHostPathV1Mounts) +
      "2000 1000 0:50 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n"
      "2001 2000 0:31 /kubepods/burstable/pod1234/abcd /sys/fs/cgroup/memory rw - cgroup "
      "cgroup rw,memory\n";
  const auto plan = PlanCgroupNesting(Facts(mounts, kK8sV1Cgroup), "");
  EXPECT_EQ(plan.mode, CgroupNestingMode::kV1OwnRootBindMounts) << plan.reason;
  EXPECT_EQ(plan.bind_mounts.size(), 1u) << "only memory is visible";
  const auto v2 = PlanCgroupNesting(
      Facts(std::string(kHostPathV1Mounts) + kV2Mount, "0::/kubepods/pod1/c1\n"), "");
  EXPECT_EQ(v2.mode, CgroupNestingMode::kV2Split);
}

TEST(PlanCgroupNestingTest, UnreadableFactsDoNothing) {
  SystemFacts facts;
  const auto plan = PlanCgroupNesting(facts, "the entrypoint");
  EXPECT_EQ(plan.mode, CgroupNestingMode::kNothing);
  EXPECT_EQ(plan.version, "unknown");
  EXPECT_EQ(plan.read_from, "/proc/self, the entrypoint");
}

// --- Who writes cgroup-parent (the init fix) ---------------------------------------------

TEST(ChooseCgroupParentTest, InitWritesNoneAndSaysWhy) {
  const auto facts = Facts(kHostPathV1Mounts, kK8sV1Cgroup);
  const auto plan = PlanCgroupNesting(facts, "dind-netcfg init");
  const auto decision =
      ChooseCgroupParent(DecideCgroupParent(facts), plan, {.reader = "dind-netcfg init"});
  EXPECT_FALSE(decision.parent) << "init's own cgroup is gone once it exits";
  EXPECT_EQ(decision.parent_source, "none");
  EXPECT_THAT(decision.reason,
              HasSubstr("init runs in its own container, whose cgroup is gone once it exits; "
                        "the entrypoint command, or --cgroup-parent, sets it"));
  EXPECT_EQ(decision.read_from, "/proc/self of pid 1, dind-netcfg init");
}

TEST(ChooseCgroupParentTest, SidecarWritesNoneEither) {
  const auto facts = Facts(kV2Mount, "0::/kubepods/pod1/sidecar\n");
  const auto decision = ChooseCgroupParent(DecideCgroupParent(facts), PlanCgroupNesting(facts, ""),
                                           {.reader = "dind-netcfg run"});
  EXPECT_FALSE(decision.parent);
  EXPECT_THAT(decision.reason, HasSubstr("sidecar"));
}

TEST(ChooseCgroupParentTest, FlagIsWrittenAsGiven) {
  const auto facts = Facts(kV2Mount, "0::/\n");
  const auto decision = ChooseCgroupParent(
      DecideCgroupParent(facts), PlanCgroupNesting(facts, ""),
      {.explicit_parent = std::string("/kubepods/pod1/dind"), .reader = "dind-netcfg init"});
  EXPECT_EQ(decision.parent, "/kubepods/pod1/dind");
  EXPECT_EQ(decision.parent_source, "flag");
  EXPECT_THAT(decision.reason, HasSubstr("--cgroup-parent"));
}

TEST(ChooseCgroupParentTest, TheContainerThatRunsDockerdUsesThePlan) {
  const auto facts = Facts(kV2Mount, "0::/\n");
  const auto decision = ChooseCgroupParent(DecideCgroupParent(facts), PlanCgroupNesting(facts, ""),
                                           {.runs_dockerd = true, .reader = "the entrypoint"});
  EXPECT_EQ(decision.parent, "/dind");
  EXPECT_EQ(decision.parent_source, "detected");
  EXPECT_THAT(decision.reason, HasSubstr("v2-split"));
}

TEST(CheckCgroupParentValueTest, AcceptsAbsolutePathsOnly) {
  EXPECT_EQ(CheckCgroupParentValue("/kubepods/pod1/dind"), std::nullopt);
  EXPECT_EQ(CheckCgroupParentValue("/system.slice/docker-1.scope"), std::nullopt);
  EXPECT_EQ(CheckCgroupParentValue("kubepods"), "is not an absolute path");
  EXPECT_EQ(CheckCgroupParentValue("/a/../b"), "has a '..' component");
  EXPECT_EQ(CheckCgroupParentValue("/a/./b"), "has a '.' component");
  EXPECT_EQ(CheckCgroupParentValue("/a b"), "contains a blank or a control character");
  EXPECT_EQ(CheckCgroupParentValue("/a\nb"), "contains a blank or a control character");
  EXPECT_EQ(CheckCgroupParentValue(""), "is empty");
}

TEST(DetectCgroupTest, JsonSaysModeReasonAndReadFromAndKeepsTheOldKeys) {
  SystemFacts facts = testing::PodFacts();
  facts.proc_self_mountinfo = kV2Mount;
  facts.proc_self_cgroup = "0::/\n";
  facts.self_pid = 7;
  DetectOptions options{.dockerd_version = "24.0.7"};
  options.cgroup.reader = "dind-netcfg init";
  auto report = Detect(facts, options);
  ASSERT_TRUE(report.ok()) << report.error().Message();
  auto json = ReportToJson(*report);
  const auto& cgroup = json["cgroup"];
  EXPECT_EQ(cgroup["version"], "v2");
  EXPECT_EQ(cgroup["own_path"], "/");
  EXPECT_TRUE(cgroup["parent"].is_null());
  EXPECT_THAT(cgroup["reason"].get<std::string>(), HasSubstr("init runs in its own container"));
  EXPECT_EQ(cgroup["parent_source"], "none");
  EXPECT_EQ(cgroup["read_from"], "/proc/self of pid 7, dind-netcfg init");
  EXPECT_EQ(cgroup["nesting"]["mode"], "v2-split");
  EXPECT_THAT(cgroup["nesting"]["reason"].get<std::string>(), HasSubstr("hack/dind"));
  EXPECT_EQ(cgroup["nesting"]["cgroup_parent"], "/dind");
  EXPECT_TRUE(cgroup["nesting"]["applied"].is_null());
  EXPECT_EQ(PlanDaemonJson(*report).size(), 5u) << "no cgroup-parent key";

  // The entrypoint applies the plan and records it: cgroup-parent follows what was done.
  options.cgroup = {.runs_dockerd = true, .reader = "the entrypoint"};
  report = Detect(facts, options);
  ASSERT_TRUE(report.ok());
  FakeFs fs;
  fs.AddRoot("/sys/fs/cgroup", {"memory"});
  fs.AddPid("/sys/fs/cgroup", 1);
  auto applied = ApplyCgroupNesting(report->cgroup_nesting, fs);
  ASSERT_TRUE(applied.ok()) << applied.error().Message();
  RecordAppliedNesting(*report, *applied, options.cgroup);
  json = ReportToJson(*report);
  EXPECT_EQ(json["cgroup"]["parent"], "/dind");
  EXPECT_EQ(json["cgroup"]["nesting"]["applied"]["done"], true);
  EXPECT_EQ(json["cgroup"]["read_from"], "/proc/self of pid 7, the entrypoint");
  const auto updates = PlanDaemonJson(*report);
  EXPECT_EQ(updates.back().path, std::vector<std::string>{"cgroup-parent"});
  EXPECT_EQ(updates.back().value, OrderedJson("/dind"));
  EXPECT_THAT(ReportToText(*report), HasSubstr("nesting"));
}

// --- The executor, against the in-memory tree --------------------------------------------

CgroupNestingPlan V2Plan() {
  return PlanCgroupNesting(Facts(kV2Mount, "0::/\n"), "");
}

void AddV2Root(FakeFs& fs) {
  fs.AddRoot("/sys/fs/cgroup", {"cpu", "memory", "pids"});
  fs.AddPid("/sys/fs/cgroup", 1);
  fs.AddPid("/sys/fs/cgroup", 20);
}

TEST(ApplyCgroupNestingTest, V2SplitMovesEveryProcessAndEnablesControllersInBoth) {
  FakeFs fs;
  AddV2Root(fs);
  auto report = ApplyCgroupNesting(V2Plan(), fs);
  ASSERT_TRUE(report.ok()) << report.error().Message();
  EXPECT_TRUE(report->done);
  EXPECT_THAT(report->warnings, IsEmpty());
  EXPECT_EQ(fs.Pids("/sys/fs/cgroup/init"), (std::set<int>{1, 20}));
  EXPECT_THAT(fs.Pids("/sys/fs/cgroup"), IsEmpty());
  const std::set<std::string> all{"cpu", "memory", "pids"};
  EXPECT_EQ(fs.SubtreeControl("/sys/fs/cgroup"), all);
  EXPECT_EQ(fs.SubtreeControl("/sys/fs/cgroup/dind"), all);
  EXPECT_EQ(report->cgroup_parent, "/dind");
  EXPECT_THAT(report->created, ElementsAre("/sys/fs/cgroup/init", "/sys/fs/cgroup/dind"));
  EXPECT_THAT(report->evidence, Contains(HasSubstr("moved 2 processes")));
  EXPECT_THAT(report->evidence, Contains(HasSubstr("enabled +cpu +memory +pids")));
}

TEST(ApplyCgroupNestingTest, ASecondRunFindsItDone) {
  FakeFs fs;
  AddV2Root(fs);
  ASSERT_TRUE(ApplyCgroupNesting(V2Plan(), fs).ok());
  auto again = ApplyCgroupNesting(V2Plan(), fs);
  ASSERT_TRUE(again.ok()) << again.error().Message();
  EXPECT_TRUE(again->done);
  EXPECT_THAT(again->created, IsEmpty());
  EXPECT_THAT(again->evidence, Contains("/sys/fs/cgroup/init exists already"));
  EXPECT_THAT(again->evidence, Contains(HasSubstr("moved 0 processes")));
  EXPECT_THAT(again->evidence, Contains(HasSubstr("already enabled cpu memory pids")));
  EXPECT_EQ(fs.Pids("/sys/fs/cgroup/init"), (std::set<int>{1, 20}));
}

TEST(ApplyCgroupNestingTest, ADockerExecDuringTheMoveIsRetriedUntilItHolds) {
  FakeFs fs;
  AddV2Root(fs);
  int started = 0;
  fs.OnMove([&](int, const std::string&) {
    if (started < 3) fs.AddPid("/sys/fs/cgroup", 100 + started++);
  });
  auto report = ApplyCgroupNesting(V2Plan(), fs);
  ASSERT_TRUE(report.ok()) << report.error().Message();
  EXPECT_THAT(fs.Pids("/sys/fs/cgroup"), IsEmpty());
  EXPECT_EQ(fs.Pids("/sys/fs/cgroup/init"), (std::set<int>{1, 20, 100, 101, 102}));
  EXPECT_THAT(report->evidence, Contains(HasSubstr("moved 5 processes")));
  EXPECT_THAT(report->evidence, Contains(HasSubstr("rounds")));
}

TEST(ApplyCgroupNestingTest, ProcessesThatKeepComingFailAfterBoundedRounds) {
  FakeFs fs;
  AddV2Root(fs);
  int next = 500;
  fs.OnMove([&](int, const std::string&) {
    if (fs.Pids("/sys/fs/cgroup").empty()) fs.AddPid("/sys/fs/cgroup", next++);
  });
  auto report = ApplyCgroupNesting(V2Plan(), fs, 4);
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(report.error().Message(),
              AllOf(HasSubstr("after 4 rounds"), HasSubstr("still in it"), HasSubstr("pid 50"),
                    HasSubstr("docker exec"), HasSubstr("--cgroup-parent")));
  EXPECT_LT(next, 520) << "bounded";
}

TEST(ApplyCgroupNestingTest, APidThatWillNotMoveIsNamedWithItsError) {
  FakeFs fs;
  AddV2Root(fs);
  fs.Pin(20);
  auto report = ApplyCgroupNesting(V2Plan(), fs);
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(report.error().Message(),
              AllOf(HasSubstr("pid 20 still in it after 10 rounds"), HasSubstr("pid 20: writing"),
                    HasSubstr("Device or resource busy")));
  EXPECT_EQ(report.error().ExitCode(), 1);
}

// A process outside this PID namespace in the container's cgroup (cgroup.procs lists it as
// 0) can never move from here: named at once, nothing moved, nothing left behind.
TEST(ApplyCgroupNestingTest, APidZeroIsNamedAtOnceAndNothingMoves) {
  FakeFs fs;
  AddV2Root(fs);
  fs.AddOutsidePid("/sys/fs/cgroup");
  auto report = ApplyCgroupNesting(V2Plan(), fs);
  ASSERT_FALSE(report.ok());
  const std::string message = report.error().Message();
  EXPECT_THAT(message,
              AllOf(HasSubstr("/sys/fs/cgroup/cgroup.procs lists pid 0"),
                    HasSubstr("outside this PID namespace"), HasSubstr("cannot be moved from here"),
                    HasSubstr("nothing was moved"), HasSubstr("--cgroup-parent")));
  EXPECT_THAT(message, Not(HasSubstr("new processes kept appearing")));
  EXPECT_THAT(message, Not(HasSubstr("rounds")));
  EXPECT_EQ(fs.writes_of_zero(), 0) << "writing 0 would move the entrypoint itself";
  EXPECT_EQ(fs.Pids("/sys/fs/cgroup"), (std::set<int>{1, 20})) << "the cgroup is as it was";
  EXPECT_FALSE(fs.Exists("/sys/fs/cgroup/init")) << "what this run made is removed";
  EXPECT_FALSE(fs.Exists("/sys/fs/cgroup/dind"));
  EXPECT_EQ(report.error().ExitCode(), 1);

  FakeFs two;
  AddV2Root(two);
  two.AddOutsidePid("/sys/fs/cgroup");
  two.AddOutsidePid("/sys/fs/cgroup");
  auto both = ApplyCgroupNesting(V2Plan(), two);
  ASSERT_FALSE(both.ok());
  EXPECT_THAT(both.error().Message(), HasSubstr("lists pid 0 2 times"));
}

TEST(ApplyCgroupNestingTest, APidZeroThatAppearsDuringTheMoveStopsItThere) {
  FakeFs fs;
  AddV2Root(fs);
  bool entered = false;
  fs.OnMove([&](int, const std::string&) {
    if (!entered) fs.AddOutsidePid("/sys/fs/cgroup");
    entered = true;
  });
  auto report = ApplyCgroupNesting(V2Plan(), fs);
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(report.error().Message(),
              AllOf(HasSubstr("lists pid 0"), HasSubstr("2 processes were moved before it")));
  EXPECT_EQ(fs.writes_of_zero(), 0);
  EXPECT_EQ(fs.Pids("/sys/fs/cgroup/init"), (std::set<int>{1, 20}));
  EXPECT_TRUE(fs.Exists("/sys/fs/cgroup/init")) << "it holds the moved processes";
}

TEST(ApplyCgroupNestingTest, ReadOnlyIsSaidAndNestingGoesOnWithout) {
  FakeFs fs;
  AddV2Root(fs);
  fs.SetReadOnly(true);
  auto report = ApplyCgroupNesting(V2Plan(), fs);
  ASSERT_TRUE(report.ok()) << report.error().Message();
  EXPECT_FALSE(report->done);
  EXPECT_FALSE(report->cgroup_parent);
  ASSERT_FALSE(report->warnings.empty());
  EXPECT_THAT(report->warnings[0],
              AllOf(HasSubstr("Read-only file system"), HasSubstr("goes on without")));
  EXPECT_FALSE(fs.Exists("/sys/fs/cgroup/init"));
  EXPECT_THAT(report->cleanup_below, IsEmpty());
}

TEST(ApplyCgroupNestingTest, NotPermittedHalfwayRemovesWhatItMade) {
  FakeFs fs;
  AddV2Root(fs);
  fs.Fail(FakeFs::Op::kMakeDir, "/sys/fs/cgroup/dind", EACCES);
  auto report = ApplyCgroupNesting(V2Plan(), fs);
  ASSERT_TRUE(report.ok()) << report.error().Message();
  EXPECT_FALSE(report->done);
  EXPECT_FALSE(fs.Exists("/sys/fs/cgroup/init")) << "removed again";
  EXPECT_THAT(report->evidence, Contains("removed /sys/fs/cgroup/init again"));
  EXPECT_THAT(report->warnings[0], HasSubstr("Permission denied"));

  FakeFs move_refused;
  AddV2Root(move_refused);
  move_refused.Fail(FakeFs::Op::kWrite, "/sys/fs/cgroup/init/cgroup.procs", EPERM);
  auto refused = ApplyCgroupNesting(V2Plan(), move_refused);
  ASSERT_TRUE(refused.ok()) << refused.error().Message();
  EXPECT_FALSE(refused->cgroup_parent);
  EXPECT_FALSE(move_refused.Exists("/sys/fs/cgroup/dind"));
  EXPECT_EQ(move_refused.Pids("/sys/fs/cgroup"), (std::set<int>{1, 20}));
}

TEST(ApplyCgroupNestingTest, OtherFailuresAreErrorsWithThePath) {
  FakeFs fs;
  AddV2Root(fs);
  fs.Fail(FakeFs::Op::kMakeDir, "/sys/fs/cgroup/init", ENOSPC);
  auto report = ApplyCgroupNesting(V2Plan(), fs);
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(report.error().Message(), HasSubstr("creating cgroup /sys/fs/cgroup/init"));
  EXPECT_EQ(report.error().errnum, ENOSPC);
}

TEST(ApplyCgroupNestingTest, AControllerRefusedIsAWarningNotAFailure) {
  FakeFs fs;
  AddV2Root(fs);
  fs.Fail(FakeFs::Op::kWrite, "/sys/fs/cgroup/dind/cgroup.subtree_control", EBUSY);
  auto report = ApplyCgroupNesting(V2Plan(), fs);
  ASSERT_TRUE(report.ok()) << report.error().Message();
  EXPECT_FALSE(report->done);
  EXPECT_EQ(report->cgroup_parent, "/dind") << "the nesting itself holds";
  EXPECT_THAT(report->warnings, Contains(HasSubstr("not enabled in /sys/fs/cgroup/dind")));
}

TEST(ApplyCgroupNestingTest, NoControllersAvailableIsSaid) {
  FakeFs fs;
  fs.AddRoot("/sys/fs/cgroup");
  fs.AddPid("/sys/fs/cgroup", 1);
  auto report = ApplyCgroupNesting(V2Plan(), fs);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->done);
  EXPECT_THAT(report->evidence, Contains(HasSubstr("lists no controllers")));
}

TEST(ApplyCgroupNestingTest, V1BindMountsMakeTheHostPathExist) {
  FakeFs fs;
  for (const char* subsystem : {"pids", "memory", "cpu,cpuacct", "systemd"}) {
    fs.AddRoot(std::string("/sys/fs/cgroup/") + subsystem);
  }
  const auto plan = PlanCgroupNesting(Facts(kK8sV1Mounts, kK8sV1Cgroup), "");
  auto report = ApplyCgroupNesting(plan, fs);
  ASSERT_TRUE(report.ok()) << report.error().Message();
  EXPECT_TRUE(report->done);
  ASSERT_EQ(fs.Mounts().size(), 4u);
  EXPECT_EQ(fs.Mounts()[1], std::make_pair(std::string("/sys/fs/cgroup/memory"),
                                           std::string("/sys/fs/cgroup/memory") + kK8sV1Path));
  EXPECT_TRUE(fs.Exists(std::string("/sys/fs/cgroup/systemd") + kK8sV1Path));
  EXPECT_FALSE(report->cgroup_parent);
  EXPECT_THAT(report->evidence, Contains(HasSubstr("bind-mounted /sys/fs/cgroup/memory onto")));
}

TEST(ApplyCgroupNestingTest, V1BindMountRefusedIsAWarning) {
  FakeFs fs;
  for (const char* subsystem : {"pids", "memory", "cpu,cpuacct", "systemd"}) {
    fs.AddRoot(std::string("/sys/fs/cgroup/") + subsystem);
  }
  fs.Fail(FakeFs::Op::kBindMount, std::string("/sys/fs/cgroup/pids") + kK8sV1Path, EPERM);
  auto report = ApplyCgroupNesting(PlanCgroupNesting(Facts(kK8sV1Mounts, kK8sV1Cgroup), ""), fs);
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->done);
  EXPECT_EQ(fs.Mounts().size(), 3u);
  EXPECT_THAT(report->warnings, Contains(HasSubstr("cadvisor/kubelet")));
}

TEST(ApplyCgroupNestingTest, V1HostHierarchyAndNothingTouchNothing) {
  FakeFs fs;
  auto host = ApplyCgroupNesting(PlanCgroupNesting(Facts(kHostPathV1Mounts, kK8sV1Cgroup), ""), fs);
  ASSERT_TRUE(host.ok());
  EXPECT_EQ(host->cgroup_parent, kK8sV1Path);
  EXPECT_TRUE(host->done);
  auto nothing = ApplyCgroupNesting(PlanCgroupNesting(Facts(kV2ReadOnlyMount, "0::/\n"), ""), fs);
  ASSERT_TRUE(nothing.ok());
  EXPECT_FALSE(nothing->cgroup_parent);
  EXPECT_THAT(nothing->evidence, Contains(HasSubstr("read-only")));
  EXPECT_EQ(fs.calls(FakeFs::Op::kMakeDir) + fs.calls(FakeFs::Op::kBindMount), 0);
}

// --- Cleanup ------------------------------------------------------------------------------

TEST(RemoveEmptyCgroupsBelowTest, RemovesEmptyOnesDepthFirstAndKeepsBusyOnes) {
  FakeFs fs;
  fs.AddRoot("/sys/fs/cgroup");
  fs.AddCgroup("/sys/fs/cgroup/dind");
  fs.AddCgroup("/sys/fs/cgroup/dind/a");
  fs.AddCgroup("/sys/fs/cgroup/dind/a/b");
  fs.AddCgroup("/sys/fs/cgroup/dind/a/c");
  fs.AddCgroup("/sys/fs/cgroup/dind/busy", {7, 9});
  fs.AddCgroup("/sys/fs/cgroup/dind/x");
  fs.AddCgroup("/sys/fs/cgroup/dind/x/y", {8});
  auto report = RemoveEmptyCgroupsBelow("/sys/fs/cgroup/dind", fs);
  ASSERT_TRUE(report.ok()) << report.error().Message();
  EXPECT_THAT(report->removed, ElementsAre("/sys/fs/cgroup/dind/a/b", "/sys/fs/cgroup/dind/a/c",
                                           "/sys/fs/cgroup/dind/a"));
  EXPECT_THAT(report->kept, ElementsAre("/sys/fs/cgroup/dind/busy: still holds processes 7 9",
                                        "/sys/fs/cgroup/dind/x/y: still holds process 8",
                                        "/sys/fs/cgroup/dind/x: a cgroup below it was kept"));
  EXPECT_TRUE(fs.Exists("/sys/fs/cgroup/dind")) << "the parent itself stays";
  EXPECT_EQ(CleanupReportToJson(*report)["kept"].size(), 3u);
}

TEST(RemoveEmptyCgroupsBelowTest, AfterTheProcessesEndNothingIsLeft) {
  FakeFs fs;
  fs.AddRoot("/sys/fs/cgroup");
  fs.AddCgroup("/sys/fs/cgroup/dind");
  fs.AddCgroup("/sys/fs/cgroup/dind/c1");
  fs.AddCgroup("/sys/fs/cgroup/dind/c1/nested");
  auto report = RemoveEmptyCgroupsBelow("/sys/fs/cgroup/dind", fs);
  ASSERT_TRUE(report.ok());
  EXPECT_THAT(report->kept, IsEmpty());
  EXPECT_THAT(fs.Cgroups(), ElementsAre("/sys/fs/cgroup", "/sys/fs/cgroup/dind"));
}

TEST(RemoveEmptyCgroupsBelowTest, AMissingParentIsNothingToDo) {
  FakeFs fs;
  auto report = RemoveEmptyCgroupsBelow("/sys/fs/cgroup/memory/docker", fs);
  ASSERT_TRUE(report.ok());
  EXPECT_THAT(report->removed, IsEmpty());
  fs.AddRoot("/sys/fs/cgroup");
  fs.Fail(FakeFs::Op::kList, "/sys/fs/cgroup", EACCES);
  auto refused = RemoveEmptyCgroupsBelow("/sys/fs/cgroup", fs);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.error().Message(), HasSubstr("removing the cgroups left below"));
}

}  // namespace
}  // namespace dind::netcfg
