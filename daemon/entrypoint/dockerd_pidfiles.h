// SPDX-License-Identifier: Apache-2.0
// Pidfiles an unclean stop leaves behind. dockerd refuses to start while its pidfile exists
// ("pid file found, ensure docker is not running"), and trusts <exec-root>/containerd/
// containerd.pid enough to wait for a process that is not containerd. A container restarted
// in place (`docker restart`, a restarted pod container whose /run is kept) meets both. The
// entrypoint removes them when the pid they name is not that program running; docker:dind's
// script deletes every docker*.pid without looking.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace dind::entrypoint {

struct Pidfile {
  std::string path;
  std::string program;  // the process that writes it: "dockerd" or "containerd"

  bool operator==(const Pidfile&) const = default;
};

// dockerd's pidfile and its managed containerd's, as dockerd will use them: --pidfile/-p and
// --exec-root in its argv, else "pidfile" and "exec-root" in daemon.json, else dockerd's
// defaults (/var/run/docker.pid, /var/run/docker).
std::vector<Pidfile> DockerdPidfiles(const std::vector<std::string>& dockerd_argv,
                                     std::string_view daemon_json);

enum class PidfileVerdict { kAbsent, kStale, kInUse };

// What a pidfile's content says, given the name of the program each pid runs (nullopt: no such
// process). Unreadable numbers are stale: dockerd cannot use them either.
PidfileVerdict JudgePidfile(std::optional<std::string_view> content, std::string_view program,
                            const std::function<std::optional<std::string>(pid_t)>& program_of);

// Removes the stale ones, each with a log line; a pidfile whose program is running is an
// Error that names it (another dockerd uses these directories).
Status RemoveStalePidfiles(const std::vector<Pidfile>& pidfiles);

}  // namespace dind::entrypoint
