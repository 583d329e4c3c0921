// See watch_metrics.hpp.
#include "ops/watch_metrics.hpp"

#include "http/prometheus.hpp"

namespace rulekeeper::ops {

std::string watch_metrics_text(const WatchView& v) {
  http::MetricsText m;
  auto flag = [](bool b) { return b ? 1.0 : 0.0; };

  m.family("rulekeeper_watch_checks_total", "counter", "Check rounds (ticks) rulectl watch has completed")
      .sample({}, static_cast<double>(v.ticks));
  m.family("rulekeeper_watch_last_check_timestamp_seconds", "gauge",
           "Unix time the latest check round ended (0: none yet)")
      .sample({}, v.at);

  m.family("rulekeeper_watch_site_up", "gauge",
           "1 when the site answered its latest check and accepted rulectl's login");
  for (const auto& s : v.sites)
    if (s.checked) m.sample({{"site", s.site}, {"environment", s.environment}}, flag(s.reachable));
  m.family("rulekeeper_watch_site_writable", "gauge", "1 when the site accepts writes (not in recovery)");
  for (const auto& s : v.sites)
    if (s.checked) m.sample({{"site", s.site}, {"environment", s.environment}}, flag(s.writable));
  m.family("rulekeeper_watch_site_login_refused", "gauge",
           "1 when the site's server answered and refused rulectl's login: a configuration problem, not an outage");
  for (const auto& s : v.sites)
    if (s.checked) m.sample({{"site", s.site}, {"environment", s.environment}}, flag(s.refused));
  m.family("rulekeeper_watch_site_last_check_timestamp_seconds", "gauge", "Unix time the site's latest check ended");
  for (const auto& s : v.sites)
    if (s.checked) m.sample({{"site", s.site}, {"environment", s.environment}}, s.checked_at);
  m.family("rulekeeper_watch_site_heartbeat_age_seconds", "gauge",
           "A standby: age of the newest heartbeat it had replayed at its latest check (an upper bound of its lag)");
  for (const auto& s : v.sites)
    if (s.checked && s.heartbeat_age_seconds)
      m.sample({{"site", s.site}, {"environment", s.environment}}, *s.heartbeat_age_seconds);

  m.family("rulekeeper_watch_primary", "gauge", "1 for the E3 primary watch follows (absent: none known yet)");
  if (!v.primary.empty()) m.sample({{"site", v.primary}}, 1);
  m.family("rulekeeper_watch_primary_reachable", "gauge",
           "1 when the followed E3 primary answered its latest check and accepts writes; 0 otherwise, also when "
           "no primary is known");
  m.sample({}, flag(v.primary_reachable));
  m.family("rulekeeper_watch_primary_consecutive_failures", "gauge",
           "Consecutive failed checks of the followed E3 primary");
  m.sample({}, v.consecutive_failures);
  m.family("rulekeeper_watch_primary_failed", "gauge",
           "1 once the followed primary failed --fail-after consecutive checks (watch's FAILED), until it answers "
           "again or another site takes over");
  m.sample({}, flag(v.primary_failed));
  m.family("rulekeeper_watch_outages_total", "counter", "FAILED events of the E3 primary since watch started");
  m.sample({}, v.outages);
  m.family("rulekeeper_watch_writable_e3_sites", "gauge", "E3 sites that accept writes (1 in normal operation)");
  m.sample({}, static_cast<double>(v.writable_e3.size()));
  m.family("rulekeeper_watch_split_brain", "gauge", "1 when more than one E3 site accepts writes");
  m.sample({}, flag(v.split_brain));
  m.family("rulekeeper_watch_verdict", "gauge", "watch's verdict on E3: 1 for the current one, 0 for the others");
  for (const char* verdict : kWatchVerdicts) m.sample({{"verdict", verdict}}, flag(v.verdict == verdict));

  m.family("rulekeeper_watch_standby_lag_changes", "gauge",
           "Journal entries (rule changes) the followed primary holds that this E3 standby has not replayed; NaN "
           "when unknown");
  for (const auto& s : v.standbys)
    m.sample({{"standby", s.site}},
             s.lag_changes ? std::optional<double>(static_cast<double>(*s.lag_changes)) : std::nullopt);
  m.family("rulekeeper_watch_standby_at_risk_changes", "gauge",
           "Of those, the ones not proven received by the standby: what a failover to it now would lose (rulectl "
           "at-risk); NaN when unknown");
  for (const auto& s : v.standbys)
    m.sample({{"standby", s.site}},
             s.at_risk_changes ? std::optional<double>(static_cast<double>(*s.at_risk_changes)) : std::nullopt);
  m.family("rulekeeper_watch_standby_oldest_at_risk_age_seconds", "gauge",
           "Age of the oldest change at risk for this standby (0: none); NaN when unknown");
  for (const auto& s : v.standbys) m.sample({{"standby", s.site}}, s.oldest_at_risk_age_seconds);
  m.family("rulekeeper_watch_standby_lag_measured_timestamp_seconds", "gauge",
           "Unix time of the latest successful lag measurement of this standby (0: never)");
  for (const auto& s : v.standbys) m.sample({{"standby", s.site}}, s.measured_at);
  return m.text();
}

}  // namespace rulekeeper::ops
