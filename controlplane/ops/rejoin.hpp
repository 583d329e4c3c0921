// `rulectl rejoin --site S [--orphans FILE]` as an operation
// (docs/design/postgres-traps.md "A crashed primary coming back", "Rewind
// after failover", "Per-node settings"). Prints nothing: progress goes to
// the sink, the report says what happened.
//
// For a returning old primary (or any E3 node that must follow the new
// primary again), as named steps:
//   1. keep it from writing: if it runs as a primary it is stopped; if it is
//      down it is started with standby.signal and NO upstream (replays its
//      own WAL and opens read-only: default_transaction_read_only would not
//      stop writes);
//   2. save its orphans — journal entries beyond the divergence point, the
//      version vector the new primary recorded at promotion (its latest
//      failover event) — exported there, read-only (export_changes), to a
//      bundle file in state_dir (the server's text, byte for byte: the bundle
//      checksum stays valid);
//   3. only then rewind it: stop it, CHECKPOINT the new primary (or pg_rewind
//      may see the old timeline and say "no rewind required"), pg_rewind from
//      it, rewrite primary_conninfo / primary_slot_name in the node's own
//      settings file (and clear them from postgresql.auto.conf, which
//      pg_rewind copied), create its slot on the new primary, standby.signal,
//      start, and wait until the new primary sees it streaming.
// What runs on the node's host goes through its command templates, else the
// local tools (pgnode/node_control.hpp). Where rulectl.toml lacks
// start_command/stop_command, or both pgdata and the templates, for the
// site, the report carries the exact commands instead of running them.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/output.hpp"
#include "ops/steps.hpp"
#include "site/client/failover.hpp"
#include "site/config.hpp"

namespace rulekeeper::ops {

struct RejoinRequest {
  std::string site;
  std::string orphans;         // bundle file; default <state_dir>/orphans-<site>-<UTC>.json
  double wait_streaming = 60;  // seconds
};

struct RejoinReport {
  enum class Outcome {
    already_standby,   // it streams from the primary on its timeline: nothing done
    manual_isolation,  // no control in rulectl.toml: stop/start it by hand first (`commands`)
    manual_rewind,     // orphans saved; rewind and restart by hand (`commands`)
    rejoined,
  };
  Outcome outcome = Outcome::rejoined;
  std::string site;
  std::string primary;
  long long timeline = 0;                            // already_standby: the primary's timeline
  bool site_reachable = false;                       // manual_isolation: a primary (split brain), else down
  std::string missing_config;                        // manual_*: the keys rulectl.toml lacks
  std::vector<std::string> commands;                 // manual_*: what to run ("" lines are skipped)
  std::optional<site::client::FailoverEvent> event;  // the divergence point
  std::filesystem::path orphans_file;
  nlohmann::json orphans = nlohmann::json::array();  // the bundle's changes
  std::string reconcile_command;                     // what brings them back to the primary
  std::string rewind;                                // rejoined: "rewound", "no rewind required", ...
  std::vector<Step> steps;
  double total_seconds = 0;
  // What became of synchronous replication a failover relaxed at the
  // primary (ops/sync_promotion.hpp); "" when nothing was relaxed.
  std::string sync;

  int exit_code() const;
  nlohmann::json event_json() const;
  nlohmann::json to_json() const;
};

RejoinReport rejoin(const config::Config& config, const RejoinRequest& request, const common::ProgressSink& progress);

}  // namespace rulekeeper::ops
