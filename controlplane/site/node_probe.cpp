// See node_probe.hpp.
#include "site/node_probe.hpp"

#include <cstdlib>
#include <future>

#include "common/errors.hpp"
#include "common/text.hpp"
#include "rulekeeper/lifecycle.hpp"
#include "site/client/node_probe.hpp"
#include "site/conninfo.hpp"

namespace rulekeeper::node_probe {

std::unique_ptr<pqxx::connection> try_connect(const config::SiteConfig& site, std::string& error,
                                              int connect_timeout_seconds) {
  try {
    auto kw = conninfo::parse(site.conninfo, site.name);
    if (!kw.count("connect_timeout")) kw["connect_timeout"] = std::to_string(connect_timeout_seconds);
    return std::make_unique<pqxx::connection>(conninfo::build(kw));
  } catch (const common::ExitError&) {
    throw;
  } catch (const std::exception& e) {
    error = common::one_line(e.what());
    return nullptr;
  }
}

NodeState probe_node(const config::SiteConfig& site, int connect_timeout_seconds) {
  NodeState n;
  n.config = &site;
  n.conn = try_connect(site, n.error, connect_timeout_seconds);
  if (!n.conn) return n;
  try {
    const site::client::RecoveryState s = site::client::recovery_state(*n.conn);
    n.in_recovery = s.in_recovery;
    n.wal_receiver = s.wal_receiver;
    if (!s.sender_host.empty()) {
      n.upstream_host = s.sender_host;
      n.upstream_port = s.sender_port;
      n.upstream_from = "wal receiver";
    }
  } catch (const pqxx::broken_connection& e) {
    n.error = common::one_line(e.what());
    n.conn.reset();
    return n;
  } catch (const std::exception& e) {
    n.error = "connected, but could not read its role: " + common::one_line(e.what());
    n.conn.reset();
    return n;
  }
  n.reachable = true;
  n.timeline = site::client::timeline(*n.conn).value_or(0);
  if (n.in_recovery && n.upstream_from.empty()) {
    try {  // superusers (and pg_read_all_settings) only
      const std::string pc = site::client::primary_conninfo(*n.conn);
      if (!pc.empty()) {
        std::tie(n.upstream_host, n.upstream_port) =
            conninfo::address(conninfo::parse(pc, site.name + " (its primary_conninfo)"));
        n.upstream_from = "primary_conninfo";
      }
    } catch (const std::exception&) {
    }
  }
  return n;
}

std::vector<NodeState> probe_e3(const config::Config& config) {
  ::setenv("PGCONNECT_TIMEOUT", "3", 0);
  std::vector<std::future<NodeState>> futures;
  for (const auto& s : config.sites)
    if (parse_environment(s.environment) == Environment::e3)
      futures.push_back(std::async(std::launch::async, [&s] { return probe_node(s); }));
  std::vector<NodeState> out;
  for (auto& f : futures) out.push_back(f.get());
  return out;
}

std::string upstream_site(const config::Config& config, const NodeState& n) {
  if (n.upstream_port.empty()) return "";
  const config::SiteConfig* s = conninfo::site_at(config, n.upstream_host, n.upstream_port, n.name());
  return s ? s->name : "";
}

}  // namespace rulekeeper::node_probe
