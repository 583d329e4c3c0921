// Who is notified (issue #18 item 3, docs/notifications.md): holding and
// releasing a (site, channel) notification scope at the E3 primary, and what
// a site's gateway serves per channel — the SQL of `rulectl notify` and of
// the notifications section of `rulectl status`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

namespace rulekeeper::site::client {

// One row of rulekeeper.notification_state(site).
struct ChannelNotification {
  std::string channel;
  long long current_epoch = 0;  // the channel's epoch at the node asked
  bool held = false;
  std::optional<long long> held_epoch;
  std::optional<std::string> held_by;
  std::optional<std::string> held_at;  // RFC 3339 UTC
  std::optional<std::string> reason;
  // What the site's gateway serves: the held epoch while held.
  long long served_epoch() const { return held && held_epoch ? *held_epoch : current_epoch; }
};

// rulekeeper.notification_state(site) at the node `conn` reaches, by channel.
std::vector<ChannelNotification> notification_state(pqxx::connection& conn, const std::string& site);

// rulekeeper.hold_notifications / release_notifications(site, channel,
// reason): the row written, as JSON (timestamps RFC 3339). With dry_run, in
// a transaction that is rolled back: the database's own checks and the row
// it would write, nothing kept.
nlohmann::json hold_notifications(pqxx::connection& conn, const std::string& site, const std::string& channel,
                                  const std::string& reason, bool dry_run);
nlohmann::json release_notifications(pqxx::connection& conn, const std::string& site, const std::string& channel,
                                     const std::string& reason, bool dry_run);

}  // namespace rulekeeper::site::client
