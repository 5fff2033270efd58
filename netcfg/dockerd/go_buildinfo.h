// SPDX-License-Identifier: Apache-2.0
// dockerd's version read from its binary without running it. dockerd is a Go program: since
// Go 1.18 the linker records the build's settings in the ELF section .go.buildinfo (what
// `go version -m` prints), and Docker's builds (moby's hack/make, Debian 12's docker.io) pass
// the version there as `-ldflags "-X …/dockerversion.Version=V"`; Debian 13's and unstable's
// are -trimpath builds (below). Reading that section takes a few
// kilobytes of the file; `dockerd --version` starts the whole 70+ MiB Go program (0.2 s), which
// the entrypoint would pay before dockerd's real start. A build made with -trimpath records no
// -ldflags: the caller then runs `dockerd --version`.
//
// The parsers are pure over bytes, so they are unit-tested and fuzzed without a file.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace dind::netcfg {

// Reads `length` bytes at `offset` of a file into `out`; false when they are not all there.
using ReadAt = std::function<bool(std::uint64_t offset, std::size_t length, std::string& out)>;

// The contents of the section `name` of a little-endian 64-bit ELF file. kNotFound when the file
// has no such section; kBadInput when it is not such an ELF file or its tables do not fit in it.
Result<std::string> ReadElfSection(const ReadAt& read, std::string_view name);

// The module information of a Go >= 1.18 build-info blob (the text `go version -m` prints:
// "path …", "build\t-ldflags=…" lines); nullopt for another or a malformed layout.
std::optional<std::string> GoModuleInfo(std::string_view buildinfo);

// The value of `-X <package>.Version=VALUE` in the module information's `build -ldflags=`
// setting, for a package path ending in `/dockerversion` (github.com/docker/docker/… or a later
// module path); nullopt when the build recorded none.
std::optional<std::string> DockerVersionFromModuleInfo(std::string_view module_info);

// All of the above on the file at `path`. The value is the version as the build wrote it
// ("20.10.24+dfsg1"); an error says why it could not be read.
Result<std::string> ReadDockerdBuildVersion(const std::string& path);

// `program` as execvp would find it: itself when it holds a '/', else the first executable
// file of that name in the directories of `path_variable`.
std::optional<std::string> FindProgram(const std::string& program,
                                       const std::string& path_variable);

}  // namespace dind::netcfg
