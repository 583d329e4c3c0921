// Checksums for comparing sites (docs/design/contract.md "Checksums"): the
// snapshot checksum, the 4096 bucket sums, and the versions of chosen
// buckets — one round trip each.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace rulekeeper::site::client {

// rulekeeper.snapshot_checksum(scope): scope "all", "prod" or "sl".
std::string snapshot_checksum(pqxx::connection& conn, const std::string& scope);

// rulekeeper.checksum_buckets(scope): bucket -> sum, non-empty buckets only.
std::map<int, std::string> checksum_buckets(pqxx::connection& conn, const std::string& scope);

struct BucketVersion {
  std::string rule_key;
  std::string label;
  std::string content_sha256;
};

// Every version in `buckets` (rulekeeper.bucket_versions), by rule in version order.
std::vector<BucketVersion> bucket_versions(pqxx::connection& conn, const std::set<int>& buckets);

// The versions active in `channel` whose bucket is in `buckets`
// (rulekeeper.channel_bucket_versions), by rule.
std::vector<BucketVersion> channel_bucket_versions(pqxx::connection& conn, const std::string& channel,
                                                   const std::set<int>& buckets);

}  // namespace rulekeeper::site::client
