// The statements of `rulectl failover` and `rulectl rejoin`: replication
// state and slots (PostgreSQL's system views and functions), promotion, and
// the rulekeeper API calls that record a failover and read what it left
// (rulekeeper.record_failover, latest_failover_event, heartbeat_of,
// export_changes). Timestamps come back in RFC 3339 UTC ms.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

namespace rulekeeper::site::client {

// ---- at a primary -------------------------------------------------------

// How `standby` (its application_name) replicates from this primary.
struct StandbyReplication {
  std::string state;          // "streaming", "catchup", ...; "" if not connected
  long long replay_lag = -1;  // bytes of WAL it has not replayed; -1 unknown
};
StandbyReplication standby_replication(pqxx::connection& c, const std::string& standby);
// Whether `standby` streams from this primary now.
bool streams_to(pqxx::connection& c, const std::string& standby);

// A physical slot named `slot`, reserving WAL from now on (none if it exists).
void create_slot(pqxx::connection& c, const std::string& slot);
// The statement create_slot() runs, spelled out for a runbook (psql -c).
std::string create_slot_statement(const std::string& slot);
// Drops `slot` if it exists and is not active; whether one was dropped.
bool drop_inactive_slot(pqxx::connection& c, const std::string& slot);

// CHECKPOINT (superuser or pg_checkpoint).
void checkpoint(pqxx::connection& c);
// The statement checkpoint() runs, for a runbook (psql -c).
std::string checkpoint_statement();

// ---- at a standby -------------------------------------------------------

// Whether it replayed past `lsn`, and what it replayed ("nothing" if none).
struct ReplayedPast {
  bool past = false;
  std::string replayed;
};
ReplayedPast replayed_past(pqxx::connection& c, const std::string& lsn);

// Whether it replayed everything it received, and its replay pause state.
struct ReplayCaughtUp {
  bool all_replayed = false;
  std::string pause_state;
};
ReplayCaughtUp replay_caught_up(pqxx::connection& c);

// pg_promote(wait => true, wait_seconds); false if it did not finish in time.
bool promote(pqxx::connection& c, int wait_seconds);

// The heartbeat of a site as held here (rulekeeper.heartbeat_of).
struct Heartbeat {
  std::string beat_at;  // RFC 3339 UTC ms
  // Unknown (nullopt) when the heartbeat is dated in the future: a skewed
  // clock or a forged row, never "just now" (docs/in-sync.md).
  std::optional<double> age_seconds;
  long long beat_seq = 0;
};

// What a standby whose primary is gone can tell about it.
struct StandbyPositions {
  std::optional<std::string> receive_lsn;  // none: nothing received by streaming since it started
  std::optional<std::string> replay_lsn;
  long long unreplayed_bytes = 0;
  std::string replay_pause_state;
  std::string version_vector;                          // jsonb text
  std::optional<std::string> last_replayed_commit_at;  // RFC 3339 UTC ms
  std::optional<Heartbeat> heartbeat;                  // of the old primary
};
StandbyPositions standby_positions(pqxx::connection& c, const std::string& old_primary);

// ---- failover events ------------------------------------------------------

// rulekeeper.record_failover(...) at the new primary: the event as the
// server returns it (recorded_at in RFC 3339 UTC ms). One transaction with
// synchronous_commit = local (it never waits for a synchronous standby);
// the details are written with common::dump_exact (JCS-exact numbers).
nlohmann::json record_failover(pqxx::connection& c, const std::string& old_site, bool forced,
                               const nlohmann::json& details);

// rulekeeper.expect_promotion(...) at the standby about to be promoted:
// rulectl's account of the promotion, which the extension puts in the event
// it records once the standby leaves recovery (promoted_by 'rulectl').
// False when it cannot be said (0.1 catalog without the function, the
// library not preloaded): record_failover() still attaches it afterwards.
bool expect_promotion(pqxx::connection& c, const std::string& old_site, bool forced, const nlohmann::json& details);

struct FailoverEvent {
  std::string event_id;
  std::string old_site, new_site;
  long long new_timeline = 0;
  std::string divergence;  // version vector, jsonb text
  bool forced = false;
  std::string recorded_at;  // RFC 3339 UTC ms
  std::string promoted_by;  // 'rulectl' or 'external'; empty when not known (0.1)
};
// The newest failover event here (rulekeeper.failover_events(), or on a 0.1
// catalog rulekeeper.latest_failover_event()).
std::optional<FailoverEvent> latest_failover_event(pqxx::connection& c);

// rulekeeper.export_changes(since) as the server's text, byte for byte (the
// bundle checksum stays valid).
std::string export_changes(pqxx::connection& c, const std::string& since_vector);

}  // namespace rulekeeper::site::client
