// See node_probe.hpp.
#include "site/client/node_probe.hpp"

#include <cstdlib>

namespace rulekeeper::site::client {
namespace {

// One value (first row, first column) in autocommit; "" for NULL.
std::string value(pqxx::connection& c, const char* sql) {
  pqxx::nontransaction tx(c);
  pqxx::result r = tx.exec(sql);
  if (r.empty() || r[0].empty() || r[0][0].is_null()) return "";
  return r[0][0].c_str();
}

}  // namespace

RecoveryState recovery_state(pqxx::connection& c) {
  pqxx::nontransaction tx(c);
  pqxx::result r = tx.exec(
      "SELECT pg_is_in_recovery(), (SELECT status FROM pg_stat_wal_receiver), "
      "(SELECT sender_host FROM pg_stat_wal_receiver), (SELECT sender_port::text FROM pg_stat_wal_receiver)");
  RecoveryState s;
  s.in_recovery = r[0][0].as<bool>();
  s.wal_receiver = r[0][1].is_null() ? "" : r[0][1].c_str();
  if (!r[0][2].is_null() && !r[0][3].is_null()) {
    s.sender_host = r[0][2].c_str();
    s.sender_port = r[0][3].c_str();
  }
  return s;
}

std::optional<long long> timeline(pqxx::connection& c) {
  try {
    return std::atoll(value(c, "SELECT rulekeeper.timeline()").c_str());
  } catch (const pqxx::broken_connection&) {
    throw;
  } catch (const std::exception&) {
  }
  try {
    return std::atoll(value(c, "SELECT timeline_id FROM pg_control_checkpoint()").c_str());
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string primary_conninfo(pqxx::connection& c) { return value(c, "SELECT current_setting('primary_conninfo')"); }

}  // namespace rulekeeper::site::client
