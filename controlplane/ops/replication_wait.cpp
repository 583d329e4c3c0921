// See replication_wait.hpp.
#include "ops/replication_wait.hpp"

#include "site/waiter.hpp"

namespace rulekeeper::ops {

ReplicationWait wait_replicated(const config::Config& config, const std::string& site, const VersionVector& after,
                                double seconds, const common::ProgressSink& progress) {
  ReplicationWait out;
  const site::WaitReport wait = site::wait_replicated(config, site, after, seconds, progress);
  out.report = wait.to_json();
  out.summary = site::replicated_summary(config, site, wait);
  out.replicated = wait.done;
  return out;
}

}  // namespace rulekeeper::ops
