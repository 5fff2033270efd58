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
