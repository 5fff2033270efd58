// SPDX-License-Identifier: Apache-2.0
// dockerd's binary read without running it (netcfg/dockerd/go_buildinfo.h): the ELF section
// table, Go's build-information layout and the -ldflags text all come from a file the image
// supplies. The input serves as each in turn; nothing may crash, and a version found is one
// field of text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "netcfg/dockerd/go_buildinfo.h"

namespace {

void Require(bool condition) {
  if (!condition) std::abort();
}

void CheckVersion(const std::optional<std::string>& version) {
  if (!version) return;
  Require(!version->empty());
  Require(version->find_first_of(" \t\n\r\"'") == std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const dind::netcfg::ReadAt read = [&input](std::uint64_t offset, std::size_t length,
                                             std::string& out) {
    if (offset > input.size() || length > input.size() - offset) return false;
    out = input.substr(offset, length);
    return true;
  };
  if (auto section = dind::netcfg::ReadElfSection(read, ".go.buildinfo")) {
    Require(section->size() <= input.size());
    if (auto info = dind::netcfg::GoModuleInfo(*section)) {
      CheckVersion(dind::netcfg::DockerVersionFromModuleInfo(*info));
    }
  }
  if (auto info = dind::netcfg::GoModuleInfo(input)) {
    Require(info->size() < input.size());
    CheckVersion(dind::netcfg::DockerVersionFromModuleInfo(*info));
  }
  CheckVersion(dind::netcfg::DockerVersionFromModuleInfo(input));
  return 0;
}
