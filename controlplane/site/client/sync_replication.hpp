// The statements about synchronous replication that `rulectl failover`,
// `rulectl rejoin` and `rulectl status` need (docs/design/postgres-traps.md
// "Synchronous commit"): the server's synchronous_standby_names, the
// standbys streaming from a node, changing the setting with ALTER SYSTEM
// (superuser), and the commits waiting for a synchronous standby.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace rulekeeper::site::client {

struct SynchronousStandbyNames {
  std::string value;        // SHOW synchronous_standby_names
  std::string source_file;  // where it was set ("" if default or not readable)
  bool from_auto_conf() const;
};
SynchronousStandbyNames synchronous_standby_names(pqxx::connection& c);

// application_name of every standby streaming from this node (a primary's
// standbys, or a standby's cascading ones).
std::vector<std::string> streaming_standbys(pqxx::connection& c);

// ALTER SYSTEM SET synchronous_standby_names = value; pg_reload_conf().
void alter_synchronous_standby_names(pqxx::connection& c, const std::string& value);
// ALTER SYSTEM RESET synchronous_standby_names; pg_reload_conf().
void reset_synchronous_standby_names(pqxx::connection& c);

// Backends waiting in COMMIT for a synchronous standby (pg_stat_activity
// wait_event 'SyncRep'; other roles' waits are visible to superusers and
// pg_read_all_stats only).
struct SyncRepWaits {
  long long count = 0;
  std::optional<double> oldest_seconds;  // how long the oldest has waited in its transaction
};
SyncRepWaits sync_rep_waits(pqxx::connection& c);

}  // namespace rulekeeper::site::client
