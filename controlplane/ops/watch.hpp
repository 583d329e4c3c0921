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

// What watch knows after a tick (issue #17 item 4: `watch --metrics-listen`
// serves it as Prometheus metrics, ops/watch_metrics.hpp).
struct WatchSiteView {
  std::string site;
  std::string environment;
  bool checked = false;  // a check of it has ended
  bool reachable = false;
  bool writable = false;
  bool refused = false;
  std::string health;
  double checked_at = 0;  // Unix time the latest check ended
  // A standby: the age, at its latest check, of the newest heartbeat it replayed.
  std::optional<double> heartbeat_age_seconds;
};

// How far an E3 standby is behind the followed primary, measured in the
// primary's check against the standby's version vector and received WAL
// position read at its own check just before (standby first, as `at-risk`
// reads them: what replicates in between is counted once too often, never
// missed). lag_changes: the primary's journal entries the standby has not
// replayed (`status`'s lag in changes); at_risk_changes: of those, the ones
// not proven received — what a failover to it now would lose (`at-risk`'s
// count); oldest_at_risk_age_seconds: the age of the oldest of those (0: none).
// Unknown (nullopt) while the standby or the primary does not answer.
struct WatchStandbyLag {
  std::string site;
  std::optional<long long> lag_changes;
  std::optional<long long> at_risk_changes;
  std::optional<double> oldest_at_risk_age_seconds;
  double measured_at = 0;  // Unix time; 0: never
  std::string error;       // why the last measurement failed
};

struct WatchView {
  double at = 0;                     // Unix time of this tick's end
  long long ticks = 0;               // ticks done
  std::vector<WatchSiteView> sites;  // config order
  std::string primary;               // the E3 primary followed ("" none yet)
  bool primary_reachable = false;    // it answered its latest check and accepts writes
  int consecutive_failures = 0;
  bool primary_failed = false;  // FAILED reported for the current outage
  std::vector<std::string> writable_e3;
  bool split_brain = false;
  int outages = 0;
  std::vector<WatchStandbyLag> standbys;  // with measure_lag: each other E3 site
  // ok, primary_failing (failed checks, fewer than --fail-after),
  // primary_failed, split_brain, no_primary (none followed yet).
  std::string verdict;
};

struct WatchRequest {
  int interval_ms = 1000;
  int fail_after = 3;
  std::string on_fail;          // shell command; empty: stop at the first outage
  int on_fail_timeout_s = 300;  // the on_fail command is killed after this
  long long count = 0;          // checks, 0 = forever
  // Measure each E3 standby's lag in changes in the primary's check (an
  // extra read per check: journal_since at the primary, version_vector and
  // the received position at each standby).
  bool measure_lag = false;
  // At an outage without on_fail, report it and go on watching (the run then
  // ends with exit 3, as with on_fail) instead of stopping with exit 4:
  // `--metrics-listen` must not vanish exactly when the primary fails.
  bool keep_watching = false;
  // Polled every tick: true ends the run as the last --count check does
  // (SIGTERM from systemd, ^C).
  std::function<bool()> stop_requested;
  // After every tick.
  std::function<void(const WatchView&)> on_view;
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
