// `rulectl failover --to S` when S is run by Patroni (ha = "patroni" in
// rulectl.toml; docs/failover.md "With Patroni"). rulekeeper's checks are
// today's — the target replays all it received, the evidence of what it
// holds from the old primary, refusal without --force when the old primary
// is unreachable and the loss cannot be proven — and then Patroni promotes:
// rulectl removes standby_cluster from the target cluster's dynamic
// configuration (PATCH /config) and waits until the target accepts writes.
// The failover event is recorded at the new primary as rulectl's (forced).
//
// A planned DR switchover (the old primary still writable) is refused: under
// Patroni, first make IPC2 a standby cluster (`rulectl rejoin` does that after
// the failover; docs/failover.md says how by hand).
#pragma once

#include "ops/failover.hpp"
#include "ops/failover_plan.hpp"

namespace rulekeeper::ops {

// Whether `failover --to target` goes through Patroni.
bool failover_through_patroni(const config::SiteConfig& target);

// The plan of failover_patroni (the question and --dry-run): the same
// decision, nothing changed.
FailoverPlan plan_failover_patroni(const config::Config& config, const FailoverRequest& request,
                                   const common::ProgressSink& progress);

FailoverReport failover_patroni(const config::Config& config, const FailoverRequest& request,
                                const common::ProgressSink& progress);

}  // namespace rulekeeper::ops
