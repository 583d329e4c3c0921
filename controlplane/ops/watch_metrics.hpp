// `rulectl watch --metrics-listen`: what watch knows after each tick
// (ops/watch.hpp WatchView), as Prometheus metrics — the cross-node figures
// no single node can export (issue #17 item 4): which E3 site is the
// primary and whether it answers, split brain, each standby's lag in rule
// changes and what a failover now would lose, watch's verdict. Every metric
// is listed, with its meaning and the alert that uses it, in
// docs/monitoring.md; monitoring/rulekeeper.rules.yml alerts on them.
#pragma once

#include <string>

#include "ops/watch.hpp"

namespace rulekeeper::ops {

// The verdicts watch_metrics_text exports (rulekeeper_watch_verdict{verdict=...}).
inline constexpr const char* kWatchVerdicts[] = {"ok", "no_primary", "primary_failing", "primary_failed",
                                                 "split_brain"};

// The exposition text; a view with ticks == 0 (before the first check
// ended) exports only the counters and "no_primary".
std::string watch_metrics_text(const WatchView& view);

}  // namespace rulekeeper::ops
