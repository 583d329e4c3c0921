# Included from tests/CMakeLists.txt: registers the AddressSanitizer +
# UndefinedBehaviorSanitizer run of the core unit tests and the server-less
# rulectl checks as the CTest test `sanitizers`. run_sanitized.sh configures
# and builds its own copy of this project with the sanitizer flags, in a
# directory of this build (not a shared path another checkout may have used).
add_test(NAME sanitizers COMMAND ${CMAKE_COMMAND} -E env RULEKEEPER_ASAN_BUILD=${CMAKE_BINARY_DIR}/asan-build
                                 ${CMAKE_CURRENT_LIST_DIR}/run_sanitized.sh)
set_tests_properties(sanitizers PROPERTIES LABELS sanitize TIMEOUT 900)
