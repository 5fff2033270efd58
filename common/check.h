// SPDX-License-Identifier: Apache-2.0
// Invariants: a broken one is a bug in dind-netcfg, not something the environment did, so it is
// never returned as an Error. DIND_CHECK aborts with file:line, the condition and a message, in
// every build type (an invariant that only holds in Debug is not one).
#pragma once

#include <cstdio>
#include <cstdlib>

namespace dind::internal {

[[noreturn]] inline void CheckFailed(const char* file, int line, const char* condition,
                                     const char* message) {
  std::fprintf(stderr, "dind-netcfg: internal error at %s:%d: %s (%s); please report it\n", file,
               line, message, condition);
  std::abort();
}

}  // namespace dind::internal

#define DIND_CHECK(condition, message)                                                        \
  do {                                                                                        \
    if (!(condition)) ::dind::internal::CheckFailed(__FILE__, __LINE__, #condition, message); \
  } while (0)
