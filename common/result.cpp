// SPDX-License-Identifier: Apache-2.0
#include "common/result.h"

#include <cstring>

namespace dind {

std::string Error::Message() const {
  std::string message = what;
  if (errnum != 0) {
    message += ": ";
    message += std::strerror(errnum);
    message += " (errno " + std::to_string(errnum) + ")";
  }
  if (!hint.empty()) {
    message += "; ";
    message += hint;
  }
  return message;
}

int Error::ExitCode() const {
  switch (kind) {
    case ErrorKind::kBadInput:
    case ErrorKind::kUsage:
      return 2;
    case ErrorKind::kEnvironment:
    case ErrorKind::kPermission:
      return 1;
  }
  return 1;
}

Error Error::Environment(std::string what, int errnum, std::string hint) {
  return Error{ErrorKind::kEnvironment, std::move(what), errnum, std::move(hint)};
}
Error Error::BadInput(std::string what, std::string hint) {
  return Error{ErrorKind::kBadInput, std::move(what), 0, std::move(hint)};
}
Error Error::Usage(std::string what, std::string hint) {
  return Error{ErrorKind::kUsage, std::move(what), 0, std::move(hint)};
}
Error Error::Permission(std::string what, int errnum, std::string hint) {
  return Error{ErrorKind::kPermission, std::move(what), errnum, std::move(hint)};
}

Error Error::Wrap(const std::string& context) const& {
  Error wrapped = *this;
  wrapped.what = context + ": " + what;
  return wrapped;
}

}  // namespace dind
