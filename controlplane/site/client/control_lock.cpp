// See control_lock.hpp.
#include "site/client/control_lock.hpp"

namespace rulekeeper::site::client {

bool try_control_lock(pqxx::connection& c, const std::string& holder) {
  pqxx::nontransaction tx(c);
  tx.exec_params("SELECT set_config('application_name', $1, false)", holder);
  return tx.exec_params("SELECT pg_try_advisory_lock($1, $2)", kControlLockClass, kControlLockObject)[0][0].as<bool>();
}

std::optional<ControlLockHolder> control_lock_holder(pqxx::connection& c) {
  pqxx::nontransaction tx(c);
  pqxx::result r = tx.exec_params(
      "SELECT a.application_name, coalesce(a.usename::text, ''), coalesce(host(a.client_addr), 'local socket'), "
      "to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), a.pid "
      "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
      "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid "
      "AND l.objsubid = 2 LIMIT 1",
      kControlLockClass, kControlLockObject);
  if (r.empty()) return std::nullopt;
  ControlLockHolder h;
  h.application_name = r[0][0].is_null() ? "" : r[0][0].c_str();
  h.user = r[0][1].c_str();
  h.client = r[0][2].c_str();
  h.since = r[0][3].is_null() ? "" : r[0][3].c_str();
  h.pid = r[0][4].as<long long>();
  return h;
}

}  // namespace rulekeeper::site::client
