// SPDX-License-Identifier: Apache-2.0
#include "daemon/egress/netns_thread.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>

#include <cerrno>

namespace dind::egress {
namespace {

constexpr const char* kNeedsSysAdmin =
    "the egress probe's namespace needs CAP_SYS_ADMIN and CAP_NET_ADMIN: run dind-netcfg with "
    "them (a privileged sidecar or securityContext.capabilities.add)";

Error NamespaceError(const std::string& what, int errnum) {
  if (errnum == EPERM || errnum == EACCES) return Error::Permission(what, errnum, kNeedsSysAdmin);
  return Error::Environment(what, errnum,
                            "the kernel may lack network namespaces (CONFIG_NET_NS) or have hit "
                            "user.max_net_namespaces");
}

}  // namespace

namespace detail {

Status EnterNetns(int netns_fd) {
  if (::setns(netns_fd, CLONE_NEWNET) != 0) {
    return NamespaceError("entering a network namespace (setns)", errno);
  }
  return OkStatus();
}

}  // namespace detail

Result<ScopedFd> CreateNetns() {
  Result<ScopedFd> created = Error::Environment("creating the probe network namespace");
  try {
    std::thread worker([&] {
      // unshare moves only this thread, which ends right after: the daemon stays where it is.
      if (::unshare(CLONE_NEWNET) != 0) {
        created =
            NamespaceError("creating the probe network namespace (unshare CLONE_NEWNET)", errno);
        return;
      }
      ScopedFd fd(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
      if (!fd.valid()) {
        created = Error::FromErrno("opening /proc/thread-self/ns/net of the new namespace");
        return;
      }
      created = std::move(fd);
    });
    worker.join();
  } catch (const std::system_error& error) {
    return Error::Environment("starting a thread to create a network namespace",
                              error.code().value(),
                              "the process may have hit its thread limit (ulimit -u, pids.max)");
  }
  return created;
}

Result<ScopedFd> OpenNetns(const std::string& path) {
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return Error::FromErrno("opening network namespace " + path,
                            "pass the path of a network namespace, like /proc/1/ns/net");
  }
  return fd;
}

Result<ScopedFd> OpenCurrentNetns() {
  return OpenNetns("/proc/thread-self/ns/net");
}

Result<ScopedFd> OpenSocketIn(int netns_fd, int domain, int type, int protocol) {
  return RunInNetns<ScopedFd>(netns_fd, [=]() -> Result<ScopedFd> {
    ScopedFd fd(::socket(domain, type | SOCK_CLOEXEC, protocol));
    if (!fd.valid()) {
      const int errnum = errno;
      if (errnum == EPERM || errnum == EACCES) {
        return Error::Permission("opening a socket in the probe namespace", errnum,
                                 "the path-MTU probe's raw ICMP socket needs CAP_NET_RAW");
      }
      return Error::Environment("opening a socket in the probe namespace", errnum);
    }
    return fd;
  });
}

}  // namespace dind::egress
