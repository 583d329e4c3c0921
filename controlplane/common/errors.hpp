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
// A failure the server reported carries its SQLSTATE and HINT too, for the
// --json error document (cli/error_report.hpp).
class ExitError : public std::runtime_error {
public:
  ExitError(ExitCode code, const std::string& message, std::string sqlstate = {}, std::string hint = {})
      : std::runtime_error(message), code_(code), sqlstate_(std::move(sqlstate)), hint_(std::move(hint)) {}
  ExitCode code() const noexcept { return code_; }
  const std::string& sqlstate() const noexcept { return sqlstate_; }
  const std::string& hint() const noexcept { return hint_; }

private:
  ExitCode code_;
  std::string sqlstate_;
  std::string hint_;
};

}  // namespace rulekeeper::common
