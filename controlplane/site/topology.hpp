// Where a write goes: resolving --site/--from/--to to one configured site and
// its one connection, with the safety checks every writing verb shares
// (DESIGN.md "Domain", "CLI rulectl"):
//   - `e3` is the E3 primary: the one E3 site that is reachable and not in
//     recovery, even when another E3 site is down;
//   - two writable E3 sites are a split brain: every write to E3 is refused
//     (exit 3), naming both and their timelines (rulekeeper.timeline());
//   - a named site that is a standby is refused (exit 3) naming the primary;
//   - a site that does not answer is exit 4.
// Also the mapping of the extension's SQLSTATEs to rulectl's exit codes, and
// the wait until other E3 sites hold a change (version vectors).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "site/config.hpp"
#include "common/errors.hpp"

namespace rulekeeper::resolve {

// A site a verb acts at, with the connection it uses there.
struct Site {
  const config::SiteConfig* config = nullptr;
  std::unique_ptr<pqxx::connection> conn;
  bool in_recovery = false;
  std::optional<long long> timeline;
  std::string reported_environment;  // rulekeeper.environment as the server says it

  const std::string& name() const { return config->name; }
  // The server's environment when it says one, else rulectl.toml's.
  std::string environment() const {
    return reported_environment.empty() ? config->environment : reported_environment;
  }
};

// Sets PGCONNECT_TIMEOUT=3 unless the environment has one (a conninfo's own
// connect_timeout wins). Call before starting threads.
void default_connect_timeout();

// Opens a connection to a configured site; throws common::ExitError(common::exit_unreachable)
// naming the site if it does not answer.
std::unique_ptr<pqxx::connection> connect(const config::SiteConfig& site);

// The configured site called `name`, or common::ExitError(common::exit_usage) listing the
// names there are.
const config::SiteConfig& find_site(const config::Config& config, const std::string& name);

// A site to write at: `e3` (the E3 primary) or a site name. Refusals as
// described above; `action` names the verb in messages ("activate").
Site writer(const config::Config& config, const std::string& name, const std::string& action);

// A named site to read from (no role check), e.g. the source of a release.
Site reader(const config::Config& config, const std::string& name);

// The exit code for an error the extension raised (SQLSTATE):
//   3 (refused): class 23 (check_violation, unique_violation …), 55000
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
// common::ExitError for a failed statement: "<what>: <message> (hint: …)".
common::ExitError sql_failure(const std::string& what, const pqxx::failure& e);

// {"site:incarnation": seq} as read from rulekeeper.version_vector().
using VersionVector = std::map<std::string, long long>;
VersionVector parse_vector(const std::string& jsonb_text);
// Entries of `want` that `have` does not cover ("ipc2:1 needs 57, has 50").
std::vector<std::string> missing(const VersionVector& have, const VersionVector& want);

// After a commit at `primary` whose version vector is then `want`: waits up to
// `seconds` until every other site of the primary's environment covers it,
// printing a progress line on stderr every second. Returns the JSON report
// {"replicated": bool, "sites": [{"site", "replicated", "why"}], "waited_seconds"}
// and sets `summary` to "replicated to ipc1" / "NOT replicated to ipc1 (…)".
nlohmann::json wait_replicated(const config::Config& config, const std::string& primary,
                               const VersionVector& want, double seconds, std::string& summary);

}  // namespace rulekeeper::resolve
