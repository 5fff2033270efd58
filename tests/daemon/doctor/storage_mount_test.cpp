// SPDX-License-Identifier: Apache-2.0
// `doctor --json` with dockerd's data-root (named by a daemon.json the test writes) on real
// mounts: overlayfs, tmpfs and ext4 (an image on a loop device). Each run is a shell in a
// private mount namespace (`unshare -m --propagation private`) that mounts and then execs the
// binary, so the mounts vanish with that namespace even when the test fails; the machine's own
// mount table is never touched. No dockerd answers (the socket does not exist): storage-driver
// must say unknown, never ok.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/daemon/run_cli.h"
#include "tests/mocks/temp_dir.h"

namespace dind::cli {
namespace {

using testing::Describe;
using ::testing::HasSubstr;
using testing::ProcessResult;
using testing::RunProcess;
using Json = nlohmann::ordered_json;

struct DoctorRun {
  ProcessResult process;
  Json fs;      // the storage-fs check
  Json space;   // storage-space
  Json driver;  // storage-driver
};

// Mounts with `mount_script` (sh, `set -eu`, $D is the temp dir) in a private mount namespace,
// then runs doctor there with data-root $D/mnt/docker (under the mount, not there yet).
DoctorRun DoctorOnMount(const dind::testing::TempDir& dir, const std::string& mount_script) {
  dind::testing::WriteTestFile(dir / "daemon.json",
                               R"({"data-root": ")" + dir / "mnt/docker" + R"("})", 0644);
  const std::string script = "D=" + dir.path() + "\nmkdir -p $D/mnt\n" + mount_script +
                             "\nexec " DIND_NETCFG_BINARY " doctor --json --daemon-json " +
                             dir / "daemon.json" + " --docker-socket " + dir / "none.sock";
  DoctorRun run;
  run.process =
      RunProcess({"unshare", "--mount", "--propagation", "private", "sh", "-euc", script});
  const Json document = Json::parse(run.process.out, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.contains("checks")) {
    ADD_FAILURE() << "no JSON report\n" << Describe(run.process);
    return run;
  }
  for (const auto& check : document["checks"]) {
    if (check["id"] == "storage-fs") run.fs = check;
    if (check["id"] == "storage-space") run.space = check;
    if (check["id"] == "storage-driver") run.driver = check;
  }
  EXPECT_FALSE(run.fs.is_null()) << Describe(run.process);
  EXPECT_FALSE(run.space.is_null()) << Describe(run.process);
  EXPECT_EQ(run.driver["status"], "unknown") << run.driver.dump();
  return run;
}

TEST(StorageMountTest, OverlayfsDataRootFails) {
  dind::testing::TempDir dir;
  DoctorRun run = DoctorOnMount(
      dir,
      "mkdir $D/lower $D/upper $D/work\n"
      "mount -t overlay overlay -o lowerdir=$D/lower,upperdir=$D/upper,workdir=$D/work $D/mnt");
  EXPECT_EQ(run.process.exit_code, 1) << Describe(run.process);
  EXPECT_EQ(run.fs["status"], "fail") << run.fs.dump();
  EXPECT_EQ(run.fs["observed"]["fs_type"], "overlayfs") << run.fs.dump();
  // The data-root is not there yet: its nearest ancestor, the overlay mount, was statted.
  EXPECT_EQ(run.fs["observed"]["statted_path"], dir / "mnt") << run.fs.dump();
  EXPECT_EQ(run.fs["observed"]["data_root"], dir / "mnt/docker") << run.fs.dump();
  EXPECT_THAT(run.fs["fix"].get<std::string>(), HasSubstr("emptyDir: {}"));
  EXPECT_THAT(run.fs["source"].get<std::string>(),
              HasSubstr("\"data-root\" in " + dir / "daemon.json"));
}

TEST(StorageMountTest, TmpfsDataRootWarnsWithItsMemory) {
  dind::testing::TempDir dir;
  DoctorRun run = DoctorOnMount(dir,
                                "mount -t tmpfs -o size=64m tmpfs $D/mnt\n"
                                "dd if=/dev/zero of=$D/mnt/layer bs=1M count=8 status=none");
  EXPECT_EQ(run.fs["status"], "warn") << run.fs.dump();
  EXPECT_EQ(run.fs["observed"]["fs_type"], "tmpfs") << run.fs.dump();
  EXPECT_EQ(run.fs["observed"]["size_bytes"], 64u << 20) << run.fs.dump();
  EXPECT_GE(run.fs["observed"]["used_bytes"].get<std::uint64_t>(), 8u << 20) << run.fs.dump();
  EXPECT_THAT(run.fs["summary"].get<std::string>(), HasSubstr("pod's memory limit"));
  // 56 MiB free is below 10 GiB.
  EXPECT_EQ(run.space["status"], "warn") << run.space.dump();
}

TEST(StorageMountTest, Ext4DataRootIsOk) {
  dind::testing::TempDir dir;
  DoctorRun run = DoctorOnMount(dir,
                                "truncate -s 64M $D/ext4.img\n"
                                "mkfs.ext4 -q -F $D/ext4.img\n"
                                "mount -o loop $D/ext4.img $D/mnt\n"
                                "mkdir $D/mnt/docker");
  EXPECT_EQ(run.fs["status"], "ok") << run.fs.dump();
  EXPECT_EQ(run.fs["observed"]["fs_type"], "ext2/ext3/ext4") << run.fs.dump();
  EXPECT_EQ(run.fs["observed"]["statted_path"], dir / "mnt/docker") << run.fs.dump();
  EXPECT_TRUE(run.fs["fix"].get<std::string>().empty()) << run.fs.dump();
  // A 64 MiB file system has less than 10 GiB free.
  EXPECT_EQ(run.space["status"], "warn") << run.space.dump();
  EXPECT_THAT(run.space["summary"].get<std::string>(), HasSubstr("free of"));
}

// A real dockerd (the suite's, Debian 12's 20.10) started with its data-root on an overlayfs mount,
// inside the private mount namespace and a network namespace of the test's own: overlay2's test
// mount fails there and dockerd falls back to vfs. doctor reads that from GET /info and fails
// both storage-fs (on statfs) and storage-driver (on /info).
TEST(StorageMountTest, RealDockerdOnOverlayfsFallsBackToVfsAndDoctorSaysSo) {
  dind::testing::TempDir dir;
  const std::string ns = "doctor-ovl-" + std::to_string(::getpid());
  const std::string script = "D=" + dir.path() + "; NS=" + ns + R"sh(
ip netns add "$NS"
trap 'kill "$(cat "$D/pid" 2>/dev/null)" 2>/dev/null; sleep 1; ip netns del "$NS"' EXIT
mkdir -p "$D/l" "$D/u" "$D/w" "$D/mnt"
mount -t overlay overlay -o "lowerdir=$D/l,upperdir=$D/u,workdir=$D/w" "$D/mnt"
nsenter --net="/var/run/netns/$NS" dockerd --data-root "$D/mnt/docker" --exec-root "$D/exec" \
  -H "unix://$D/d.sock" --pidfile "$D/pid" --bridge=none --iptables=false >"$D/dockerd.log" 2>&1 &
for _ in $(seq 1 100); do [ -S "$D/d.sock" ] && break; sleep 0.2; done
sleep 1
)sh" DIND_NETCFG_BINARY R"sh( doctor --json --docker-socket "$D/d.sock"
)sh";
  const ProcessResult process =
      RunProcess({"unshare", "--mount", "--propagation", "private", "bash", "-uc", script});
  const Json document = Json::parse(process.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(document.is_discarded())
      << Describe(process) << dind::testing::ReadTestFile(dir / "dockerd.log");
  Json fs;
  Json driver;
  for (const auto& check : document["checks"]) {
    if (check["id"] == "storage-fs") fs = check;
    if (check["id"] == "storage-driver") driver = check;
  }
  EXPECT_EQ(process.exit_code, 1) << Describe(process);
  EXPECT_EQ(driver["status"], "fail") << driver.dump();
  EXPECT_EQ(driver["observed"]["driver"], "vfs") << driver.dump();
  EXPECT_EQ(fs["status"], "fail") << fs.dump();
  EXPECT_EQ(fs["observed"]["data_root"], dir / "mnt/docker") << fs.dump();
  EXPECT_EQ(fs["observed"]["data_root_from"], "GET /info DockerRootDir") << fs.dump();
  EXPECT_THAT(fs["summary"].get<std::string>(), HasSubstr("falls back to vfs"));
}

}  // namespace
}  // namespace dind::cli
