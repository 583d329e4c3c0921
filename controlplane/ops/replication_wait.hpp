// The wait after a commit that --wait-replicated asks for (release and the
// channel verbs): until every other site of the committing site's
// environment covers its version vector, bounded. The waiting itself is
// site/topology's (site::wait_replicated); this is the part the verbs
// shared.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "rulekeeper/version_vector.hpp"
#include "common/output.hpp"
#include "site/config.hpp"

namespace rulekeeper::ops {

struct ReplicationWait {
  // {"replicated", "timed_out", "waited_seconds", "sites": [{"site", "replicated", "why"}]}
  nlohmann::json report;
  std::string summary;  // "replicated to ipc1" / "NOT replicated to ipc1 (…)"
  bool replicated = false;
};

// Waits up to `seconds` until the other sites of `site`'s environment hold
// everything `after` (its version vector right after the commit) holds.
ReplicationWait wait_replicated(const config::Config& config, const std::string& site, const VersionVector& after,
                                double seconds, const common::ProgressSink& progress);

}  // namespace rulekeeper::ops
