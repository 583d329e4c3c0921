// What each E3 site is right now, as failover and rejoin need it before they
// act: reachable or not (and why), primary or standby, its timeline, and the
// upstream it streams from (WAL receiver) or is set to follow
// (primary_conninfo). One kept connection per reachable site.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "site/config.hpp"

namespace rulekeeper::node_probe {

struct NodeState {
  const config::SiteConfig* config = nullptr;
  std::unique_ptr<pqxx::connection> conn;  // kept open; null if unreachable
  bool reachable = false;
  std::string error;         // why not reachable
  bool in_recovery = false;
  long long timeline = 0;    // rulekeeper.timeline() (else the checkpoint's)
  std::string wal_receiver;  // pg_stat_wal_receiver.status, "" if none
  // The upstream it streams from (wal receiver) or is set to follow
  // (primary_conninfo); empty when it has none (or we may not read it).
  std::string upstream_host, upstream_port, upstream_from;
  const std::string& name() const { return config->name; }
};
NodeState probe_node(const config::SiteConfig& site, int connect_timeout_seconds = 3);
// Every E3 site at once, config order.
std::vector<NodeState> probe_e3(const config::Config& config);

// The configured site `n` follows ("" if none or not a configured site).
std::string upstream_site(const config::Config& config, const NodeState& n);

// Opens a connection with a short connect timeout; nullptr (and `error`) if
// the site does not answer.
std::unique_ptr<pqxx::connection> try_connect(const config::SiteConfig& site, std::string& error,
                                              int connect_timeout_seconds = 3);

}  // namespace rulekeeper::node_probe
