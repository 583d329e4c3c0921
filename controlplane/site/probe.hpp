// The one answer to "what is this site now?". Every verb that needs a site's
// role asks here: status (everything), the writer/reader resolution of
// site/topology.hpp (role and timeline), failover and rejoin (role, timeline,
// and what a standby streams from). One connection per site, all sites at
// once, each bounded by site::kConnectTimeoutSeconds.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "site/config.hpp"

namespace rulekeeper::site {

enum class ProbeDepth {
  role,  // identity, recovery, timeline, upstream: enough to route a write or fail over
  full,  // and server/extension versions, version vector, checksum, replication view (status)
};

struct SiteState {
  const config::SiteConfig* config = nullptr;
  // From rulectl.toml.
  std::string name;
  std::string environment;
  bool dr = false;

  bool reachable = false;
  std::string error;  // why it is unreachable, or why its role is unknown (one line)
  // Not reachable because the server answered and refused the login
  // (site/connect.hpp ConnectFailure): a configuration problem, not an outage.
  bool refused = false;

  // From the server; nullopt when unknown (unreachable, or the query failed).
  std::optional<std::string> reported_site;         // rulekeeper.site
  std::optional<std::string> reported_environment;  // rulekeeper.environment
  std::optional<bool> recovery;                     // pg_is_in_recovery()
  std::optional<long long> timeline;
  std::string timeline_source;
  // Which server answered (issue 16 item 2; docs/failover.md "Reaching a
  // site through several hosts"): a site is the server behind its conninfo,
  // which a multi-host conninfo or a virtual IP may move.
  std::optional<std::string> system_identifier;  // pg_control_system()
  std::optional<std::string> server_started;     // pg_postmaster_start_time(), UTC
  // Set by probe_all: another probed site whose conninfo reached this very
  // server (the one whose name is the server's rulekeeper.site, else the
  // first in config order). A server is counted once: never a split brain.
  std::string same_server_as;  // "rulekeeper.timeline()" or "pg_control_checkpoint()"
  // A standby's upstream: from its WAL receiver, else its primary_conninfo.
  std::string wal_receiver;  // pg_stat_wal_receiver.status, "" if none
  std::string upstream_host, upstream_port, upstream_from;

  // ProbeDepth::full only.
  std::optional<std::string> server_version;
  std::optional<std::string> extension_version;  // nullopt: extension not installed
  std::optional<std::string> version_vector;     // jsonb as text
  std::optional<std::string> snapshot_checksum;
  // rulekeeper.chain_heads() as {"site:incarnation": {"seq", "entry_hash"}}
  // (docs/tamper-evidence.md): what `compare` holds side by side.
  std::optional<std::string> chain_heads;
  nlohmann::json replication = nlohmann::json::array();  // rows of rulekeeper.replication_status
  // Commits waiting for a synchronous standby (pg_stat_activity wait_event
  // SyncRep; all of them only for a superuser or pg_read_all_stats), and
  // the setting they wait on: a wait that never ends is how a synchronous
  // standby that follows another node shows.
  std::optional<long long> sync_rep_waiting;
  std::optional<double> sync_rep_oldest_seconds;
  std::optional<std::string> synchronous_standby_names;

  std::vector<std::string> notes;  // what could not be read, and why
  // The probe's connection, kept open so that later questions to this site
  // reuse it (one connection per site). Null when unreachable or lost.
  std::shared_ptr<pqxx::connection> connection;

  bool role_known() const { return reachable && recovery.has_value(); }
  bool is_primary() const { return role_known() && !*recovery; }
  bool is_standby() const { return role_known() && *recovery; }
  // "primary", "standby", "unreachable", "refused" (the server refused the
  // login), or "unknown" (reachable, role unreadable).
  std::string role() const;
  // The server's environment when it says one, else rulectl.toml's.
  std::string effective_environment() const;
  nlohmann::json to_json() const;
};

// Probes one site. Never throws for a site's failures: they end up in the
// result (reachable=false / error / notes). A conninfo that does not parse is
// a config error (common::ExitError, exit 2).
SiteState probe(const config::SiteConfig& site, ProbeDepth depth);

// Probes the given sites concurrently (an unreachable one costs one timeout,
// not one each); results in the given order.
std::vector<SiteState> probe_all(const std::vector<const config::SiteConfig*>& sites, ProbeDepth depth);
std::vector<SiteState> probe_all(const config::Config& config, ProbeDepth depth);
// The sites of one environment, in config order.
std::vector<const config::SiteConfig*> sites_of(const config::Config& config, const std::string& environment);

// Every E3 site at its role depth (failover, rejoin), config order.
std::vector<SiteState> probe_e3(const config::Config& config);

// The configured site `s` streams from or is set to follow ("" if none, or
// not a configured site).
std::string upstream_site(const config::Config& config, const SiteState& s);

// True when a and b reached the same server: both answered the same
// rulekeeper.site, system identifier and postmaster start time. Unknown
// (unreadable) identity is never the same: two servers stay two.
bool same_server(const SiteState& a, const SiteState& b);

// The E3 servers that accept writes (reachable, not in recovery), each once:
// a site reaching a server another site already reaches (same_server_as) is
// left out. More than one is a split brain: two different servers.
std::vector<const SiteState*> writable_e3(const std::vector<SiteState>& sites);

// "site X: the server behind its conninfo is site Y (...)" when the server
// answering X's conninfo says it is another site; "" otherwise.
std::string server_behind(const SiteState& s);

// Human-readable warnings about the set: a server naming itself differently
// from its toml key, a wrong environment, two writable E3 sites.
std::vector<std::string> warnings(const std::vector<SiteState>& sites);
// Configuration mistakes the servers reveal (exit 2, not a warning): a server
// whose rulekeeper.environment differs from rulectl.toml's environment
// (issue 15 item 17). Empty when every reachable site agrees.
std::vector<std::string> configuration_errors(const std::vector<SiteState>& sites);
// The message for one site, or "" when it agrees (or did not answer).
std::string environment_mismatch(const SiteState& site);

}  // namespace rulekeeper::site
