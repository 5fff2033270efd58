// SPDX-License-Identifier: Apache-2.0
// Error policy (see README "Error policy"):
//  * Failures caused by the environment (a syscall, the kernel, a missing file) and by bad input
//    are values: functions return Result<T>, carrying an Error with the errno, where it happened,
//    and what the operator should do about it.
//  * Programming errors (a broken invariant, such as value() of a Result that holds an Error)
//    abort through DIND_CHECK (common/check.h) with file:line; they are never thrown or returned.
//  * Exceptions are not ours: those of third-party code (nlohmann-json, CLI11) are caught at the
//    call site and turned into Errors, so none crosses the event loop or the C APIs we call.
//  * Error::kind decides the exit code: kUsage/kBadInput exit 2, everything else exits 1.
#pragma once

#include <cerrno>
#include <string>
#include <utility>
#include <variant>

#include "common/check.h"

namespace dind {

enum class ErrorKind {
  kEnvironment,  // the kernel, a file or a daemon said no: exit 1
  kPermission,   // missing capability or permission: exit 1
  kBadInput,     // a flag value, environment variable or input file is wrong: exit 2
  kUsage,        // the command line itself is wrong: exit 2
};

struct Error {
  ErrorKind kind = ErrorKind::kEnvironment;
  std::string what;  // what failed and where: "reading /etc/resolv.conf"
  int errnum = 0;    // errno, or 0 when the failure was not a syscall
  std::string hint;  // what to do about it; may be empty

  // "reading /etc/resolv.conf: No such file or directory (errno 2); mount it or pass --avoid"
  std::string Message() const;
  int ExitCode() const;

  static Error Environment(std::string what, int errnum = 0, std::string hint = {});
  static Error Environment(std::string what, std::string hint) {
    return Environment(std::move(what), 0, std::move(hint));
  }
  static Error FromErrno(std::string what, std::string hint = {}) {
    return Environment(std::move(what), errno, std::move(hint));
  }
  static Error BadInput(std::string what, std::string hint = {});
  static Error Usage(std::string what, std::string hint = {});
  static Error Permission(std::string what, int errnum, std::string hint = {});

  // Prefixes context as the error travels up: "init: writing daemon.json: rename …".
  Error Wrap(const std::string& context) const&;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : state_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }

  T& value() & { return *std::get_if<T>(Checked()); }
  const T& value() const& { return *std::get_if<T>(Checked()); }
  T&& value() && { return std::move(*std::get_if<T>(Checked())); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const {
    DIND_CHECK(!ok(), "error() of a Result that holds a value");
    return *std::get_if<Error>(&state_);
  }

 private:
  std::variant<T, Error>* Checked() {
    DIND_CHECK(ok(), "value() of a Result that holds an Error");
    return &state_;
  }
  const std::variant<T, Error>* Checked() const {
    DIND_CHECK(ok(), "value() of a Result that holds an Error");
    return &state_;
  }

  std::variant<T, Error> state_;
};

struct Ok {};
using Status = Result<Ok>;
inline Status OkStatus() {
  return Ok{};
}

}  // namespace dind

// Returns the error of `expr` from the enclosing function, otherwise evaluates to nothing.
#define DIND_RETURN_IF_ERROR(expr)                       \
  do {                                                   \
    auto dind_status_ = (expr);                          \
    if (!dind_status_.ok()) return dind_status_.error(); \
  } while (0)
