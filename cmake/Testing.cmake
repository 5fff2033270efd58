# SPDX-License-Identifier: Apache-2.0
# dind_add_test(NAME <target> SOURCES <files...> [LIBS <targets...>] [LABELS <labels...>])
#
# The one way tests are registered. Unit tests carry the label "unit" and run anywhere without
# root. Tests labelled "root" need CAP_NET_ADMIN and build their own network namespaces; run
# them apart with `ctest -L root` (or leave them out with `ctest -LE root`).
# dind_test_code(<target>): test code is run, not benchmarked. In Release builds it compiles at
# -O0 (a fifth less time than -O1 for gmock-heavy files; the sanitizer build runs the same tests
# at -O0) while the libraries under test keep -O3, so the tests still exercise the code users
# get. Other build types keep their own level.
function(dind_test_code target)
  target_compile_options(${target} PRIVATE $<$<CONFIG:Release>:-O0>)
  set_property(TARGET ${target} PROPERTY DIND_TEST_CODE TRUE)  # cmake/Pch.cmake
endfunction()

# Every test proves the masquerade backend for itself: no proof kept by an earlier test, or on
# this machine, stands in for it (rules/proof/proof_cache.h). Tests of the cache name a file.
set(DIND_TEST_ENVIRONMENT "DIND_NETCFG_PROOF_CACHE=off")

function(dind_add_test)
  cmake_parse_arguments(ARG "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_executable(${ARG_NAME} ${ARG_SOURCES})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_LIBS} GTest::gmock_main)
  dind_test_code(${ARG_NAME})
  if(TARGET dind_pch_test)  # cmake/Pch.cmake
    target_precompile_headers(${ARG_NAME} REUSE_FROM dind_pch_test)
  endif()
  set_target_properties(${ARG_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_compile_definitions(${ARG_NAME} PRIVATE
    DIND_NETCFG_BINARY="${CMAKE_BINARY_DIR}/bin/dind-netcfg"
    DIND_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  # Tests run serially within a binary; the root ones share the kernel and must not race.
  add_test(NAME ${ARG_NAME} COMMAND ${ARG_NAME})
  set_tests_properties(${ARG_NAME} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
                                              ENVIRONMENT "${DIND_TEST_ENVIRONMENT}")
  if("root" IN_LIST ARG_LABELS OR "e2e" IN_LIST ARG_LABELS)
    set_tests_properties(${ARG_NAME} PROPERTIES RUN_SERIAL TRUE)
    add_dependencies(${ARG_NAME} dind-netcfg)
  endif()
endfunction()

# dind_add_script_test(NAME <name> SCRIPT <file> [LABELS <labels...>] [TIMEOUT <s>])
# For end-to-end scenarios that drive real binaries (dockerd, iptables) from bash.
function(dind_add_script_test)
  cmake_parse_arguments(ARG "" "NAME;SCRIPT;TIMEOUT" "LABELS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 600)
  endif()
  add_test(NAME ${ARG_NAME} COMMAND bash ${ARG_SCRIPT} ${CMAKE_BINARY_DIR}/bin/dind-netcfg)
  set_tests_properties(${ARG_NAME} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
                                              RUN_SERIAL TRUE ENVIRONMENT "${DIND_TEST_ENVIRONMENT}")
endfunction()

find_package(GTest REQUIRED)

# dind_add_fuzz_test(NAME <name> SOURCES <files...> [LIBS <targets...>] [DICT <file>]
#                    [SECONDS <s>])
# A libFuzzer target <name>_fuzz (DIND_FUZZ builds only; tests/fuzz) and its ctest, label "fuzz":
# a bounded run (SECONDS, default 20; 0 runs each seed once, no mutation) on the seeds in
# tests/fuzz/corpus/<name>. The seeds are
# only read; what the run discovers goes to a temporary directory, so the repo's corpus does
# not grow. Crash inputs are kept in <build>/tests/fuzz/artifacts/<name>_fuzz/.
function(dind_add_fuzz_test)
  cmake_parse_arguments(ARG "" "NAME;DICT;SECONDS" "SOURCES;LIBS" ${ARGN})
  if(NOT DEFINED ARG_SECONDS)
    set(ARG_SECONDS 10)
  endif()
  set(target ${ARG_NAME}_fuzz)
  add_executable(${target} ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE ${ARG_LIBS})
  target_link_options(${target} PRIVATE -fsanitize=fuzzer)
  set_target_properties(${target} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/fuzz)
  add_dependencies(dind_fuzz_targets ${target})
  set(dict_args)
  if(ARG_DICT)
    set(dict_args ${CMAKE_CURRENT_SOURCE_DIR}/${ARG_DICT})
  endif()
  add_test(NAME ${target}
           COMMAND bash ${PROJECT_SOURCE_DIR}/tests/fuzz/run_fuzz_test.sh $<TARGET_FILE:${target}>
                   ${CMAKE_CURRENT_SOURCE_DIR}/corpus/${ARG_NAME} ${ARG_SECONDS}
                   ${CMAKE_BINARY_DIR}/tests/fuzz/artifacts/${target} ${dict_args})
  # The run is bounded by -max_total_time; the margin covers loading the seeds and the exit.
  math(EXPR timeout "${ARG_SECONDS} + 120")
  set_tests_properties(${target} PROPERTIES LABELS fuzz TIMEOUT ${timeout})
endfunction()
