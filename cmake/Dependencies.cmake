# SPDX-License-Identifier: Apache-2.0
# Every dependency comes from a Debian 12 package; scripts/install-deps.sh installs them.
find_package(PkgConfig REQUIRED)
# System headers are marked SYSTEM so their warnings do not fail our -Werror build.
pkg_check_modules(LIBNL REQUIRED IMPORTED_TARGET libnl-3.0 libnl-route-3.0)
pkg_check_modules(NFTNL REQUIRED IMPORTED_TARGET libnftnl libmnl)
pkg_check_modules(IPTC REQUIRED IMPORTED_TARGET libip4tc libip6tc)
find_package(Boost 1.74 REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(CLI11 REQUIRED)
# The daemon's event loop: Boost.Asio and Beast are header-only; Asio needs the thread library.
find_package(Threads REQUIRED)
# Keeping only the capabilities a command needs (cap_get_proc, cap_set_proc, cap_drop_bound).
pkg_check_modules(LIBCAP REQUIRED IMPORTED_TARGET libcap)

# DIND_STATIC_LIBS: the imported targets link the static archives Debian ships instead of the
# shared libraries: libnl-3, libnl-route-3, libnftnl, libcap (and zlib, common/CMakeLists.txt).
# libmnl, libip4tc and libip6tc have no archive in Debian 12 and stay shared, as glibc does.
if(DIND_STATIC_LIBS)
  function(dind_link_static_archives target)  # ARGN: library names, in link order
    set(libraries)
    foreach(name IN LISTS ARGN)
      find_library(DIND_ARCHIVE_${name} NAMES lib${name}.a)
      if(DIND_ARCHIVE_${name})
        list(APPEND libraries ${DIND_ARCHIVE_${name}})
      else()
        list(APPEND libraries ${name})  # no archive: the shared library, by name
      endif()
    endforeach()
    set_property(TARGET ${target} PROPERTY INTERFACE_LINK_LIBRARIES ${libraries})
  endfunction()
  dind_link_static_archives(PkgConfig::LIBNL nl-route-3 nl-3 pthread m)
  dind_link_static_archives(PkgConfig::NFTNL nftnl mnl)
  dind_link_static_archives(PkgConfig::LIBCAP cap)
  set(ZLIB_USE_STATIC_LIBS ON)
endif()
