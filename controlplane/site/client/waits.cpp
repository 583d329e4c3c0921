#include "site/client/waits.hpp"

namespace rulekeeper::site::client {

HotfixReplay hotfix_replay(pqxx::connection& c, const std::string& commit_lsn, const std::string& hotfix_id) {
  pqxx::nontransaction tx(c);
  pqxx::result r = tx.exec_params(
      "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text, "
      "       coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false), EXISTS (SELECT 1 FROM rulekeeper.hotfixes($2, "
      "false))",
      commit_lsn, hotfix_id);
  HotfixReplay out;
  out.in_recovery = r[0][0].as<bool>();
  out.replay_lsn = r[0][1].is_null() ? "" : r[0][1].c_str();
  out.passed_commit = r[0][2].as<bool>();
  out.holds_hotfix = r[0][3].as<bool>();
  return out;
}

std::vector<std::string> standby_stall_causes(pqxx::connection& c) {
  pqxx::nontransaction tx(c);
  pqxx::result r = tx.exec(
      "SELECT pg_is_in_recovery(), CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() END, "
      "       (SELECT count(*) FROM pg_stat_wal_receiver), (SELECT status FROM pg_stat_wal_receiver LIMIT 1), "
      "       (SELECT pid IS NOT NULL FROM pg_stat_wal_receiver LIMIT 1)");
  std::vector<std::string> out;
  if (!r[0][0].as<bool>()) return out;
  const std::string pause = r[0][1].is_null() ? "" : r[0][1].c_str();
  if (pause == "paused" || pause == "pause requested")
    out.push_back("its WAL replay is " + pause +
                  " (pg_wal_replay_pause(); SELECT pg_wal_replay_resume() there resumes it)");
  if (r[0][2].as<long>() == 0)
    out.push_back("its WAL receiver is not running (primary_conninfo empty or wrong, or the upstream refuses it)");
  else if (!r[0][3].is_null() && std::string(r[0][3].c_str()) != "streaming")
    out.push_back(std::string("its WAL receiver is ") + r[0][3].c_str() + ", not streaming");
  return out;
}

}  // namespace rulekeeper::site::client
