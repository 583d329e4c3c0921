// Shared by the libFuzzer targets: what counts as a finding besides a crash.
// The core's contract is that hostile input ends in a return or a
// rulekeeper::Error; any other exception, or a broken invariant the target
// checks, aborts with a message so that libFuzzer saves the input.
#pragma once
#include "rulekeeper/error.hpp"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

namespace rulekeeper::fuzz {

[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "\n==fuzz finding== %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// Runs f; a rulekeeper::Error is an accepted outcome (returns false), any
// other exception is a finding. Returns true when f returned normally.
template <typename F>
bool only_rulekeeper_errors(const char* what, F&& f) {
  try {
    f();
    return true;
  } catch (const Error&) {
    return false;
  } catch (const std::exception& e) {
    finding(std::string(what) + " threw a non-rulekeeper exception: " + e.what());
  } catch (...) {
    finding(std::string(what) + " threw something that is not a std::exception");
  }
}

}  // namespace rulekeeper::fuzz
