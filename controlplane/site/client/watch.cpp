#include "site/client/watch.hpp"

#include "site/client/fields.hpp"

namespace rulekeeper::site::client {

WalReceiverState wal_receiver_state(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  pqxx::result r = tx.exec(
      "SELECT pg_is_in_recovery(), (SELECT status FROM pg_stat_wal_receiver), "
      "(SELECT sender_host FROM pg_stat_wal_receiver), (SELECT sender_port::text FROM pg_stat_wal_receiver)");
  WalReceiverState s;
  s.in_recovery = r[0][0].as<bool>();
  s.status = optional_text(r[0][1]);
  s.sender_host = optional_text(r[0][2]);
  s.sender_port = optional_text(r[0][3]);
  return s;
}

}  // namespace rulekeeper::site::client
