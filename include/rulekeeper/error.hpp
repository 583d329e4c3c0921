// The one exception type of the core. Its kind maps to a SQLSTATE at the
// extension boundary (extension/guard.hpp) and to an exit code in rulectl.
#pragma once
#include <stdexcept>
#include <string>

namespace rulekeeper {

enum class ErrorKind {
  invalid_json,    // not JSON, bad UTF-8, duplicate key, nesting too deep
  invalid_input,   // well-formed but not acceptable (not an object, bad label, ...)
  inexact_number,  // a number that does not survive an IEEE-754 double round trip
  not_allowed,     // a transition/admission the tables do not allow
  corrupted,       // data that does not match its own checksum
  not_supported,   // well-formed, but not something this site does (a bundle from the wrong environment)
  internal,        // a bug: should never reach a user
};

class Error : public std::runtime_error {
public:
  Error(ErrorKind kind, const std::string& message, std::string hint = {})
      : std::runtime_error(message), kind_(kind), hint_(std::move(hint)) {}
  ErrorKind kind() const noexcept { return kind_; }
  const std::string& hint() const noexcept { return hint_; }

private:
  ErrorKind kind_;
  std::string hint_;
};

}  // namespace rulekeeper
