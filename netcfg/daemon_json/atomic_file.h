// SPDX-License-Identifier: Apache-2.0
// The file-system half of daemon.json handling: reading it, and replacing it so that a crash,
// a full disk or a concurrent writer never leaves a corrupt or missing file.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace dind::netcfg {

// Reads `path`: nullopt when it does not exist, an Error when it exists but cannot be read.
Result<std::optional<std::string>> ReadDaemonJson(const std::string& path);

// How far a replacement must survive: a power loss (daemon.json: fsync of the file before the
// rename and of the directory after it), or only a crash of this process (a cache whose loss
// costs a recomputation: the rename alone, milliseconds cheaper on a loaded disk).
enum class Durability { kSurvivesPowerLoss, kReplaceOnly };

// Replaces `path` with `content` atomically: temporary file in the same directory, fsync, rename,
// fsync of the directory (the fsyncs only with kSurvivesPowerLoss). Keeps the existing file's mode and owner (new files get 0644). A
// symlinked path is written through to its target. On any failure the old file is untouched and
// no temporary file is left behind. The temporary files of earlier writes that were killed before
// their rename are removed; those of writes still running (they hold a flock) are left alone.
Status WriteFileAtomically(const std::string& path, std::string_view content,
                           Durability durability = Durability::kSurvivesPowerLoss);

}  // namespace dind::netcfg
