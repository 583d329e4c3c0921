// Asking each configured site who and what it is: one connection per site,
// all sites at once, bounded by connect_timeout. Used by `status` (and later
// by every verb that needs to know roles before it acts).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "site/config.hpp"

namespace rulekeeper::sites {

struct SiteStatus {
  // From rulectl.toml.
  std::string name;
  std::string environment;
  bool dr = false;

  bool reachable = false;
  std::string error;  // why it is unreachable (one line)

  // From the server; nullopt when unknown (unreachable, or the query failed).
  std::optional<std::string> reported_site;         // rulekeeper.site
  std::optional<std::string> reported_environment;  // rulekeeper.environment
  std::optional<bool> in_recovery;
  std::optional<long long> timeline;
  std::string timeline_source;  // "rulekeeper.timeline()" or "pg_control_checkpoint()"
  std::optional<std::string> server_version;
  std::optional<std::string> extension_version;  // nullopt: extension not installed
  std::optional<std::string> version_vector;     // jsonb as text
  std::optional<std::string> snapshot_checksum;
  // Rows of rulekeeper.replication_status (one object per row, columns as
  // keys, numbers as numbers, NULL as null); empty if not readable.
  nlohmann::json replication = nlohmann::json::array();
  std::vector<std::string> notes;  // what could not be read, and why
  // The probe's connection, kept open so that later questions to this site
  // (status: a primary's journal against a standby's vector) reuse it: one
  // connection per site. Null when unreachable or lost.
  std::shared_ptr<pqxx::connection> connection;

  // "primary", "standby" or "unreachable" (or "unknown" if reachable but
  // pg_is_in_recovery() failed).
  std::string role() const;
  nlohmann::json to_json() const;
};

// Probes one site. Never throws for a site's failures: they end up in the
// result (reachable=false / notes).
SiteStatus probe(const config::SiteConfig& site);

// Probes all sites concurrently (so unreachable sites cost one timeout, not
// one each); results in config order. Sets PGCONNECT_TIMEOUT=3 unless the
// environment already has one (a conninfo's own connect_timeout wins).
std::vector<SiteStatus> probe_all(const config::Config& config);

// The E3 sites that accept writes (reachable, not in recovery).
std::vector<const SiteStatus*> writable_e3(const std::vector<SiteStatus>& sites);

// One row of a result as a JSON object (numeric, boolean and NULL columns
// typed; everything else as text).
nlohmann::json row_to_json(const pqxx::row& row);

// Human-readable warnings about the set: a server naming itself differently
// from its toml key, a wrong environment, two writable E3 sites.
std::vector<std::string> warnings(const std::vector<SiteStatus>& sites);

}  // namespace rulekeeper::sites
