// What the replication waiter (site/waiter.hpp) asks a standby.
#pragma once

#include <string>

#include <pqxx/pqxx>

namespace rulekeeper::site::client {

// rulekeeper.version_vector() as JSON text.
std::string version_vector_of(pqxx::connection& c);

struct HotfixReplay {
  bool in_recovery = false;
  std::string replay_lsn;      // "" when unknown
  bool passed_commit = false;  // replayed at or past the commit LSN
  bool holds_hotfix = false;   // rulekeeper.hotfixes(id) has it
};
HotfixReplay hotfix_replay(pqxx::connection& c, const std::string& commit_lsn, const std::string& hotfix_id);

}  // namespace rulekeeper::site::client
