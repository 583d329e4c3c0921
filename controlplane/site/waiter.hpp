// The one replication waiter: after a commit at a primary, poll the other
// sites of its environment until each satisfies a predicate, bounded in
// time, with a progress line while it waits. `release/activate
// --wait-replicated` ask "does its version vector cover the commit's?"
// (covers_vector); `hotfix --sync` asks "has it replayed past the commit LSN
// and does it hold the hotfix?" (holds_hotfix). One loop, one report shape;
// the report names its verdict key after the question ("replicated",
// "applied") so each verb's documents keep their meaning.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "common/output.hpp"
#include "rulekeeper/version_vector.hpp"
#include "site/config.hpp"

namespace rulekeeper::site {

// What a predicate says about one site on one poll.
struct Verdict {
  bool done = false;   // satisfied: stop asking this site
  bool final = false;  // not satisfied and never will be (e.g. not a standby): stop asking
  std::string why;     // for the report and the progress line
  nlohmann::json detail = nlohmann::json::object();  // extra fields for the site's report row
};

using Predicate = std::function<Verdict(pqxx::connection&)>;

struct WaitRequest {
  std::string primary;                           // where the commit happened (named in messages)
  std::vector<const config::SiteConfig*> sites;  // whom to wait for
  Predicate predicate;
  double timeout_seconds = 0;
  std::string done_key = "replicated";  // "replicated" | "applied"
  std::string waiting_for;              // progress: "replication from ipc2"
};

struct SiteWait {
  std::string site;
  Verdict verdict;
  std::string error;  // last connection error, if any
};

struct WaitReport {
  std::string done_key;
  bool done = false;  // every site satisfied
  bool timed_out = false;
  double waited_seconds = 0;
  std::vector<SiteWait> sites;
  // {"<done_key>": bool, "timed_out", "waited_seconds",
  //  "sites": [{"site", "<done_key>", "why", ...detail, "error"?}]}
  nlohmann::json to_json() const;
  std::vector<std::string> satisfied() const;    // site names
  std::vector<std::string> unsatisfied() const;  // "ipc1 (why)"
};

// Polls every 100 ms until all sites are done or final, or the timeout
// passes. A site that does not answer is retried (its connection timeout
// bounded by the time left). Never throws for a site's failures.
WaitReport wait_for(const WaitRequest& request, const common::ProgressSink& progress);

// The other sites of `primary`'s environment, config order.
std::vector<const config::SiteConfig*> peers_of(const config::Config& config, const std::string& primary);

// The two waits rulectl makes, over the one loop:
// release/activate --wait-replicated: every peer's version vector covers
// `want` (the primary's vector after the commit). Verdict key "replicated".
WaitReport wait_replicated(const config::Config& config, const std::string& primary, const VersionVector& want,
                           double timeout_seconds, const common::ProgressSink& progress);
// "replicated to ipc1" / "NOT replicated to ipc1 (why); replicated to ..." /
// "no other e3 site to replicate to".
std::string replicated_summary(const config::Config& config, const std::string& primary, const WaitReport& report);

// hotfix --sync: every E3 peer replayed past the commit LSN and holds the
// hotfix. Verdict key "applied".
WaitReport wait_hotfix_applied(const config::Config& config, const std::string& primary, const std::string& commit_lsn,
                               const std::string& hotfix_id, double timeout_seconds,
                               const common::ProgressSink& progress);

// Predicates.
Predicate covers_vector(const VersionVector& want);
Predicate holds_hotfix(const std::string& commit_lsn, const std::string& hotfix_id, const std::string& primary);

}  // namespace rulekeeper::site
