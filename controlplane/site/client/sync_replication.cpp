// See sync_replication.hpp.
#include "site/client/sync_replication.hpp"

namespace rulekeeper::site::client {

bool SynchronousStandbyNames::from_auto_conf() const {
  const std::string suffix = "postgresql.auto.conf";
  return source_file.size() >= suffix.size() &&
         source_file.compare(source_file.size() - suffix.size(), suffix.size(), suffix) == 0;
}

SynchronousStandbyNames synchronous_standby_names(pqxx::connection& c) {
  pqxx::nontransaction tx(c);
  pqxx::result r = tx.exec(
      "SELECT setting, coalesce(sourcefile, '') FROM pg_catalog.pg_settings "
      "WHERE name = 'synchronous_standby_names'");
  return {r[0][0].c_str(), r[0][1].c_str()};
}

std::vector<std::string> streaming_standbys(pqxx::connection& c) {
  pqxx::nontransaction tx(c);
  std::vector<std::string> out;
  for (const auto& row :
       tx.exec("SELECT application_name FROM pg_catalog.pg_stat_replication WHERE state = 'streaming' "
               "ORDER BY application_name"))
    out.emplace_back(row[0].c_str());
  return out;
}

void alter_synchronous_standby_names(pqxx::connection& c, const std::string& value) {
  pqxx::nontransaction tx(c);
  // ALTER SYSTEM takes no parameters: the value is quoted as a literal.
  tx.exec("ALTER SYSTEM SET synchronous_standby_names = " + tx.quote(value));
  tx.exec("SELECT pg_catalog.pg_reload_conf()");
}

void reset_synchronous_standby_names(pqxx::connection& c) {
  pqxx::nontransaction tx(c);
  tx.exec("ALTER SYSTEM RESET synchronous_standby_names");
  tx.exec("SELECT pg_catalog.pg_reload_conf()");
}

SyncRepWaits sync_rep_waits(pqxx::connection& c) {
  pqxx::nontransaction tx(c);
  pqxx::result r = tx.exec(
      "SELECT count(*), extract(epoch FROM now() - min(xact_start))::float8 FROM pg_catalog.pg_stat_activity "
      "WHERE wait_event = 'SyncRep'");
  SyncRepWaits w;
  w.count = r[0][0].as<long long>();
  if (!r[0][1].is_null()) w.oldest_seconds = r[0][1].as<double>();
  return w;
}

}  // namespace rulekeeper::site::client
