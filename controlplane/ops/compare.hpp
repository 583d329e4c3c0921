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
//
// And the history (docs/tamper-evidence.md): each side's journal chain heads
// side by side (an origin both hold must be the same chain, the shorter a
// prefix of the longer: asked with one chain_hash_at per origin whose lengths
// differ), and verify_history() at each side. These are counted in
// history_round_trips, not in round_trips (the checksum comparison's).
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
  // verify_history() at both sites: reads every journal entry (about 1.5 s
  // per 100,000 entries); the chain heads are compared either way.
  bool verify_history = true;
};

struct RuleDifference {
  std::string rule_key;
  std::vector<std::string> labels_a;  // what each side holds, in version order
  std::vector<std::string> labels_b;
  std::vector<std::string> only_a;
  std::vector<std::string> only_b;
  std::vector<std::string> content_differs;  // same label, different content_sha256
};

// One journal origin whose chains are not the same on both sides.
struct ChainDifference {
  std::string origin;   // "site:incarnation"
  long long seq_a = 0;  // head origin_seq on each side (0: holds no entry of it)
  long long seq_b = 0;
  // differs: the two chains disagree at at_seq (the entry there, or one
  //          before it, was edited, inserted or deleted on one side and the
  //          chain rewritten after it);
  // a_behind / b_behind: that side holds a prefix of the other's chain (a
  //          standby not yet replayed, a site not yet reconciled);
  // only_a / only_b: the origin is on one side only.
  std::string finding;
  long long at_seq = 0;
  bool tampered() const { return finding == "differs"; }
};

// Compares chain heads; hash_at_a / hash_at_b answer chain_hash_at on each
// side (called only for an origin whose head seqs differ).
template <class HashAtA, class HashAtB>
std::vector<ChainDifference> chain_differences(const std::vector<site::client::ChainHead>& a,
                                               const std::vector<site::client::ChainHead>& b, HashAtA hash_at_a,
                                               HashAtB hash_at_b);

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
  std::vector<ChainDifference> chains;  // only the origins that are not the same
  std::size_t origins_a = 0;
  std::size_t origins_b = 0;
  std::vector<site::client::HistoryProblem> history_a;  // verify_history() on each side
  std::vector<site::client::HistoryProblem> history_b;
  int history_round_trips_a = 0;
  int history_round_trips_b = 0;
  bool history_verified = false;  // verify_history() ran (CompareRequest::verify_history)

  bool checksums_equal() const { return checksum_a == checksum_b; }
  // No chain disagreement, and verify_history() clean on both sides.
  bool history_intact() const;
  bool equal() const { return checksums_equal() && history_intact(); }
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

template <class HashAtA, class HashAtB>
std::vector<ChainDifference> chain_differences(const std::vector<site::client::ChainHead>& a,
                                               const std::vector<site::client::ChainHead>& b, HashAtA hash_at_a,
                                               HashAtB hash_at_b) {
  std::map<std::string, const site::client::ChainHead*> ma, mb;
  for (const auto& h : a) ma[h.origin] = &h;
  for (const auto& h : b) mb[h.origin] = &h;
  std::set<std::string> origins;
  for (const auto& [o, _] : ma) origins.insert(o);
  for (const auto& [o, _] : mb) origins.insert(o);
  std::vector<ChainDifference> out;
  for (const auto& o : origins) {
    const auto* ha = ma.count(o) ? ma.at(o) : nullptr;
    const auto* hb = mb.count(o) ? mb.at(o) : nullptr;
    ChainDifference d;
    d.origin = o;
    if (ha) d.seq_a = ha->origin_seq;
    if (hb) d.seq_b = hb->origin_seq;
    if (!ha || !hb) {
      d.finding = ha ? "only_a" : "only_b";
    } else if (ha->origin_seq == hb->origin_seq) {
      if (ha->entry_hash == hb->entry_hash) continue;
      d.finding = "differs";
      d.at_seq = ha->origin_seq;
    } else {
      // The shorter chain must be a prefix of the longer one.
      const bool a_longer = ha->origin_seq > hb->origin_seq;
      const auto* shorter = a_longer ? hb : ha;
      const std::string other = a_longer ? hash_at_a(ha->origin_site, ha->origin_incarnation, shorter->origin_seq)
                                         : hash_at_b(hb->origin_site, hb->origin_incarnation, shorter->origin_seq);
      if (other == shorter->entry_hash) {
        d.finding = a_longer ? "b_behind" : "a_behind";
      } else {
        d.finding = "differs";
        d.at_seq = shorter->origin_seq;
      }
    }
    out.push_back(std::move(d));
  }
  return out;
}

// Throws common::ExitError: exit 2 for an unknown scope or site or the same
// site twice, 4 naming every site that does not answer.
CompareReport compare(const config::Config& config, const CompareRequest& request);

}  // namespace rulekeeper::ops
