// `rulectl compare A B [--scope all|prod|sl]`: are two sites' rule versions
// the same, and if not, which rules differ and how.
//
// At most three round trips per site, both sites at once, and no full scan:
//   1. snapshot_checksum(scope) — equal: done;
//   2. checksum_buckets(scope)  — the 4096 bucket sums; keep the differing buckets;
//   3. the versions of only those buckets (bucket_versions(), found through the
//      indexed bucket column; for prod/sl the activated versions in them).
// Then, per rule of those buckets: labels only on A, only on B, and labels
// whose content_sha256 differs.
#include <future>
#include <iostream>
#include <map>
#include <set>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "common/text.hpp"
#include "cli/commands.hpp"
#include "common/errors.hpp"
#include "common/output.hpp"
#include "site/probe.hpp"

namespace rulekeeper::cli {
namespace {

using nlohmann::json;

struct CompareOptions {
  std::string a;
  std::string b;
  std::string scope = "all";
};

// One site's side of the comparison: a connection and a round-trip count.
struct Side {
  const config::SiteConfig* site = nullptr;
  std::unique_ptr<pqxx::connection> conn;
  int round_trips = 0;

  pqxx::result exec(const std::string& sql) {
    ++round_trips;
    pqxx::nontransaction tx(*conn);
    return tx.exec(sql);
  }
  template <class... Args>
  pqxx::result exec_params(const std::string& sql, Args&&... args) {
    ++round_trips;
    pqxx::nontransaction tx(*conn);
    return tx.exec_params(sql, std::forward<Args>(args)...);
  }
};

// Runs f on both sides at once; rethrows the first failure.
template <class F>
auto both(Side& a, Side& b, F f) {
  auto fa = std::async(std::launch::async, [&] { return f(a); });
  auto fb = std::async(std::launch::async, [&] { return f(b); });
  auto ra = fa.get();
  auto rb = fb.get();
  return std::make_pair(std::move(ra), std::move(rb));
}

// rule_key -> (label -> content_sha256), labels in version order.
using Versions = std::map<std::string, std::vector<std::pair<std::string, std::string>>>;

Versions versions_of(Side& side, const std::string& scope, const std::string& buckets_array) {
  pqxx::result r =
      scope == "all"
          ? side.exec_params("SELECT rule_key, label, content_sha256 FROM rulekeeper.bucket_versions($1::integer[])",
                             buckets_array)
          : side.exec_params(
                "SELECT a.rule_key, a.label, v.content_sha256 FROM rulekeeper.activation a "
                "JOIN rulekeeper.rule_version v USING (rule_key, label) "
                "WHERE a.channel = $1 AND v.bucket = ANY ($2::integer[]) ORDER BY a.rule_key",
                scope, buckets_array);
  Versions out;
  for (const auto& row : r) out[row[0].c_str()].emplace_back(row[1].c_str(), row[2].c_str());
  return out;
}

std::vector<std::string> labels(const std::vector<std::pair<std::string, std::string>>& v) {
  std::vector<std::string> out;
  for (const auto& [l, _] : v) out.push_back(l);
  return out;
}

int compare(const GlobalOptions& global, const CompareOptions& opts) {
  if (opts.scope != "all" && opts.scope != "prod" && opts.scope != "sl")
    throw common::ExitError(common::exit_usage, "--scope must be all, prod or sl");
  const config::Config config = load_config(global);
  Side a, b;
  for (auto [side, name] : {std::pair{&a, &opts.a}, std::pair{&b, &opts.b}}) {
    side->site = config.find(*name);
    if (side->site == nullptr) throw common::ExitError(common::exit_usage, fmt::format("{}: no such site in {}", *name, config.path));
  }
  if (a.site == b.site) throw common::ExitError(common::exit_usage, "compare needs two different sites");
  ::setenv("PGCONNECT_TIMEOUT", "3", 0);
  {
    std::string errors;
    auto fa = std::async(std::launch::async, [&] { a.conn = std::make_unique<pqxx::connection>(a.site->conninfo); });
    auto fb = std::async(std::launch::async, [&] { b.conn = std::make_unique<pqxx::connection>(b.site->conninfo); });
    for (auto [f, s] : {std::pair{&fa, &a}, std::pair{&fb, &b}}) {
      try {
        f->get();
      } catch (const std::exception& e) {
        errors += fmt::format("{}{} is unreachable: {}", errors.empty() ? "" : "; ", s->site->name,
                              common::one_line(e.what()));
      }
    }
    if (!errors.empty()) throw common::ExitError(common::exit_unreachable, errors);
  }

  json doc;
  doc["a"] = a.site->name;
  doc["b"] = b.site->name;
  doc["scope"] = opts.scope;

  // Round trip 1: snapshot checksums.
  auto [ca, cb] = both(a, b, [&](Side& s) {
    return std::string(s.exec_params("SELECT rulekeeper.snapshot_checksum($1)", opts.scope)[0][0].c_str());
  });
  doc["checksums"] = {{a.site->name, ca}, {b.site->name, cb}};
  doc["equal"] = ca == cb;
  doc["differing_buckets"] = json::array();
  doc["rules"] = json::array();

  if (ca != cb) {
    // Round trip 2: bucket sums (only non-empty buckets come back).
    auto [ba, bb] = both(a, b, [&](Side& s) {
      std::map<int, std::string> m;
      for (const auto& row : s.exec_params("SELECT bucket, sum FROM rulekeeper.checksum_buckets($1)", opts.scope))
        m[row[0].as<int>()] = row[1].c_str();
      return m;
    });
    std::set<int> differing;
    for (const auto& [k, v] : ba)
      if (auto it = bb.find(k); it == bb.end() || it->second != v) differing.insert(k);
    for (const auto& [k, v] : bb)
      if (!ba.count(k)) differing.insert(k);
    std::string array = "{";
    for (int k : differing) {
      if (array.size() > 1) array += ",";
      array += std::to_string(k);
      doc["differing_buckets"].push_back(k);
    }
    array += "}";

    // Round trip 3: only the versions of the differing buckets.
    auto [va, vb] = both(a, b, [&](Side& s) { return versions_of(s, opts.scope, array); });
    std::set<std::string> keys;
    for (const auto& [k, _] : va) keys.insert(k);
    for (const auto& [k, _] : vb) keys.insert(k);
    static const std::vector<std::pair<std::string, std::string>> none;
    for (const auto& key : keys) {
      const auto& la = va.count(key) ? va.at(key) : none;
      const auto& lb = vb.count(key) ? vb.at(key) : none;
      std::map<std::string, std::string> ma(la.begin(), la.end()), mb(lb.begin(), lb.end());
      json only_a = json::array(), only_b = json::array(), content = json::array();
      for (const auto& [l, sha] : la) {
        auto it = mb.find(l);
        if (it == mb.end())
          only_a.push_back(l);
        else if (it->second != sha)
          content.push_back(l);
      }
      for (const auto& [l, _] : lb)
        if (!ma.count(l)) only_b.push_back(l);
      if (only_a.empty() && only_b.empty() && content.empty()) continue;
      doc["rules"].push_back({{"rule_key", key},
                              {"labels_a", labels(la)},
                              {"labels_b", labels(lb)},
                              {"only_a", only_a},
                              {"only_b", only_b},
                              {"content_differs", content}});
    }
  }
  doc["round_trips"] = {{a.site->name, a.round_trips}, {b.site->name, b.round_trips}};

  const bool equal = doc["equal"].get<bool>();
  if (global.json) {
    common::print_json(doc);
  } else if (equal) {
    std::cout << fmt::format("{} and {} are equal (scope {}): snapshot checksum {}\n", a.site->name, b.site->name,
                             opts.scope, ca);
  } else {
    std::cout << fmt::format("{} and {} differ (scope {}): {} of 4096 buckets, {} rule{}\n", a.site->name,
                             b.site->name, opts.scope, doc["differing_buckets"].size(), doc["rules"].size(),
                             doc["rules"].size() == 1 ? "" : "s");
    auto join = [](const json& arr) {
      std::string s;
      for (const auto& x : arr) s += (s.empty() ? "" : ",") + x.get<std::string>();
      return s;
    };
    common::Table t({"rule", a.site->name + " holds", b.site->name + " holds", "only on " + a.site->name,
                     "only on " + b.site->name, "content differs"});
    for (const auto& r : doc["rules"])
      t.add_row({r["rule_key"].get<std::string>(), join(r["labels_a"]), join(r["labels_b"]), join(r["only_a"]),
                 join(r["only_b"]), join(r["content_differs"])});
    t.print(std::cout);
  }
  return equal ? common::exit_ok : common::exit_refused;
}

}  // namespace

void add_compare(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto opts = std::make_shared<CompareOptions>();
  CLI::App* cmd = app.add_subcommand(
      "compare",
      "site-to-site difference via snapshot checksum, bucket sums, then only the differing buckets' rules "
      "(exit 0 equal, 3 different, 4 a site is unreachable)");
  cmd->add_option("A", opts->a, "first site")->required();
  cmd->add_option("B", opts->b, "second site")->required();
  cmd->add_option("--scope", opts->scope, "all (every version), prod or sl (the activated versions)")
      ->check(CLI::IsMember({"all", "prod", "sl"}))
      ->capture_default_str();
  cmd->callback([&global, &exit_code, opts] { exit_code = compare(global, *opts); });
}

}  // namespace rulekeeper::cli
