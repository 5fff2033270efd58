// SPDX-License-Identifier: Apache-2.0
// A pipe to give a child as its stdout/stderr, read without blocking the test's loop.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <string>

#include "common/check.h"
#include "common/scoped_fd.h"

namespace dind::process::test {

class ChildOutput {
 public:
  ChildOutput() {
    int fds[2];
    DIND_CHECK(::pipe2(fds, O_CLOEXEC) == 0, "pipe2 for a child's output");
    read_end_.reset(fds[0]);
    write_end_.reset(fds[1]);
    DIND_CHECK(::fcntl(read_end_.get(), F_SETFL, O_NONBLOCK) == 0, "O_NONBLOCK on a pipe");
  }

  int write_fd() const { return write_end_.get(); }
  // After Launch: the child holds its own copy, and EOF comes once it (and its heirs) are done.
  void CloseWriteEnd() { write_end_.reset(); }

  // Everything the child wrote so far.
  const std::string& Text() {
    std::array<char, 4096> buffer;
    while (true) {
      const ssize_t n = ::read(read_end_.get(), buffer.data(), buffer.size());
      if (n > 0) {
        text_.append(buffer.data(), static_cast<std::size_t>(n));
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        break;  // EOF, or EAGAIN: nothing more yet
      }
    }
    return text_;
  }
  bool Contains(const std::string& needle) { return Text().find(needle) != std::string::npos; }

 private:
  ScopedFd read_end_;
  ScopedFd write_end_;
  std::string text_;
};

}  // namespace dind::process::test
