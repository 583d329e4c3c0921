// What `watch` does (issue #6, seed "How can Ops detect that master is
// down?"): polls every configured site (each on its own, a new connection
// per check with a connect timeout and a client-side statement deadline, so
// a frozen site delays no other site's result — issue #14 item 2), reports
// one event per change of a site's health, and follows the E3
// primary: after N consecutive failed checks of it (unreachable, or no longer
// accepting writes) it stops with exit 4 — or, with on_fail, starts that
// command once per outage (in the background, bounded by on_fail_timeout,
// its outcome reported as an event) and keeps watching; a run that saw an
// outage then ends with exit 3. Started while the primary is already down, it
// follows the last primary the E3 standbys heard from (their WAL receiver's
// sender, else the newest heartbeat they replayed) and counts it as failing.
// A site whose server refuses rulectl's login is a configuration alert, never
// an outage (site/connect.hpp ConnectFailure). Detection only: promotion
// across data centres stays a human decision (the event says which commands
// would do it). Prints nothing: every event goes to the caller's callback.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "site/config.hpp"

namespace rulekeeper::ops {

struct WatchRequest {
  int interval_ms = 1000;
  int fail_after = 3;
  std::string on_fail;          // shell command; empty: stop at the first outage
  int on_fail_timeout_s = 300;  // the on_fail command is killed after this
  long long count = 0;          // checks, 0 = forever
};

// One event. kind "site": a site's health class moved `from` -> `to` (""
// from: the first check). Site "e3" for the E3 primary as a whole: kind
// "primary" (the primary followed, from -> to), "failed" (from the primary to
// FAILED), "split_brain", "on_fail" (the command's start and outcome, in
// `to`). Kind "configuration": a problem only the operator can fix (a login
// refused, a role that cannot see what watch needs), in `to`.
struct WatchEvent {
  std::string at;  // RFC 3339 UTC ms
  std::string kind;
  std::string site;
  std::string from;
  std::string to;
  std::string detail;
  nlohmann::json to_json() const;
};

struct WatchReport {
  std::optional<std::string> failed;  // the E3 primary that failed (exit 4)
  int consecutive_failures = 0;
  std::string first_failure_at;
  std::vector<WatchEvent> events;
  int outages = 0;         // FAILED events during the run
  int refused_logins = 0;  // sites whose login was refused at some check
  int exit_code = 0;
  nlohmann::json to_json() const;
};

// Runs the checks; each event goes to `on_event` as it happens (and into the
// report). Exit code: 4 at the first outage without on_fail; else, when the
// run ends (count), 3 if an outage was seen, 2 if a login was refused, 0.
// Throws common::ExitError(exit_usage) for a bad request.
WatchReport watch(const config::Config& config, const WatchRequest& request,
                  const std::function<void(const WatchEvent&)>& on_event);

}  // namespace rulekeeper::ops
