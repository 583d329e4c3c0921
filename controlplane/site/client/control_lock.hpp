// The E3 control lock in the servers themselves (issue #16 item 4;
// docs/ha-managers.md "The control lock"): a session-level advisory lock
// pg_try_advisory_lock(kControlLockClass, kControlLockObject), held on a
// dedicated connection for as long as a failover or rejoin runs. Its
// holder is named by that session's application_name ("rulectl failover by
// alice@ops1 pid 4242") and pg_stat_activity's client address and start.
// Advisory locks work on a hot standby as on a primary, and a session that
// ends (rulectl killed, host gone) releases its lock: nothing is left to
// clean up.
#pragma once

#include <optional>
#include <string>

#include <pqxx/pqxx>

namespace rulekeeper::site::client {

// 'rule' and 3 (E3): pg_locks shows them as classid and objid (objsubid 2).
constexpr int kControlLockClass = 0x72756c65;
constexpr int kControlLockObject = 3;

// Sets this session's application_name to `holder` (PostgreSQL keeps 63
// bytes), then takes the lock without waiting; true if it is now held.
bool try_control_lock(pqxx::connection& c, const std::string& holder);

struct ControlLockHolder {
  std::string application_name;
  std::string user;    // the role it connected as
  std::string client;  // client address, "local socket"
  std::string since;   // its session's start, UTC
  long long pid = 0;   // its backend
};

// Who holds the lock at this server (nullopt: nobody, or not visible).
std::optional<ControlLockHolder> control_lock_holder(pqxx::connection& c);

}  // namespace rulekeeper::site::client
