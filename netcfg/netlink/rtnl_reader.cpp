// SPDX-License-Identifier: Apache-2.0
#include "netcfg/netlink/rtnl_reader.h"

#include <netlink/netlink.h>
#include <sys/socket.h>

#include <cerrno>

#include "netcfg/netlink/libnl_ptr.h"
#include "netcfg/netlink/rtnl_convert.h"

namespace dind::netcfg {
namespace {

// Every object in a cache of T (libnl objects begin with the common object header, which is
// what makes the cast from nl_object valid).
template <typename T, typename Visit>
void ForEachObject(nl_cache* cache, Visit visit) {
  for (nl_object* object = nl_cache_get_first(cache); object != nullptr;
       object = nl_cache_get_next(object)) {
    visit(reinterpret_cast<T*>(object));
  }
}

}  // namespace

Result<NetworkSnapshot> RtnlReader::ReadSnapshot() {
  LibnlPtr<nl_sock> socket(nl_socket_alloc());
  if (!socket) return Error::Environment("allocating a libnl netlink socket", ENOMEM);
  if (const int error = nl_connect(socket.get(), NETLINK_ROUTE); error < 0) {
    return RtnlError("opening an rtnetlink socket", error);
  }

  NetworkSnapshot snapshot;
  nl_cache* raw_cache = nullptr;

  if (const int error = rtnl_link_alloc_cache(socket.get(), AF_UNSPEC, &raw_cache); error < 0) {
    return RtnlError("reading links through rtnetlink", error);
  }
  LibnlPtr<nl_cache> links(raw_cache);
  ForEachObject<rtnl_link>(links.get(),
                           [&](rtnl_link* link) { snapshot.links.push_back(LinkFromRtnl(link)); });

  raw_cache = nullptr;
  if (const int error = rtnl_addr_alloc_cache(socket.get(), &raw_cache); error < 0) {
    return RtnlError("reading addresses through rtnetlink", error);
  }
  LibnlPtr<nl_cache> addresses(raw_cache);
  ForEachObject<rtnl_addr>(addresses.get(), [&](rtnl_addr* address) {
    if (auto info = AddressFromRtnl(address)) snapshot.addresses.push_back(*info);
  });

  // A route dump without RTM_F_CLONED and without a table filter returns every table of both
  // families; flags 0 leaves out only the cloned (cache) entries we do not want.
  raw_cache = nullptr;
  if (const int error = rtnl_route_alloc_cache(socket.get(), AF_UNSPEC, 0, &raw_cache); error < 0) {
    return RtnlError("reading routes through rtnetlink", error);
  }
  LibnlPtr<nl_cache> routes(raw_cache);
  ForEachObject<rtnl_route>(routes.get(), [&](rtnl_route* route) {
    if (auto info = RouteFromRtnl(route)) snapshot.routes.push_back(*info);
  });

  return snapshot;
}

}  // namespace dind::netcfg
