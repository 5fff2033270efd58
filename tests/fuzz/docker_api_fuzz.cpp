// SPDX-License-Identifier: Apache-2.0
// The Docker API JSON handling (daemon/docker/docker_api.h): whatever answers on the docker
// socket, the network list, event stream and error bodies must parse into values or Errors.
// The input is used as a /networks body, an event, an error body and an event stream; the
// first byte sets the size of the chunks the stream arrives in. Checked besides the sanitizers:
// the splitter hands out the same objects however the stream is cut, each a balanced object.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/docker/docker_api.h"

namespace {

using dind::docker::JsonObjectSplitter;

void Require(bool condition) {
  if (!condition) std::abort();
}

constexpr std::size_t kMaxObjectBytes = 4096;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk_size = data[0] % 17 + 1;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);

  if (auto networks = dind::docker::ParseNetworks(text, "fuzz")) {
    for (const auto& network : *networks) {
      Require(!network.id.empty() && !network.name.empty());
      Require(network.driver != "bridge" || !network.bridge_name.empty());
      if (network.mtu) Require(*network.mtu >= 68 && *network.mtu <= 65535);
    }
  }
  (void)dind::docker::ParseEvent(text, "fuzz");
  Require(!dind::docker::ErrorMessageOf(text).empty());

  JsonObjectSplitter whole(kMaxObjectBytes);
  auto all_at_once = whole.Feed(text);

  JsonObjectSplitter chunked(kMaxObjectBytes);
  std::vector<std::string> objects;
  bool chunked_failed = false;
  for (std::size_t offset = 0; offset < text.size(); offset += chunk_size) {
    auto part = chunked.Feed(text.substr(offset, chunk_size));
    if (!part) {
      chunked_failed = true;
      break;
    }
    objects.insert(objects.end(), part->begin(), part->end());
  }
  Require(all_at_once.ok() == !chunked_failed);
  if (!all_at_once) return 0;
  Require(*all_at_once == objects);
  for (const auto& object : objects) {
    Require(object.size() >= 2 && object.front() == '{' && object.back() == '}');
    Require(object.size() <= kMaxObjectBytes);
    (void)dind::docker::ParseEvent(object, "fuzz");
  }
  return 0;
}
