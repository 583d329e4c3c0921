// `rulectl rejoin --site S` when S is run by Patroni (docs/failover.md "With
// Patroni"): S's whole Patroni cluster (IPC2: ipc2 and ipc2b) comes back
// after a failover to another cluster (IPC1). As named steps:
//   1. fence it through Patroni: its dynamic configuration gets a
//      standby_cluster section with no upstream (restore_command 'false'),
//      so Patroni demotes its leader to a standby leader that replays only
//      its own WAL — read-only, no client can write — and every member is
//      waited for in recovery;
//   2. save its orphans from the standby leader (export_changes from the
//      divergence point of the primary's latest failover event), as today;
//   3. only then point the standby cluster at the primary (host, port,
//      primary_slot_name = the cluster's name, a permanent slot in the
//      primary's Patroni cluster): Patroni rewinds it (use_pg_rewind) and
//      its standby leader streams from the primary.
#pragma once

#include "ops/rejoin.hpp"
#include "ops/rejoin_plan.hpp"

namespace rulekeeper::ops {

bool rejoin_through_patroni(const config::SiteConfig& site);

// Its plan (the question and --dry-run); nothing changed.
RejoinPlan plan_rejoin_patroni(const config::Config& config, const RejoinRequest& request,
                               const common::ProgressSink& progress);

RejoinReport rejoin_patroni(const config::Config& config, const RejoinRequest& request,
                            const common::ProgressSink& progress);

}  // namespace rulekeeper::ops
