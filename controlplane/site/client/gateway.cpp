// See gateway.hpp.
#include "site/client/gateway.hpp"

#include <nlohmann/json.hpp>

namespace rulekeeper::site::client {

GatewayPoll gateway_poll(pqxx::connection& c, const std::string& site) {
  pqxx::nontransaction tx(c);
  // One statement: the role and lag columns repeat on each channel's row.
  const pqxx::result r = tx.exec_params(
      "SELECT pg_catalog.pg_is_in_recovery(), "
      "CASE WHEN pg_catalog.pg_is_in_recovery() THEN extract(epoch FROM pg_catalog.clock_timestamp() - "
      "pg_catalog.pg_last_xact_replay_timestamp())::float8 END, "
      "(SELECT extract(epoch FROM pg_catalog.clock_timestamp() - max(h.beat_at))::float8 "
      "FROM rulekeeper.heartbeat h), "
      "n.channel, n.current_epoch, n.held, n.held_epoch "
      "FROM (SELECT 1) one LEFT JOIN rulekeeper.notification_state($1) n ON true ORDER BY n.channel",
      site);
  GatewayPoll p;
  for (const auto& row : r) {
    p.in_recovery = row[0].as<bool>();
    if (!row[1].is_null()) p.replay_lag_seconds = std::max(0.0, row[1].as<double>());
    if (!row[2].is_null()) p.heartbeat_age_seconds = std::max(0.0, row[2].as<double>());
    if (row[3].is_null()) continue;
    GatewayChannel ch;
    ch.channel = row[3].c_str();
    ch.current_epoch = row[4].as<long long>();
    ch.held = !row[5].is_null() && row[5].as<bool>();
    if (!row[6].is_null()) ch.held_epoch = row[6].as<long long>();
    p.channels.push_back(std::move(ch));
  }
  return p;
}

GatewayRuleSet gateway_rules(pqxx::connection& c, const std::string& channel, std::optional<long long> as_of_epoch) {
  pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> tx(c);
  GatewayRuleSet set;
  pqxx::result rows;
  if (as_of_epoch) {
    set.epoch = *as_of_epoch;
    rows = tx.exec_params(
        "SELECT rule_key, label, body::text, content_sha256 FROM rulekeeper.effective_rules($1, $2) ORDER BY rule_key",
        channel, *as_of_epoch);
  } else {
    set.epoch = tx.exec_params("SELECT rulekeeper.activation_epoch($1)", channel)[0][0].as<long long>();
    rows = tx.exec_params(
        "SELECT rule_key, label, body::text, content_sha256 FROM rulekeeper.effective_rules($1) ORDER BY rule_key",
        channel);
  }
  for (const auto& row : rows)
    set.rules.push_back({row[0].c_str(), row[1].c_str(), row[2].c_str(), row[3].is_null() ? "" : row[3].c_str()});
  tx.commit();
  return set;
}

namespace {

class Receiver : public pqxx::notification_receiver, public GatewayListener {
public:
  Receiver(pqxx::connection& c, std::function<void(const std::string&)> f)
      : pqxx::notification_receiver(c, "rulekeeper_activation"), f_(std::move(f)) {}
  void operator()(const std::string& payload, int) override {
    std::string channel;
    const nlohmann::json j = nlohmann::json::parse(payload, nullptr, false);
    if (j.is_object() && j.contains("channel") && j["channel"].is_string()) channel = j["channel"].get<std::string>();
    f_(channel);
  }

private:
  std::function<void(const std::string&)> f_;
};

}  // namespace

std::unique_ptr<GatewayListener> gateway_listen(pqxx::connection& c,
                                                std::function<void(const std::string& channel)> on_notify) {
  return std::make_unique<Receiver>(c, std::move(on_notify));
}

int gateway_await(pqxx::connection& c, int ms) {
  if (int n = c.get_notifs(); n > 0) return n;
  return c.await_notification(ms / 1000, (ms % 1000) * 1000L);
}

}  // namespace rulekeeper::site::client
