// SPDX-License-Identifier: Apache-2.0
// The daemon.json merge (netcfg/daemon_json): the existing file is the user's and may hold
// anything. The input is the file's text; the updates are the ones `init` and `run` make
// (PlanDaemonJson), with the first byte choosing which of them set and which remove.
// Checked: the merge never throws past its API, text that is not a JSON object is refused as
// bad input (never an internal error), and a merged file merged again with the same updates
// comes back byte for byte unchanged with no changes reported: a re-run leaves the file alone.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "netcfg/daemon_json/daemon_json.h"
#include "netcfg/daemon_json/json_text.h"

namespace {

using dind::netcfg::KeyUpdate;
using dind::netcfg::OrderedJson;

void Require(bool condition) {
  if (!condition) std::abort();
}

// Bit i of `selector` set: update i removes its key instead of setting it.
std::vector<KeyUpdate> UpdatesFor(std::uint8_t selector) {
  OrderedJson pools = OrderedJson::array();
  pools.push_back({{"base", "10.201.0.0/16"}, {"size", 24}});
  std::vector<KeyUpdate> updates{
      {{"mtu"}, OrderedJson(1450)},
      {{"default-network-opts", "bridge", "com.docker.network.driver.mtu"}, OrderedJson("1450")},
      {{"bip"}, OrderedJson("10.200.0.1/24")},
      {{"fixed-cidr"}, OrderedJson("10.200.0.0/24")},
      {{"default-address-pools"}, pools},
      {{"cgroup-parent"}, OrderedJson("/kubepods/pod1234")},
  };
  for (std::size_t i = 0; i < updates.size(); ++i) {
    if ((selector >> i) & 1U) updates[i].value.reset();
  }
  return updates;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::vector<KeyUpdate> updates = UpdatesFor(data[0]);
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);

  // The scan must stay in bounds on any text, valid JSON or not.
  const auto scan = dind::netcfg::json_text::ScanJsonText(text);
  for (const auto& [path, position] : scan.key_positions) {
    Require(!path.empty() && position.line >= 1 && position.column >= 1);
  }
  (void)dind::netcfg::json_text::PositionAtOffset(text, text.size() / 2);

  auto merged = dind::netcfg::MergeDaemonJson(text, updates, "daemon.json");
  if (!merged) {
    Require(merged.error().kind == dind::ErrorKind::kBadInput);
    Require(!merged.error().what.empty());
    return 0;
  }
  Require(!merged->text.empty() && merged->text.back() == '\n');

  auto again = dind::netcfg::MergeDaemonJson(merged->text, updates, "daemon.json");
  Require(again.ok());
  Require(again->text == merged->text);
  Require(again->changes.empty());
  return 0;
}
