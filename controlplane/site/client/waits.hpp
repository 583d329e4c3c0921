// What the replication waiter (site/waiter.hpp) asks a standby.
#pragma once

#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace rulekeeper::site::client {

struct HotfixReplay {
  bool in_recovery = false;
  std::string replay_lsn;      // "" when unknown
  bool passed_commit = false;  // replayed at or past the commit LSN
  bool holds_hotfix = false;   // rulekeeper.hotfixes(id) has it
};
HotfixReplay hotfix_replay(pqxx::connection& c, const std::string& commit_lsn, const std::string& hotfix_id);

// Why a standby is not catching up, when it can see it itself (issue 15
// item 23): "its WAL replay is paused (...)", "its WAL receiver is not
// running (...)", "its WAL receiver is <status>, not streaming". Empty when
// nothing visible stops it (then it is just behind), or when it is not a
// standby. pg_stat_wal_receiver shows its row to every role; a role
// without pg_read_all_stats sees the status column as NULL, and nothing is
// claimed from it then.
std::vector<std::string> standby_stall_causes(pqxx::connection& c);

}  // namespace rulekeeper::site::client
