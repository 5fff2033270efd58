// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the daemon's Boost.Asio code: turning Boost error codes into Errors, and
// descriptor hygiene Asio leaves to us.
#pragma once

#include <fcntl.h>

#include <boost/system/error_code.hpp>
#include <string>

#include "common/result.h"

namespace dind::asio_support {

// An Error of kind Environment. Errors from the operating system keep their errno so the
// message reads like every other syscall failure; others (Beast's parse errors) carry their text.
inline Error ErrorFromBoost(std::string what, const boost::system::error_code& code,
                            std::string hint = {}) {
  if (code.category() == boost::system::system_category() ||
      code.category() == boost::system::generic_category()) {
    return Error::Environment(std::move(what), code.value(), std::move(hint));
  }
  return Error::Environment(std::move(what) + ": " + code.message(), 0, std::move(hint));
}

// Asio opens sockets without O_CLOEXEC; a child process must not inherit the endpoint's
// listening socket or a connection to dockerd.
inline void SetCloseOnExec(int fd) {
  const int flags = ::fcntl(fd, F_GETFD);
  if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

}  // namespace dind::asio_support
