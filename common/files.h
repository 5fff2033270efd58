// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/result.h"

namespace dind {

// Reads a whole file. A missing file is an Error with errnum ENOENT so callers can tell
// "absent" from "unreadable".
Result<std::string> ReadFile(const std::string& path);

// Reads a gzip-compressed file such as /proc/config.gz.
Result<std::string> ReadGzipFile(const std::string& path);

// Runs argv (no shell) and returns its standard output; fails when it cannot be started, exits
// non-zero, or has not finished within `timeout` (then it is killed: a program that hangs must
// not hold up detection). Used for `dockerd --version` and modprobe only: kernel state is never
// read from tools.
Result<std::string> RunAndCapture(const std::vector<std::string>& argv,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace dind
