# Included from tests/CMakeLists.txt: registers the libFuzzer run as the CTest
# test `fuzz`. The targets are a separate clang project (tests/fuzz/
# CMakeLists.txt) that run_fuzz.sh builds itself, in a directory of this
# build (never a shared path: another checkout's stale cache there would break
# it); it is never add_subdirectory'd here, because this build is g++ and
# libFuzzer is clang's.
add_test(NAME fuzz COMMAND ${CMAKE_COMMAND} -E env RULEKEEPER_FUZZ_BUILD=${CMAKE_BINARY_DIR}/fuzz-build
                           ${CMAKE_CURRENT_LIST_DIR}/run_fuzz.sh 45)
set_tests_properties(fuzz PROPERTIES LABELS fuzz TIMEOUT 600)
