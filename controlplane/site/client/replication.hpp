// What a site says about its own replication role, asked of PostgreSQL
// itself (no extension needed): recovery, and a physical slot.
#pragma once

#include <optional>
#include <string>

#include <pqxx/pqxx>

namespace rulekeeper::site::client {

// pg_is_in_recovery(): a standby (or a node still replaying).
bool in_recovery(pqxx::connection& conn);

// A physical replication slot on this site, from pg_replication_slots.
struct PhysicalSlot {
  std::optional<std::string> restart_lsn;  // null: the slot never reserved WAL
  bool active = false;
  std::optional<std::string> wal_status;
};

// The physical slot called `name`; nullopt when there is none.
std::optional<PhysicalSlot> physical_slot(pqxx::connection& conn, const std::string& name);

}  // namespace rulekeeper::site::client
