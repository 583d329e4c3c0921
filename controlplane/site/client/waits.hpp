// What the replication waiter (site/waiter.hpp) asks a standby.
#pragma once

#include <string>

#include <pqxx/pqxx>

namespace rulekeeper::site::client {

struct HotfixReplay {
  bool in_recovery = false;
  std::string replay_lsn;      // "" when unknown
  bool passed_commit = false;  // replayed at or past the commit LSN
  bool holds_hotfix = false;   // rulekeeper.hotfixes(id) has it
};
HotfixReplay hotfix_replay(pqxx::connection& c, const std::string& commit_lsn, const std::string& hotfix_id);

}  // namespace rulekeeper::site::client
