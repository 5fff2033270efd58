// SPDX-License-Identifier: Apache-2.0
// `run` against the real world: the kernel's notification sockets, dockerd's API socket and the
// probe namespace on the docker bridge, with the process's signals and systemd's notify protocol.
#pragma once

#include <boost/asio/io_context.hpp>
#include <optional>

#include "common/result.h"
#include "daemon/sidecar/reconciler.h"
#include "daemon/sidecar/sidecar.h"
#include "daemon/sidecar/sidecar_ports.h"
#include "rules/masquerade.h"

namespace dind::sidecar {

// Opens what `options` asks for: rtnetlink always, nf_tables notifications when `backend` is
// nft, dockerd's API unless options.docker is empty, the probes unless options.egress is.
Result<SidecarPorts> OpenLivePorts(boost::asio::io_context& io, const SidecarOptions& options,
                                   std::optional<rules::BackendKind> backend);

// Runs until SIGTERM or SIGINT; returns the exit code. `reconciler` has already started.
int RunSidecar(Reconciler& reconciler, const SidecarOptions& options);

}  // namespace dind::sidecar
