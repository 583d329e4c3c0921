// Helpers shared by the core unit tests: asserting that a call throws
// rulekeeper::Error of a given kind whose message says a given thing
// (CONTRIBUTING.md: every error path a user can hit has a test of its message).
#pragma once
#include "rulekeeper/error.hpp"

#include <gtest/gtest.h>

#include <string>

namespace rulekeeper::testing {

template <typename F>
::testing::AssertionResult throws_error(F&& f, ErrorKind kind, const std::string& needle = {}) {
  try {
    f();
  } catch (const Error& e) {
    if (e.kind() != kind)
      return ::testing::AssertionFailure()
             << "wrong ErrorKind " << static_cast<int>(e.kind()) << ", message: " << e.what();
    if (std::string(e.what()).find(needle) == std::string::npos)
      return ::testing::AssertionFailure() << "message \"" << e.what() << "\" does not contain \"" << needle << "\"";
    return ::testing::AssertionSuccess();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw a non-rulekeeper exception: " << e.what();
  }
  return ::testing::AssertionFailure() << "did not throw";
}

}  // namespace rulekeeper::testing
