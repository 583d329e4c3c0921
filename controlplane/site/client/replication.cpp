// Recovery and slots, from PostgreSQL's own catalog. See replication.hpp.
#include "site/client/replication.hpp"

namespace rulekeeper::site::client {

bool in_recovery(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  return tx.exec("SELECT pg_is_in_recovery()")[0][0].as<bool>();
}

std::optional<PhysicalSlot> physical_slot(pqxx::connection& conn, const std::string& name) {
  pqxx::nontransaction tx(conn);
  pqxx::result r = tx.exec_params(
      "SELECT restart_lsn::text, active, wal_status FROM pg_replication_slots "
      "WHERE slot_name = $1 AND slot_type = 'physical'",
      name);
  if (r.empty()) return std::nullopt;
  PhysicalSlot s;
  if (!r[0][0].is_null()) s.restart_lsn = r[0][0].c_str();
  s.active = r[0][1].as<bool>();
  if (!r[0][2].is_null()) s.wal_status = r[0][2].c_str();
  return s;
}

}  // namespace rulekeeper::site::client
