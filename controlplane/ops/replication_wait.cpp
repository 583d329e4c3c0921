// See replication_wait.hpp.
#include "ops/replication_wait.hpp"

#include "site/topology.hpp"

namespace rulekeeper::ops {

ReplicationWait wait_replicated(const config::Config& config, const std::string& site, const VersionVector& after,
                                double seconds) {
  ReplicationWait out;
  // resolve::wait_replicated still takes its own map form of the vector.
  out.report = resolve::wait_replicated(config, site, resolve::parse_vector(after.to_json()), seconds, out.summary);
  out.replicated = out.report.value("replicated", false);
  return out;
}

}  // namespace rulekeeper::ops
