// Exit codes of rulectl (a contract: scripts act on them, see docs/design/contract.md "Exit codes")
// and the exception that carries one up to main().
#pragma once

#include <stdexcept>
#include <string>

namespace rulekeeper::common {

enum ExitCode : int {
  exit_ok = 0,
  exit_failed = 1,
  exit_usage = 2,        // bad flags, bad config file
  exit_refused = 3,      // a safety check said no
  exit_unreachable = 4,  // a site that was needed did not answer
};

// Thrown anywhere below main(); main prints what() as one line on stderr and
// exits with code. Plain std::exceptions exit 1.
class ExitError : public std::runtime_error {
public:
  ExitError(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ExitCode code() const noexcept { return code_; }

private:
  ExitCode code_;
};

}  // namespace rulekeeper::common
