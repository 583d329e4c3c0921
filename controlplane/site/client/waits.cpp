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

}  // namespace rulekeeper::site::client
