// The SQL of the pod gateway (issue #18, docs/gateway.md): what `rulectl
// gateway` asks its node — the channels' epochs and holds
// (notification_state), the node's role and lag, a channel's set at its
// current or held epoch — and the LISTEN it waits on where its node is a
// primary. Every read is a short statement or one read-only transaction: a
// gateway on a hot standby never holds a snapshot between polls.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace rulekeeper::site::client {

struct GatewayChannel {
  std::string channel;
  long long current_epoch = 0;
  bool held = false;
  std::optional<long long> held_epoch;  // set while held
};

struct GatewayPoll {
  bool in_recovery = false;
  // A standby: seconds since the last transaction it replayed was committed
  // (pg_last_xact_replay_timestamp); nullopt on a primary or before any.
  std::optional<double> replay_lag_seconds;
  // Age of the newest heartbeat row the node holds (written by the primary,
  // replicated): how far behind a standby may be, whatever it replays.
  std::optional<double> heartbeat_age_seconds;
  std::vector<GatewayChannel> channels;  // by channel name
};

// One poll: notification_state(site) and the node's role and lag, in one
// statement (one snapshot, a few indexed reads).
GatewayPoll gateway_poll(pqxx::connection& c, const std::string& site);

struct GatewayRule {
  std::string rule_key;
  std::string label;
  std::string body_json;  // the jsonb as text
  std::string content_sha256;
};

struct GatewayRuleSet {
  long long epoch = 0;  // the channel's epoch the rules belong to
  std::vector<GatewayRule> rules;
};

// The channel's set: effective_rules(channel) with activation_epoch(channel)
// read in the same snapshot (REPEATABLE READ, read only); with as_of_epoch,
// effective_rules(channel, as_of_epoch) and that epoch (a hold).
GatewayRuleSet gateway_rules(pqxx::connection& c, const std::string& channel, std::optional<long long> as_of_epoch);

// LISTEN on the activation path's NOTIFY (_set_activation's pg_notify on
// 'rulekeeper_activation', delivered at commit). The listener lives as long
// as the returned object; `on_notify` gets the channel the payload names
// ("" when it names none).
class GatewayListener {
public:
  virtual ~GatewayListener() = default;
};
std::unique_ptr<GatewayListener> gateway_listen(pqxx::connection& c,
                                                std::function<void(const std::string& channel)> on_notify);

// Waits up to `ms` for notifications on `c` (delivered to its listeners);
// the number received.
int gateway_await(pqxx::connection& c, int ms);

}  // namespace rulekeeper::site::client
