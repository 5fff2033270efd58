# SPDX-License-Identifier: Apache-2.0
# Precompiled headers, for the cold builds of scripts/test.sh, which spend much of their time
# parsing the same headers in every file. Two are built, once each, and reused (REUSE_FROM) by
# every target whose flags match:
#   dind_pch_std   the standard headers nearly every file includes; the project's libraries and
#                  executables (dind_precompile_headers(), called once all targets exist);
#                  clang builds only (below);
#   dind_pch_test  those, googletest/googlemock and nlohmann/json; the tests of dind_add_test,
#                  whose flags (dind_test_code) differ from the libraries'.
# A precompiled header is part of every file of its targets. The libraries' holds only what
# nearly every file includes: nlohmann/json, Boost.Asio and CLI11 cost the files that do not
# include them more than they save the others. The tests' has nlohmann/json too: 4 tests in 10
# include it, and all of them spend their time in googletest's headers anyway.
# Clang refuses a precompiled header built with other options or with a definition its user
# lacks (GCC: another -O level), so the owners below have the users' flags and no definition
# of their own; a user's extra definitions (BOOST_ASIO_NO_DEPRECATED, DIND_NETCFG_BINARY, ...)
# are fine, as none of these headers reads them. -Winvalid-pch (CMake's) with DIND_WERROR makes
# a header the compiler would not use an error rather than a silent slow build.
# GCC builds precompile the tests' header only: the libraries' -O3 time is optimisation, not
# parsing, and with a precompiled header GCC 12's late -O3 warnings (-Warray-bounds) inside
# libstdc++ are no longer silenced as system-header ones, which DIND_WERROR turns into errors.
option(DIND_PCH "Precompile the standard, googletest and nlohmann/json headers" ON)
if(NOT DIND_PCH OR NOT CMAKE_CXX_COMPILER_ID MATCHES "^(Clang|GNU)$")
  function(dind_precompile_headers)
  endfunction()
  return()
endif()

set(DIND_PCH_STD_HEADERS <algorithm> <array> <chrono> <cstdint> <functional> <map> <memory>
                         <optional> <set> <string> <string_view> <utility> <variant> <vector>)

# The owners compile one empty file; what they build is the precompiled header.
file(CONFIGURE OUTPUT ${CMAKE_BINARY_DIR}/pch_owner.cpp
     CONTENT "// the owner of a precompiled header\n")

add_library(dind_pch_test OBJECT ${CMAKE_BINARY_DIR}/pch_owner.cpp)
target_link_libraries(dind_pch_test PRIVATE GTest::gmock nlohmann_json::nlohmann_json)
dind_test_code(dind_pch_test)
target_precompile_headers(dind_pch_test PRIVATE ${DIND_PCH_STD_HEADERS} <gtest/gtest.h>
                          <gmock/gmock.h> <nlohmann/json.hpp>)

if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  function(dind_precompile_headers)
  endfunction()
  return()
endif()

add_library(dind_pch_std OBJECT ${CMAKE_BINARY_DIR}/pch_owner.cpp)
target_precompile_headers(dind_pch_std PRIVATE ${DIND_PCH_STD_HEADERS})

# Without the source files' times in the precompiled headers ccache can cache their users.
foreach(owner dind_pch_std dind_pch_test)
  target_compile_options(${owner} PRIVATE "SHELL:-Xclang -fno-pch-timestamp")
endforeach()

# dind_precompile_headers(): every library and executable of the project that has no precompiled
# header yet (dind_add_test gives the tests theirs) and is not other test code (its own flags)
# reuses dind_pch_std.
function(dind_precompile_headers)
  set(dirs ${PROJECT_SOURCE_DIR})
  while(dirs)
    list(POP_FRONT dirs dir)
    get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
    list(APPEND dirs ${subdirs})
    get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
    foreach(target IN LISTS targets)
      get_target_property(type ${target} TYPE)
      get_target_property(reused ${target} PRECOMPILE_HEADERS_REUSE_FROM)
      get_target_property(headers ${target} PRECOMPILE_HEADERS)
      get_target_property(test_code ${target} DIND_TEST_CODE)
      if(type MATCHES "^(STATIC_LIBRARY|EXECUTABLE)$" AND NOT reused AND NOT headers
         AND NOT test_code)
        target_precompile_headers(${target} REUSE_FROM dind_pch_std)
      endif()
    endforeach()
  endwhile()
endfunction()
