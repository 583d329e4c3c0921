// See failover.hpp.
#include "site/client/failover.hpp"

#include "common/exact_json.hpp"
#include "site/client/sql_time.hpp"

namespace rulekeeper::site::client {
namespace {

std::optional<std::string> text(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return std::string(f.c_str());
}

}  // namespace

StandbyReplication standby_replication(pqxx::connection& c, const std::string& standby) {
  pqxx::nontransaction tx(c);
  pqxx::result r = tx.exec_params(
      "SELECT state, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint FROM pg_stat_replication "
      "WHERE application_name = $1 ORDER BY (state = 'streaming') DESC LIMIT 1",
      standby);
  StandbyReplication s;
  if (r.empty()) return s;
  s.state = r[0][0].is_null() ? "" : r[0][0].c_str();
  s.replay_lag = r[0][1].is_null() ? -1 : r[0][1].as<long long>();
  return s;
}

bool streams_to(pqxx::connection& c, const std::string& standby) {
  pqxx::nontransaction tx(c);
  return !tx.exec_params("SELECT 1 FROM pg_stat_replication WHERE application_name = $1 AND state = 'streaming'",
                         standby)
              .empty();
}

void create_slot(pqxx::connection& c, const std::string& slot) {
  pqxx::nontransaction tx(c);
  tx.exec_params(
      "SELECT pg_create_physical_replication_slot($1, true) "
      "WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)",
      slot);
}

std::string create_slot_statement(const std::string& slot) {
  std::string quoted = "'";
  for (char ch : slot) quoted += ch == '\'' ? std::string("''") : std::string(1, ch);
  return "SELECT pg_create_physical_replication_slot(" + quoted + "', true)";
}

bool drop_inactive_slot(pqxx::connection& c, const std::string& slot) {
  pqxx::nontransaction tx(c);
  return !tx.exec_params(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE slot_name = $1 AND NOT active",
                slot)
              .empty();
}

std::string checkpoint_statement() { return "CHECKPOINT"; }

void checkpoint(pqxx::connection& c) {
  pqxx::nontransaction tx(c);
  tx.exec(checkpoint_statement());
}

ReplayedPast replayed_past(pqxx::connection& c, const std::string& lsn) {
  pqxx::nontransaction tx(c);
  pqxx::result r =
      tx.exec_params("SELECT pg_last_wal_replay_lsn()::text, coalesce(pg_last_wal_replay_lsn() > $1::pg_lsn, false)",
                     lsn);
  return {r[0][1].as<bool>(), text(r[0][0]).value_or("nothing")};
}

ReplayCaughtUp replay_caught_up(pqxx::connection& c) {
  pqxx::nontransaction tx(c);
  pqxx::result r = tx.exec(
      "SELECT pg_last_wal_receive_lsn() IS NULL OR pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn(), "
      "pg_get_wal_replay_pause_state()");
  return {r[0][0].as<bool>(), r[0][1].c_str()};
}

bool promote(pqxx::connection& c, int wait_seconds) {
  pqxx::nontransaction tx(c);
  return tx.exec_params("SELECT pg_promote(true, $1)", wait_seconds)[0][0].as<bool>();
}

StandbyPositions standby_positions(pqxx::connection& c, const std::string& old_primary) {
  StandbyPositions p;
  pqxx::nontransaction tx(c);
  pqxx::result r = tx.exec(
      "SELECT pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text, "
      "       pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint, "
      "       pg_get_wal_replay_pause_state(), rulekeeper.version_vector()::text, " +
      rfc3339("pg_last_xact_replay_timestamp()"));
  p.receive_lsn = text(r[0][0]);
  p.replay_lsn = text(r[0][1]);
  p.unreplayed_bytes = r[0][2].is_null() ? 0 : r[0][2].as<long long>();
  p.replay_pause_state = r[0][3].c_str();
  p.version_vector = r[0][4].c_str();
  p.last_replayed_commit_at = text(r[0][5]);
  pqxx::result h =
      tx.exec_params("SELECT " + rfc3339("beat_at") + ", age_seconds, beat_seq FROM rulekeeper.heartbeat_of($1)",
                     old_primary);
  if (!h.empty())
    p.heartbeat =
        Heartbeat{h[0][0].c_str(), h[0][1].is_null() ? std::nullopt : std::optional<double>(h[0][1].as<double>()),
                  h[0][2].as<long long>()};
  return p;
}

nlohmann::json record_failover(pqxx::connection& c, const std::string& old_site, bool forced,
                               const nlohmann::json& details) {
  // The record must never wait for a synchronous standby (one named in
  // synchronous_standby_names may still follow the old primary):
  // synchronous_commit = local for this transaction only.
  pqxx::work tx(c);
  tx.exec("SET LOCAL synchronous_commit = local");
  pqxx::result r = tx.exec_params("SELECT (ev || jsonb_build_object('recorded_at', " +
                                      rfc3339("(ev ->> 'recorded_at')::timestamptz") +
                                      "))::text FROM rulekeeper.record_failover($1, $2, $3::jsonb) ev",
                                  old_site, forced, common::dump_exact(details));
  tx.commit();
  return nlohmann::json::parse(r[0][0].c_str());
}

bool expect_promotion(pqxx::connection& c, const std::string& old_site, bool forced, const nlohmann::json& details) {
  pqxx::nontransaction tx(c);
  if (tx.exec("SELECT to_regprocedure('rulekeeper.expect_promotion(text, boolean, jsonb)') IS NOT NULL")[0][0]
          .as<bool>() == false)
    return false;
  return tx
      .exec_params("SELECT rulekeeper.expect_promotion($1, $2, $3::jsonb)", old_site, forced,
                   common::dump_exact(details))[0][0]
      .as<bool>();
}

std::optional<FailoverEvent> latest_failover_event(pqxx::connection& c) {
  pqxx::nontransaction tx(c);
  const bool v02 = tx.exec("SELECT to_regprocedure('rulekeeper.failover_events()') IS NOT NULL")[0][0].as<bool>();
  pqxx::result r = tx.exec("SELECT event_id::text, old_site, new_site, new_timeline, divergence::text, forced, " +
                           rfc3339("recorded_at") +
                           (v02 ? ", promoted_by FROM rulekeeper.failover_events() LIMIT 1"
                                : ", NULL FROM rulekeeper.latest_failover_event()"));
  if (r.empty()) return std::nullopt;
  FailoverEvent e;
  e.event_id = r[0][0].c_str();
  e.old_site = r[0][1].c_str();
  e.new_site = r[0][2].c_str();
  e.new_timeline = r[0][3].as<long long>();
  e.divergence = r[0][4].c_str();
  e.forced = r[0][5].as<bool>();
  e.recorded_at = r[0][6].c_str();
  if (!r[0][7].is_null()) e.promoted_by = r[0][7].c_str();
  return e;
}

std::string export_changes(pqxx::connection& c, const std::string& since_vector) {
  pqxx::nontransaction tx(c);
  return tx.exec_params("SELECT rulekeeper.export_changes($1::jsonb)::text", since_vector)[0][0].c_str();
}

}  // namespace rulekeeper::site::client
