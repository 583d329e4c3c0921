// `compare A B [--scope all|prod|sl]`: are two sites' rule versions the
// same, and if not, which rules differ and how.
//
// At most three round trips per site, both sites at once, and no full scan:
//   1. snapshot_checksum(scope) — equal: done;
//   2. checksum_buckets(scope)  — the 4096 bucket sums; keep the differing buckets;
//   3. the versions of only those buckets (bucket_versions(), found through the
//      indexed bucket column; for prod/sl the versions active in them).
// Then, per rule of those buckets: labels only on A, only on B, and labels
// whose content_sha256 differs.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "site/client/compare.hpp"
#include "site/config.hpp"

namespace rulekeeper::ops {

struct CompareRequest {
  std::string a;
  std::string b;
  std::string scope = "all";  // all, or a channel: prod, sl
};

struct RuleDifference {
  std::string rule_key;
  std::vector<std::string> labels_a;  // what each side holds, in version order
  std::vector<std::string> labels_b;
  std::vector<std::string> only_a;
  std::vector<std::string> only_b;
  std::vector<std::string> content_differs;  // same label, different content_sha256
};

struct CompareReport {
  std::string a;
  std::string b;
  std::string scope;
  std::string checksum_a;
  std::string checksum_b;
  std::vector<int> differing_buckets;
  std::vector<RuleDifference> rules;
  int round_trips_a = 0;
  int round_trips_b = 0;

  bool equal() const { return checksum_a == checksum_b; }
  int exit_code() const;  // 0 equal, 3 different
  nlohmann::json to_json() const;
};

// The buckets whose sums differ, or that only one side has.
std::set<int> differing_buckets(const std::map<int, std::string>& a, const std::map<int, std::string>& b);

// rule_key -> (label, content_sha256) in version order.
using RuleVersions = std::map<std::string, std::vector<std::pair<std::string, std::string>>>;
RuleVersions by_rule(const std::vector<site::client::BucketVersion>& versions);

// The rules whose versions differ between the sides, by rule key.
std::vector<RuleDifference> rule_differences(const RuleVersions& a, const RuleVersions& b);

// Throws common::ExitError: exit 2 for an unknown scope or site or the same
// site twice, 4 naming every site that does not answer.
CompareReport compare(const config::Config& config, const CompareRequest& request);

}  // namespace rulekeeper::ops
