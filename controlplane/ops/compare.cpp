// See compare.hpp.
#include "ops/compare.hpp"

#include <future>
#include <memory>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "common/errors.hpp"
#include "common/text.hpp"
#include "rulekeeper/lifecycle.hpp"
#include "site/connect.hpp"
#include "site/topology.hpp"

namespace rulekeeper::ops {
namespace {

using nlohmann::json;

// One site's side of the comparison: a connection and a round-trip count.
struct Side {
  const config::SiteConfig* site = nullptr;
  std::unique_ptr<pqxx::connection> conn;
  int round_trips = 0;

  // One call of the client: one round trip.
  template <class F>
  auto ask(F f) {
    ++round_trips;
    return f(*conn);
  }
};

// Runs f on both sides at once; rethrows the first failure.
template <class F>
auto both(Side& a, Side& b, F f) {
  auto fa = std::async(std::launch::async, [&] { return a.ask(f); });
  auto fb = std::async(std::launch::async, [&] { return b.ask(f); });
  auto ra = fa.get();
  auto rb = fb.get();
  return std::make_pair(std::move(ra), std::move(rb));
}

std::vector<std::string> labels(const std::vector<std::pair<std::string, std::string>>& v) {
  std::vector<std::string> out;
  for (const auto& [l, _] : v) out.push_back(l);
  return out;
}

bool is_scope(const std::string& scope) {
  if (scope == "all") return true;
  for (std::string_view c : channels())
    if (scope == c) return true;
  return false;
}

}  // namespace

std::set<int> differing_buckets(const std::map<int, std::string>& a, const std::map<int, std::string>& b) {
  std::set<int> out;
  for (const auto& [k, v] : a)
    if (auto it = b.find(k); it == b.end() || it->second != v) out.insert(k);
  for (const auto& [k, v] : b)
    if (!a.count(k)) out.insert(k);
  return out;
}

RuleVersions by_rule(const std::vector<site::client::BucketVersion>& versions) {
  RuleVersions out;
  for (const auto& v : versions) out[v.rule_key].emplace_back(v.label, v.content_sha256);
  return out;
}

std::vector<RuleDifference> rule_differences(const RuleVersions& va, const RuleVersions& vb) {
  std::set<std::string> keys;
  for (const auto& [k, _] : va) keys.insert(k);
  for (const auto& [k, _] : vb) keys.insert(k);
  static const std::vector<std::pair<std::string, std::string>> none;
  std::vector<RuleDifference> out;
  for (const auto& key : keys) {
    const auto& la = va.count(key) ? va.at(key) : none;
    const auto& lb = vb.count(key) ? vb.at(key) : none;
    std::map<std::string, std::string> ma(la.begin(), la.end()), mb(lb.begin(), lb.end());
    RuleDifference d;
    d.rule_key = key;
    for (const auto& [l, sha] : la) {
      auto it = mb.find(l);
      if (it == mb.end())
        d.only_a.push_back(l);
      else if (it->second != sha)
        d.content_differs.push_back(l);
    }
    for (const auto& [l, _] : lb)
      if (!ma.count(l)) d.only_b.push_back(l);
    if (d.only_a.empty() && d.only_b.empty() && d.content_differs.empty()) continue;
    d.labels_a = labels(la);
    d.labels_b = labels(lb);
    out.push_back(std::move(d));
  }
  return out;
}

bool CompareReport::history_intact() const {
  for (const auto& c : chains)
    if (c.tampered()) return false;
  return history_a.empty() && history_b.empty();
}

int CompareReport::exit_code() const { return equal() ? common::exit_ok : common::exit_refused; }

json CompareReport::to_json() const {
  json doc;
  doc["a"] = a;
  doc["b"] = b;
  doc["scope"] = scope;
  doc["checksums"] = {{a, checksum_a}, {b, checksum_b}};
  doc["equal"] = equal();
  doc["differing_buckets"] = differing_buckets;
  doc["rules"] = json::array();
  for (const auto& r : rules)
    doc["rules"].push_back({{"rule_key", r.rule_key},
                            {"labels_a", r.labels_a},
                            {"labels_b", r.labels_b},
                            {"only_a", r.only_a},
                            {"only_b", r.only_b},
                            {"content_differs", r.content_differs}});
  doc["round_trips"] = {{a, round_trips_a}, {b, round_trips_b}};
  doc["checksums_equal"] = checksums_equal();
  doc["history_intact"] = history_intact();
  doc["chains"] = json::array();
  for (const auto& c : chains)
    doc["chains"].push_back({{"origin", c.origin},
                             {"seq", {{a, c.seq_a}, {b, c.seq_b}}},
                             {"finding", c.finding},
                             {"at_seq", c.at_seq},
                             {"tampered", c.tampered()}});
  doc["origins"] = {{a, origins_a}, {b, origins_b}};
  auto problems = [](const std::vector<site::client::HistoryProblem>& v) {
    json arr = json::array();
    for (const auto& p : v)
      arr.push_back({{"problem", p.problem},
                     {"origin", p.origin},
                     {"origin_seq", p.origin_seq},
                     {"rule_key", p.rule_key},
                     {"label", p.label},
                     {"detail", p.detail}});
    return arr;
  };
  doc["history"] = {{a, problems(history_a)}, {b, problems(history_b)}};
  doc["history_verified"] = history_verified;
  doc["history_round_trips"] = {{a, history_round_trips_a}, {b, history_round_trips_b}};
  return doc;
}

CompareReport compare(const config::Config& config, const CompareRequest& request) {
  if (!is_scope(request.scope)) throw common::ExitError(common::exit_usage, "--scope must be all, prod or sl");
  Side a, b;
  for (auto [side, name] : {std::pair{&a, &request.a}, std::pair{&b, &request.b}}) {
    side->site = config.find(*name);
    if (side->site == nullptr) {
      std::vector<std::string> names;
      for (const auto& c : config.sites) names.push_back(c.name);
      throw common::ExitError(common::exit_usage, fmt::format("{}: no such site in {} (sites: {})", *name, config.path,
                                                              fmt::join(names, ", ")));
    }
  }
  if (a.site == b.site) throw common::ExitError(common::exit_usage, "compare needs two different sites");
  {
    // Both at once: an unreachable site costs one timeout, and both are named.
    std::string errors;
    auto fa = std::async(std::launch::async, [&] { a.conn = site::open(*a.site); });
    auto fb = std::async(std::launch::async, [&] { b.conn = site::open(*b.site); });
    for (auto [f, s] : {std::pair{&fa, &a}, std::pair{&fb, &b}}) {
      try {
        f->get();
      } catch (const common::ExitError&) {
        throw;  // a refusal (site/extension_check.hpp), not an unreachable site
      } catch (const std::exception& e) {
        errors += fmt::format("{}{} is unreachable: {}", errors.empty() ? "" : "; ", s->site->name,
                              common::one_line(e.what()));
      }
    }
    if (!errors.empty()) throw common::ExitError(common::exit_unreachable, errors);
  }

  namespace client = site::client;
  const std::string& scope = request.scope;
  CompareReport report;
  report.a = a.site->name;
  report.b = b.site->name;
  report.scope = scope;

  // Round trip 1: snapshot checksums.
  std::tie(report.checksum_a, report.checksum_b) =
      both(a, b, [&](pqxx::connection& c) { return client::snapshot_checksum(c, scope); });

  if (!report.checksums_equal()) {
    // Round trip 2: bucket sums (only non-empty buckets come back).
    auto [ba, bb] = both(a, b, [&](pqxx::connection& c) { return client::checksum_buckets(c, scope); });
    const std::set<int> differing = differing_buckets(ba, bb);
    report.differing_buckets.assign(differing.begin(), differing.end());

    // Round trip 3: only the versions of the differing buckets.
    auto [va, vb] = both(a, b, [&](pqxx::connection& c) {
      return scope == "all" ? client::bucket_versions(c, differing)
                            : client::channel_bucket_versions(c, scope, differing);
    });
    report.rules = rule_differences(by_rule(va), by_rule(vb));
  }
  report.round_trips_a = a.round_trips;
  report.round_trips_b = b.round_trips;

  // The history: chain heads and verify_history() on both sides at once,
  // then one chain_hash_at per origin whose chain lengths differ.
  const int checksum_trips_a = a.round_trips, checksum_trips_b = b.round_trips;
  auto [heads_a, heads_b] = both(a, b, [](pqxx::connection& c) { return client::chain_heads(c); });
  if (request.verify_history) {
    std::tie(report.history_a, report.history_b) =
        both(a, b, [](pqxx::connection& c) { return client::verify_history(c); });
    report.history_verified = true;
  }
  report.origins_a = heads_a.size();
  report.origins_b = heads_b.size();
  report.chains = chain_differences(
      heads_a, heads_b,
      [&](const std::string& s, int inc, long long seq) {
        return a.ask([&](pqxx::connection& c) { return client::chain_hash_at(c, s, inc, seq); });
      },
      [&](const std::string& s, int inc, long long seq) {
        return b.ask([&](pqxx::connection& c) { return client::chain_hash_at(c, s, inc, seq); });
      });
  report.history_round_trips_a = a.round_trips - checksum_trips_a;
  report.history_round_trips_b = b.round_trips - checksum_trips_b;
  return report;
}

}  // namespace rulekeeper::ops
