// Checksums and bucket versions through the SQL API. See compare.hpp.
#include "site/client/compare.hpp"

namespace rulekeeper::site::client {
namespace {

// An integer[] literal: "{3,17,4095}".
std::string int_array(const std::set<int>& values) {
  std::string out = "{";
  for (int v : values) {
    if (out.size() > 1) out += ",";
    out += std::to_string(v);
  }
  return out + "}";
}

std::vector<BucketVersion> versions(const pqxx::result& r) {
  std::vector<BucketVersion> out;
  for (const auto& row : r) out.push_back({row[0].c_str(), row[1].c_str(), row[2].c_str()});
  return out;
}

}  // namespace

std::string snapshot_checksum(pqxx::connection& conn, const std::string& scope) {
  pqxx::nontransaction tx(conn);
  return tx.exec_params("SELECT rulekeeper.snapshot_checksum($1)", scope)[0][0].c_str();
}

std::map<int, std::string> checksum_buckets(pqxx::connection& conn, const std::string& scope) {
  pqxx::nontransaction tx(conn);
  std::map<int, std::string> out;
  for (const auto& row : tx.exec_params("SELECT bucket, sum FROM rulekeeper.checksum_buckets($1)", scope))
    out[row[0].as<int>()] = row[1].c_str();
  return out;
}

std::vector<BucketVersion> bucket_versions(pqxx::connection& conn, const std::set<int>& buckets) {
  pqxx::nontransaction tx(conn);
  return versions(
      tx.exec_params("SELECT rule_key, label, content_sha256 FROM rulekeeper.bucket_versions($1::integer[])",
                     int_array(buckets)));
}

std::vector<BucketVersion> channel_bucket_versions(pqxx::connection& conn, const std::string& channel,
                                                   const std::set<int>& buckets) {
  pqxx::nontransaction tx(conn);
  return versions(tx.exec_params(
      "SELECT rule_key, label, content_sha256 FROM rulekeeper.channel_bucket_versions($1, $2::integer[])", channel,
      int_array(buckets)));
}

}  // namespace rulekeeper::site::client
