# SPDX-License-Identifier: Apache-2.0
# Install rules and the Debian package (CPack's DEB generator). scripts/build-deb.sh builds it;
# tests/ship/deb_test.sh checks it with lintian and installs it into a clean Debian 12 root.
#
# The package always installs under /usr (binary /usr/bin/dind-netcfg, units
# /usr/lib/systemd/system, the units name these paths) with its configuration at
# /etc/default/dind-netcfg, whatever CMAKE_INSTALL_PREFIX a developer build uses.
include(GNUInstallDirs)

set(DIND_DEB_MAINTAINER "dind-netcfg maintainers <dind-netcfg@lists.invalid>"
    CACHE STRING "Maintainer field of the Debian package")

# Directories in the package are 0755 whatever the umask of the machine that builds it.
set(CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)

install(TARGETS dind-netcfg RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${CMAKE_SOURCE_DIR}/systemd/dind-netcfg.service
              ${CMAKE_SOURCE_DIR}/systemd/dind-netcfg-init.service
        DESTINATION lib/systemd/system)
# The defaults file belongs to /etc in every layout: the units read /etc/default/dind-netcfg.
install(FILES ${CMAKE_SOURCE_DIR}/systemd/dind-netcfg.default
        DESTINATION /etc/default RENAME dind-netcfg)

# Documentation, with the copyright file and the (gzip -9n, as Debian wants) changelog.
set(DIND_DOC_DIR ${CMAKE_INSTALL_DATAROOTDIR}/doc/dind-netcfg)
set(DIND_CHANGELOG_SRC ${CMAKE_SOURCE_DIR}/packaging/debian/changelog)
set(DIND_CHANGELOG_GZ ${CMAKE_BINARY_DIR}/packaging/changelog.gz)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${DIND_CHANGELOG_SRC})
file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/packaging)
execute_process(COMMAND gzip -9nc ${DIND_CHANGELOG_SRC} OUTPUT_FILE ${DIND_CHANGELOG_GZ}
                RESULT_VARIABLE gzip_result)
if(NOT gzip_result EQUAL 0)
  message(FATAL_ERROR "gzip of ${DIND_CHANGELOG_SRC} failed: ${gzip_result}")
endif()
install(FILES ${CMAKE_SOURCE_DIR}/README.md
              ${CMAKE_SOURCE_DIR}/packaging/debian/copyright
              ${DIND_CHANGELOG_GZ}
        DESTINATION ${DIND_DOC_DIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/deploy/kubernetes DESTINATION ${DIND_DOC_DIR}/examples)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/README.md DESTINATION ${DIND_DOC_DIR}
        RENAME deploy.md)

# --- the Debian package ----------------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME dind-netcfg)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_CONTACT "${DIND_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${DIND_DEB_MAINTAINER}")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Runtime dependencies come from the binary itself: dpkg-shlibdeps maps every shared library
# it links (libnl, libnftnl, libmnl, libip4tc, libstdc++, …) to its Debian package.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# postinst sets the binary's file capabilities with setcap (libcap2-bin).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libcap2-bin")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "docker.io | docker-ce")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "network configuration for Docker-in-Docker")
# CPack writes the summary as the first line and indents this text below it; an empty line
# becomes the " ." paragraph break.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "dind-netcfg detects the network a nested dockerd runs in (uplink MTU,
overlay overhead, reachable ranges, kernel netfilter backend, cgroup) and
writes a daemon.json with a safe MTU and non-colliding address pools. It
installs the masquerade rules nested containers need through the netfilter
backend the kernel really runs, and its sidecar daemon keeps them in place,
proves nested egress and answers health, readiness and metrics requests.

This package ships the dind-netcfg command and two systemd units for VM
runners: dind-netcfg-init.service writes /etc/docker/daemon.json before
docker.service starts, dind-netcfg.service runs the sidecar daemon.

The binary is installed with file capabilities, permitted only
(cap_net_admin,cap_net_raw,cap_sys_admin+p): a non-root service that is
granted them as ambient capabilities can run it, and it raises none by
itself. dind-netcfg is licensed under the Apache License 2.0.")
# /etc/default/dind-netcfg is a conffile; postinst sets the file capabilities and prerm takes
# them off; postinst/postrm reload systemd's unit files.
set(DIND_DEB_CONTROL_DIR ${CMAKE_BINARY_DIR}/packaging/control)
file(MAKE_DIRECTORY ${DIND_DEB_CONTROL_DIR})
file(WRITE ${DIND_DEB_CONTROL_DIR}/conffiles "/etc/default/dind-netcfg\n")
foreach(script postinst prerm postrm)
  file(COPY ${CMAKE_SOURCE_DIR}/packaging/debian/${script} DESTINATION ${DIND_DEB_CONTROL_DIR}
       FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                        WORLD_READ WORLD_EXECUTE)
endforeach()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${DIND_DEB_CONTROL_DIR}/conffiles ${DIND_DEB_CONTROL_DIR}/postinst
    ${DIND_DEB_CONTROL_DIR}/prerm ${DIND_DEB_CONTROL_DIR}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
