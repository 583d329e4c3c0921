// What a site says about its role in replication: the statements behind
// site/node_probe.hpp (failover, rejoin, watch).
#pragma once

#include <optional>
#include <string>

#include <pqxx/pqxx>

namespace rulekeeper::site::client {

struct RecoveryState {
  bool in_recovery = false;
  std::string wal_receiver;  // pg_stat_wal_receiver.status, "" if none
  // The host and port its WAL receiver streams from; empty if none.
  std::string sender_host, sender_port;
};
RecoveryState recovery_state(pqxx::connection& c);

// rulekeeper.timeline(), else (no extension, no grant) the last checkpoint's
// timeline; nullopt if neither can be read. A broken connection throws.
std::optional<long long> timeline(pqxx::connection& c);

// The primary_conninfo setting ("" if unset); throws without the privilege
// to read it (superusers and pg_read_all_settings).
std::string primary_conninfo(pqxx::connection& c);

}  // namespace rulekeeper::site::client
