// SPDX-License-Identifier: Apache-2.0
// What the checks of `doctor` read, and the seam they read it through. Files under /proc, /sys,
// /dev and /lib are read through HostFiles, whose root is "" in the pod and a temp dir in tests
// (a test writes /proc/sys/... into the dir, so the checks run on values it chose). Checks that
// ask dockerd read its answers through DockerdInfoBody/DockerdVersion, which ask each endpoint once
// per run whichever check asks first.
#pragma once

#include <sys/stat.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "daemon/docker/docker_version.h"
#include "daemon/doctor/check.h"
#include "netcfg/dockerd/dockerd_version.h"

namespace dind::doctor {

// Absolute paths resolved under a root: HostFiles("") reads the real /proc, HostFiles(dir)
// reads dir + "/proc/...". Read-only: doctor never writes.
class HostFiles {
 public:
  explicit HostFiles(std::string root = {}) : root_(std::move(root)) {}
  // The real path of `absolute` ("/proc/self/uid_map" -> root + "/proc/self/uid_map").
  std::string PathOf(std::string_view absolute) const;
  // A missing file is an Error with errnum ENOENT (absent, not unreadable).
  Result<std::string> Read(std::string_view absolute) const;
  // stat(2), following links (/dev/kmsg may be a link to a device node).
  Result<struct stat> Stat(std::string_view absolute) const;
  // The names in a directory, without "." and "..".
  Result<std::vector<std::string>> List(std::string_view absolute) const;

 private:
  std::string root_;
};

// The process whose container the container's facts are read in: its user namespace
// (/proc/PID/uid_map), cgroup (/proc/PID/cgroup) and, through /proc/PID/root, its
// /sys/fs/cgroup, /dev/kmsg, /lib/modules, resolv.conf and data-root. That is dockerd's when doctor
// sees it (in the dind container, or beside it with shareProcessNamespace), since those are facts
// about dockerd's container; doctor's own otherwise. Each check's source names the process.
struct FactsProcess {
  int pid = 0;                  // 0: doctor itself (/proc/self, its own root)
  std::string name = "doctor";  // what runs there: "doctor", "dockerd"
  std::string chosen_by;        // why this one: "--pid self", "the only dockerd visible", ...
  // "/proc/self/uid_map" or "/proc/PID/uid_map" for file "uid_map".
  std::string ProcPath(std::string_view file) const;
  // `absolute` as this process sees it: unchanged for doctor, "/proc/PID/root" + absolute else.
  std::string RootPath(std::string_view absolute) const;
  // "dockerd pid 77" / "doctor pid 4321": the words a check's source ends with.
  std::string Describe() const;
};

// --pid: "self" (doctor), a pid, or "auto": the dockerd serving `docker_socket` among the
// processes /proc shows (the only dockerd, or the one whose -H/--host names the socket), doctor
// itself when none is or its root cannot be read. Reads /proc through `files`. An Error (exit 2)
// only for a request that is neither, or a pid that is not there.
Result<FactsProcess> ChooseFactsProcess(const HostFiles& files, std::string_view request,
                                        std::string_view docker_socket);

struct DetectionOutcome;  // detection_checks.h

// The egress prober's latest DNS query (over UDP, from the docker bridge: where nested
// containers stand) to one of dockerd's public fallback servers. Only the sidecar probes
// (`run`, `entrypoint`); doctor itself sends nothing, so its context has none.
struct FallbackProbe {
  std::string server;  // "8.8.8.8"
  bool answered = false;
  std::string detail;  // the prober's one line
  bool operator==(const FallbackProbe&) const = default;
};

// What `doctor` was asked, handed to every group of checks.
struct DoctorContext {
  const HostFiles& files;
  std::string daemon_json = "/etc/docker/daemon.json";  // --daemon-json
  std::string docker_socket = "/var/run/docker.sock";   // --docker-socket
  bool for_kind = false;                                // --for kind
  FactsProcess process = {};                            // --pid (doctor itself by default)
  // --dockerd-version when given (not auto): the release an init container configures for,
  // where no dockerd runs yet and none may be on its PATH.
  std::optional<netcfg::DockerVersion> told_dockerd;
  // dockerd's answers, asked at the first need and kept for the run: storage and iptables-raw
  // both read /info, api-floor and the DNS checks /version (each up to its timeout when
  // dockerd hangs). Filled by DockerdInfoBody and DockerdVersion only.
  struct DockerdAnswers {
    std::optional<Result<std::string>> info_body;
    std::optional<Result<docker::DockerVersionInfo>> version;
  };
  mutable DockerdAnswers dockerd_answers = {};
  // What `detect` finds here (detection_checks.h), made by the command, since detection belongs
  // to netcfg/ and daemon/pod/; an Error when it failed. Null: not detected, no such checks.
  const Result<DetectionOutcome>* detection = nullptr;
  // The sidecar's egress prober on dockerd's public fallback servers (dns-fallback); empty:
  // not probed (doctor, init, or no round of it yet).
  std::vector<FallbackProbe> dns_fallback_probes = {};
};

// The body of GET /info of context.docker_socket (5 s at most), asked once per context.
const Result<std::string>& DockerdInfoBody(const DoctorContext& context);
// GET /version of context.docker_socket (2 s at most), asked once per context.
const Result<docker::DockerVersionInfo>& DockerdVersion(const DoctorContext& context);
// dockerd's version for when the running dockerd does not answer, and where it was learnt:
// context.told_dockerd ("--dockerd-version"), else its binary on PATH (Go build information);
// nullopt when neither says.
std::optional<std::pair<netcfg::DockerVersion, std::string>> DockerdVersionNotServed(
    const DoctorContext& context);

// A group of checks: reads what it needs (through context.files or the socket) and returns one
// CheckResult per check id, in a stable order. Never throws; what it could not read is a
// kUnknown result saying what and where.
using CheckGroup = std::vector<CheckResult> (*)(const DoctorContext& context);

// Every group, in report order (all_checks.cpp holds the list).
std::vector<CheckResult> RunAllChecks(const DoctorContext& context);

}  // namespace dind::doctor
