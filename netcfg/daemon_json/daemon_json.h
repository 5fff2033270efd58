// SPDX-License-Identifier: Apache-2.0
// daemon.json as dind-netcfg edits it: a merge that only touches the keys the tool owns, and an
// atomic write that never leaves a torn or lost file behind.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace dind::netcfg {

using OrderedJson = nlohmann::ordered_json;

// One owned setting. `path` names a key, nested for objects:
//   {"mtu"}  or  {"default-network-opts", "bridge", "com.docker.network.driver.mtu"}.
// A value sets (replaces) it; nullopt removes it when present, and objects that become empty
// because of that removal are removed too.
struct KeyUpdate {
  std::vector<std::string> path;
  std::optional<OrderedJson> value;
};

struct KeyChange {
  std::string key;  // dotted path for display: "default-network-opts.bridge.com.docker…"
  std::optional<OrderedJson> before;  // nullopt: was absent
  std::optional<OrderedJson> after;   // nullopt: removed
};

struct MergeResult {
  std::string text;                // the new file content, ending in a newline
  std::vector<KeyChange> changes;  // empty when nothing changed
};

// Merges `updates` into `existing_text` (nullopt: the file does not exist). Keys not named by an
// update keep their values and their order; new keys are appended. Fails with kBadInput, naming
// `source_name` and the line and column, when the existing text is not a JSON object.
Result<MergeResult> MergeDaemonJson(const std::optional<std::string>& existing_text,
                                    const std::vector<KeyUpdate>& updates,
                                    std::string_view source_name);

struct DaemonJsonUpdate {
  bool written = false;  // false when the file already held exactly these bytes
  std::vector<KeyChange> changes;
};

// Reads `path`, merges `updates` and writes the result atomically, but only when the bytes
// differ, so a re-run leaves the file (and its mtime) alone.
Result<DaemonJsonUpdate> UpdateDaemonJsonFile(const std::string& path,
                                              const std::vector<KeyUpdate>& updates);

}  // namespace dind::netcfg
