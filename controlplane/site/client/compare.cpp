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

std::vector<ChainHead> chain_heads(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  std::vector<ChainHead> out;
  for (const auto& row :
       tx.exec("SELECT origin_site, origin_incarnation, origin_seq, entry_hash FROM rulekeeper.chain_heads() "
               "ORDER BY origin_site, origin_incarnation")) {
    ChainHead h;
    h.origin_site = row[0].c_str();
    h.origin_incarnation = row[1].as<int>();
    h.origin = h.origin_site + ":" + std::to_string(h.origin_incarnation);
    h.origin_seq = row[2].as<long long>();
    h.entry_hash = row[3].c_str();
    out.push_back(std::move(h));
  }
  return out;
}

std::string chain_hash_at(pqxx::connection& conn, const std::string& origin_site, int origin_incarnation,
                          long long origin_seq) {
  pqxx::nontransaction tx(conn);
  auto r = tx.exec_params("SELECT rulekeeper.chain_hash_at($1, $2, $3)", origin_site, origin_incarnation, origin_seq);
  return r[0][0].is_null() ? std::string() : std::string(r[0][0].c_str());
}

std::vector<HistoryProblem> verify_history(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  std::vector<HistoryProblem> out;
  for (const auto& row : tx.exec("SELECT problem, origin, origin_seq, rule_key, label, detail "
                                 "FROM rulekeeper.verify_history() ORDER BY origin NULLS LAST, origin_seq, problem")) {
    HistoryProblem p;
    p.problem = row[0].c_str();
    p.origin = row[1].is_null() ? "" : row[1].c_str();
    p.origin_seq = row[2].is_null() ? 0 : row[2].as<long long>();
    p.rule_key = row[3].is_null() ? "" : row[3].c_str();
    p.label = row[4].is_null() ? "" : row[4].c_str();
    p.detail = row[5].is_null() ? "" : row[5].c_str();
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace rulekeeper::site::client
