// What a failed statement means for rulectl: the SQLSTATE of a pqxx
// failure, the exit code it maps to, and the server's message (with detail
// and hint, without CONTEXT) on one line.
#pragma once

#include <string>

#include <pqxx/pqxx>

#include "common/errors.hpp"

namespace rulekeeper::site {

// The exit code for an error the extension raised (SQLSTATE):
//   3 (refused): class 23 (check_violation, unique_violation ...), 55000
//     object_not_in_prerequisite_state (pins, unset settings), 40001 (the
//     expected_epoch race), XX001 data_corrupted (a tampered bundle), 0A000
//     feature_not_supported (wrong environment), 25006 (a standby);
//   1 (failed): everything else, e.g. P0002 no_data_found (unknown rule or
//     version, nothing to roll back to).
// The SQLSTATE of a failed statement ("" if unknown).
std::string sqlstate_of(const pqxx::failure& e);
common::ExitCode exit_code_for(const pqxx::failure& e);
// The server's message and hint on one line, without the CONTEXT lines.
std::string server_message(const pqxx::failure& e);
// The server's HINT, one line; "" when there is none.
std::string server_hint(const pqxx::failure& e);
// common::ExitError for a failed statement: "<what>: <message> (hint: ...) [SQLSTATE X]",
// carrying the SQLSTATE and the hint.
common::ExitError sql_failure(const std::string& what, const pqxx::failure& e);

}  // namespace rulekeeper::site
