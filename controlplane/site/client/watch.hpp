// The SQL of `watch`: what one check asks a site (PostgreSQL's own views
// only: watch must work on any reachable server, extension or not).
#pragma once

#include <optional>
#include <string>

#include <pqxx/pqxx>

namespace rulekeeper::site::client {

// pg_is_in_recovery() and the WAL receiver (pg_stat_wal_receiver) of a site.
struct WalReceiverState {
  bool in_recovery = false;
  std::optional<std::string> status;  // nullopt: no WAL receiver
  std::optional<std::string> sender_host;
  std::optional<std::string> sender_port;
};
WalReceiverState wal_receiver_state(pqxx::connection& conn);

}  // namespace rulekeeper::site::client
