// Google Benchmark of the pure core's hot functions: what every rule_version
// insert (and verify_checksums(), per row) pays outside PostgreSQL itself.
// Uses the OpenSSL SHA-256 (the extension uses pg_cryptohash, which is
// OpenSSL underneath on Debian's build). See bench/README.md for figures.
#include "rulekeeper/canonical_json.hpp"
#include "rulekeeper/checksum.hpp"
#include "rulekeeper/sha256.hpp"

#include <benchmark/benchmark.h>

#include <string>

namespace {

// A typical rule body: about 200 bytes of JSON as an author writes it
// (unsorted keys, whitespace, nested condition, a decimal, a bool).
const std::string& typical_body() {
  static const std::string body =
      R"({"name": "block high-risk card payments", "action": "deny", "score": 0.75,)"
      R"( "when": {"amount": {"gt": 1000}, "country": ["FR", "DE", "IT"], "channel": "web"},)"
      R"( "tiers": [1, 2, 3], "enabled": true, "owner": "fraud-team"})";
  return body;
}

// A large body, about 50 KB: an object holding a list of conditions.
const std::string& large_body() {
  static const std::string body = [] {
    std::string s = R"({"name": "large rule", "conditions": [)";
    for (int i = 0; s.size() < 50 * 1024 - 200; ++i) {
      if (i) s += ", ";
      s += R"({"field": "attr_)" + std::to_string(i) + R"(", "op": "in", "values": [)" + std::to_string(i) + ", " +
           std::to_string(i * 7 + 0.5) + R"(, "v\u00e9)" + std::to_string(i) + R"("], "weight": )" +
           std::to_string(i % 10) + "}";
    }
    s += R"(], "enabled": true})";
    return s;
  }();
  return body;
}

void BM_canonicalize_text_200B(benchmark::State& state) {
  const std::string& body = typical_body();
  for (auto _ : state) benchmark::DoNotOptimize(rulekeeper::canonicalize_text(body));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(body.size()));
  state.counters["body_bytes"] = static_cast<double>(body.size());
}
BENCHMARK(BM_canonicalize_text_200B);

void BM_canonicalize_text_50KB(benchmark::State& state) {
  const std::string& body = large_body();
  for (auto _ : state) benchmark::DoNotOptimize(rulekeeper::canonicalize_text(body));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(body.size()));
  state.counters["body_bytes"] = static_cast<double>(body.size());
}
BENCHMARK(BM_canonicalize_text_50KB);

void BM_content_sha256_200B(benchmark::State& state) {
  const rulekeeper::Sha256& sha = rulekeeper::openssl_sha256();
  const std::string& body = typical_body();
  for (auto _ : state) benchmark::DoNotOptimize(rulekeeper::content_sha256(sha, body));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_content_sha256_200B);

void BM_content_sha256_50KB(benchmark::State& state) {
  const rulekeeper::Sha256& sha = rulekeeper::openssl_sha256();
  const std::string& body = large_body();
  for (auto _ : state) benchmark::DoNotOptimize(rulekeeper::content_sha256(sha, body));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_content_sha256_50KB);

// For scale: the bare hash of the same 200 bytes, without parsing or JCS.
void BM_sha256_only_200B(benchmark::State& state) {
  const rulekeeper::Sha256& sha = rulekeeper::openssl_sha256();
  const std::string& body = typical_body();
  for (auto _ : state) benchmark::DoNotOptimize(sha.digest(body));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_sha256_only_200B);

void BM_entry_digest(benchmark::State& state) {
  const rulekeeper::Sha256& sha = rulekeeper::openssl_sha256();
  const std::string content = rulekeeper::content_sha256(sha, typical_body());
  for (auto _ : state) benchmark::DoNotOptimize(rulekeeper::entry_digest(sha, "fraud.card.high_risk", "42", content));
}
BENCHMARK(BM_entry_digest);

void BM_SetSum_add(benchmark::State& state) {
  const rulekeeper::Sha256& sha = rulekeeper::openssl_sha256();
  const rulekeeper::Digest d = sha.digest("entry");
  rulekeeper::SetSum sum;
  for (auto _ : state) {
    sum.add(d);
    benchmark::DoNotOptimize(sum);
  }
}
BENCHMARK(BM_SetSum_add);

}  // namespace
