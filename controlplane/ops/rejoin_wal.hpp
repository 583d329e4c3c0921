// Before `rejoin` rewinds a node (issue #14 item 7): is the WAL it will need
// still there? After pg_rewind the node replays the new primary's timeline
// from the point where it forked off the node's timeline; if the new
// primary has already removed that segment (no slot kept it, wal_keep_size
// too small, or its slot was invalidated by max_slot_wal_keep_size), the
// rewound node can never become consistent: it would be started and left
// retrying "requested WAL segment ... has already been removed". Found out
// here, before anything is rewound, the node stays stopped and the operator
// is told to re-clone it (pg_basebackup), its orphans already saved.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "site/client/replication.hpp"

namespace rulekeeper::ops {

struct WalForRejoin {
  bool checked = false;    // false: could not tell (see `note`), the rewind goes on as before
  bool available = true;   // the segment the rewound node needs first is at the primary
  std::string needed;      // that segment's file name
  std::string oldest;      // the oldest segment the primary holds on that timeline ("" none)
  std::string switch_lsn;  // where the primary's timeline forked off the node's
  std::string cause;       // when not available: one line
  std::string note;        // when not checked: why
};

// `node_timeline`: the node's (pg_controldata's "Latest checkpoint's
// TimeLineID"); `primary_timeline`: the primary's current one; `slot`: the
// node's physical slot at the primary, if any. Never throws for what cannot
// be read (superuser-only functions): the result says "not checked".
WalForRejoin wal_for_rejoin(pqxx::connection& primary, const std::string& primary_name, long long primary_timeline,
                            long long node_timeline, const std::optional<site::client::PhysicalSlot>& slot,
                            const std::string& slot_name);

// The re-clone runbook for a node whose WAL is gone: move its data directory
// aside, pg_basebackup from the primary with a slot, start it.
std::vector<std::string> reclone_commands(const std::string& bindir, const std::string& pgdata,
                                          const std::string& primary_conninfo, const std::string& slot,
                                          const std::optional<std::string>& start_command);

}  // namespace rulekeeper::ops
