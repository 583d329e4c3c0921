// The questions the one probe (site/probe.hpp) asks a server about itself
// (with in_recovery from replication.hpp and snapshot_checksum from
// compare.hpp):
// identity, role, timeline, what it streams from, and — for `status` — its
// version vector, snapshot checksum and replication view. Each is one
// statement in autocommit, so a missing function (an older extension) costs
// that answer, not the others.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

namespace rulekeeper::site::client {

// One value (first row, first column) or nullopt for NULL / no row.
std::optional<std::string> single_value(pqxx::connection& c, const std::string& sql);

std::optional<std::string> setting(pqxx::connection& c, const std::string& name);  // current_setting(name, true)
std::optional<std::string> server_version(pqxx::connection& c);
std::optional<std::string> extension_version(pqxx::connection& c);  // nullopt: not installed

// rulekeeper.timeline() — current even right after a promotion.
std::optional<long long> extension_timeline(pqxx::connection& c);
// The last checkpoint's timeline: lags a promotion until the end-of-recovery
// checkpoint (docs/design/postgres-traps.md "Timelines"); for servers without
// the extension.
std::optional<long long> checkpoint_timeline(pqxx::connection& c);
// Which server answered (issue 16 item 2): its system identifier
// (pg_control_system()) and when its postmaster started. Two connections
// that get the same pair (and the same rulekeeper.site) reached one server.
std::optional<std::string> system_identifier(pqxx::connection& c);
std::optional<std::string> postmaster_started(pqxx::connection& c);

std::optional<std::string> version_vector_text(pqxx::connection& c);  // jsonb text
// rulekeeper.chain_heads() as jsonb text {"site:incarnation": {"seq", "entry_hash"}}.
std::optional<std::string> chain_heads_text(pqxx::connection& c);
// Rows of rulekeeper.replication_status, one object each (columns as keys).
nlohmann::json replication_status(pqxx::connection& c);

struct WalReceiver {
  std::string status;                    // pg_stat_wal_receiver.status; "" when there is none
  std::string sender_host, sender_port;  // empty when unknown
};
WalReceiver wal_receiver(pqxx::connection& c);
// What a standby tells a monitoring role about its upstream (`watch`, issue
// #15 items 9 and 12). Asked first through rulekeeper.replication_status
// (SECURITY DEFINER: a rulekeeper_reader sees the WAL receiver's sender and
// the newest heartbeat replayed), else pg_stat_wal_receiver, whose fields
// other than pid PostgreSQL shows only to pg_read_all_stats (pg_monitor).
// Never reads primary_conninfo (pg_read_all_settings).
struct StandbyView {
  std::string receiver_status;           // "" when there is no WAL receiver (or it is hidden)
  std::string sender_host, sender_port;  // empty when unknown
  // The site whose heartbeat is the newest one this standby replayed: the
  // last primary it heard from, even when its receiver is gone.
  std::string last_heartbeat_site;
  std::optional<double> last_heartbeat_epoch;  // its beat_at, seconds since 1970
  // A WAL receiver runs but this role sees none of its fields (neither
  // replication_status nor pg_read_all_stats).
  bool hidden = false;
  std::string source;  // "rulekeeper.replication_status" or "pg_stat_wal_receiver"
};
StandbyView standby_view(pqxx::connection& c);

// primary_conninfo as set (superusers and pg_read_all_settings only).
std::optional<std::string> primary_conninfo(pqxx::connection& c);

// One result row as a JSON object (numeric, boolean and NULL columns typed;
// timestamps in RFC 3339 UTC with milliseconds; everything else as text).
nlohmann::json row_to_json(const pqxx::row& row);

}  // namespace rulekeeper::site::client
