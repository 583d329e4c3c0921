// What `watch` does (issue #6, seed "How can Ops detect that master is
// down?"): polls every configured site (all at once, one kept connection
// each), reports one event per change of a site's health, and follows the E3
// primary: after N consecutive failed checks of it (unreachable, or no longer
// accepting writes) it stops with exit 4 — or, with on_fail, runs that
// command once per outage and keeps watching. Detection only: promotion
// across data centres stays a human decision (the event says which commands
// would do it).
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
  std::string on_fail;  // shell command; empty: stop at the first outage
  long long count = 0;  // checks, 0 = forever
};

// One change: a site's health class moved `from` -> `to` ("" from: the first
// check). Sites "e3" for the E3 primary as a whole (split brain, a new
// primary, FAILED, the on_fail command's outcome).
struct WatchEvent {
  std::string at;  // RFC 3339 UTC ms
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
  int exit_code = 0;
  nlohmann::json to_json() const;
};

// Runs the checks; each event goes to `on_event` as it happens (and into the
// report). Throws common::ExitError(exit_usage) for a bad request.
WatchReport watch(const config::Config& config, const WatchRequest& request,
                  const std::function<void(const WatchEvent&)>& on_event);

}  // namespace rulekeeper::ops
