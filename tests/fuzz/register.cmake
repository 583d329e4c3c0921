# Included from tests/CMakeLists.txt: registers the libFuzzer run as the CTest
# test `fuzz`. The targets are a separate clang project (tests/fuzz/
# CMakeLists.txt) that run_fuzz.sh builds under /tmp itself; it is never
# add_subdirectory'd here, because this build is g++ and libFuzzer is clang's.
add_test(NAME fuzz COMMAND ${CMAKE_CURRENT_LIST_DIR}/run_fuzz.sh 45)
set_tests_properties(fuzz PROPERTIES LABELS fuzz TIMEOUT 600)
