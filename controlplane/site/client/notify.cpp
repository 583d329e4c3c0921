#include "site/client/notify.hpp"

#include "common/json_file.hpp"
#include "common/time.hpp"
#include "site/client/fields.hpp"
#include "site/client/sql_time.hpp"

namespace rulekeeper::site::client {

std::vector<ChannelNotification> notification_state(pqxx::connection& conn, const std::string& site) {
  pqxx::nontransaction tx(conn);
  pqxx::result r = tx.exec_params("SELECT channel, current_epoch, held, held_epoch, held_by, " + rfc3339("held_at") +
                                      ", reason FROM rulekeeper.notification_state($1) ORDER BY channel",
                                  site);
  std::vector<ChannelNotification> out;
  for (const auto& row : r) {
    ChannelNotification n;
    n.channel = row[0].c_str();
    n.current_epoch = row[1].as<long long>();
    n.held = row[2].as<bool>();
    if (!row[3].is_null()) n.held_epoch = row[3].as<long long>();
    n.held_by = optional_text(row[4]);
    n.held_at = optional_text(row[5]);
    n.reason = optional_text(row[6]);
    out.push_back(std::move(n));
  }
  return out;
}

namespace {

nlohmann::json change(pqxx::connection& conn, const std::string& function, const std::string& site,
                      const std::string& channel, const std::string& reason, bool dry_run) {
  // function is one of two names below, never input.
  const std::string sql = "SELECT rulekeeper." + function + "($1, $2, NULLIF($3, ''))::text";
  std::string text;
  if (dry_run) {
    pqxx::work tx(conn);
    text = tx.exec_params(sql, site, channel, reason)[0][0].c_str();
    tx.abort();
  } else {
    pqxx::nontransaction tx(conn);
    text = tx.exec_params(sql, site, channel, reason)[0][0].c_str();
  }
  nlohmann::json result = common::parse_strict_json(text, function + "'s result");
  common::rfc3339_timestamps(result);
  return result;
}

}  // namespace

nlohmann::json hold_notifications(pqxx::connection& conn, const std::string& site, const std::string& channel,
                                  const std::string& reason, bool dry_run) {
  return change(conn, "hold_notifications", site, channel, reason, dry_run);
}

nlohmann::json release_notifications(pqxx::connection& conn, const std::string& site, const std::string& channel,
                                     const std::string& reason, bool dry_run) {
  return change(conn, "release_notifications", site, channel, reason, dry_run);
}

}  // namespace rulekeeper::site::client
