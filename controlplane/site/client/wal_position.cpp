// See wal_position.hpp.
#include "site/client/wal_position.hpp"

#include <cstdio>

namespace rulekeeper::site::client {

std::string wal_insert_position(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  return tx.exec("SELECT pg_current_wal_insert_lsn()::text")[0][0].c_str();
}

ReceivedWal received_wal(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  pqxx::result r = tx.exec(
      "SELECT pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text, pg_get_wal_replay_pause_state()");
  ReceivedWal w;
  if (!r[0][0].is_null()) w.received_lsn = r[0][0].c_str();
  if (!r[0][1].is_null()) w.replayed_lsn = r[0][1].c_str();
  w.replay_pause_state = r[0][2].c_str();
  return w;
}

WalFiles wal_files(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  WalFiles f;
  f.segment_size = tx.exec("SELECT setting::bigint FROM pg_catalog.pg_settings WHERE name = 'wal_segment_size'")[0][0]
                       .as<long long>();
  for (const auto& row : tx.exec("SELECT name FROM pg_catalog.pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$' ORDER BY 1"))
    f.names.push_back(row[0].c_str());
  return f;
}

std::optional<std::string> timeline_history(pqxx::connection& conn, long long timeline) {
  pqxx::nontransaction tx(conn);
  char name[32];
  std::snprintf(name, sizeof name, "pg_wal/%08llX.history", static_cast<unsigned long long>(timeline));
  pqxx::result r = tx.exec_params("SELECT pg_catalog.pg_read_file($1, 0, 1048576, true)", std::string(name));
  if (r.empty() || r[0][0].is_null()) return std::nullopt;
  return std::string(r[0][0].c_str());
}

std::optional<std::uint64_t> parse_lsn(const std::string& text) {
  unsigned int hi = 0, lo = 0;
  char end = 0;
  if (std::sscanf(text.c_str(), "%X/%X%c", &hi, &lo, &end) != 2) return std::nullopt;
  return (static_cast<std::uint64_t>(hi) << 32) | lo;
}

}  // namespace rulekeeper::site::client
