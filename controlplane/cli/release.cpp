// `rulectl release --from S --to S|e3`: export_release at the source,
// import_release at the target (one transaction there), then the source marks
// every version the bundle carried `promoted` — so a version leaves each
// environment once. With --wait-replicated: after the commit, wait (bounded)
// until every other E3 site's version vector covers the target's, and say so;
// "NOT replicated" is exit 3, never a plain success. --expected-checksum must
// look like a snapshot checksum (64 lowercase hex digits), checked before any
// site is contacted: import_release compares it as text, so a typo would
// otherwise pass as "drift" and the release would go through.
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <set>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "cli/commands.hpp"
#include "common/errors.hpp"
#include "common/output.hpp"
#include "site/topology.hpp"
#include "site/server_error.hpp"
#include "site/waiter.hpp"
#include "site/client/waits.hpp"
#include "rulekeeper/version_vector.hpp"
#include "site/probe.hpp"

namespace rulekeeper::cli {
namespace {

using nlohmann::json;

struct ReleaseArgs {
  std::string from;
  std::string to;
  std::vector<std::string> rules;
  std::string expected_checksum;
  bool allow_dr_site = false;
  double wait_seconds = 0;
  CLI::Option* wait_option = nullptr;
  CLI::Option* expected_option = nullptr;
};

std::string short_sum(const json& v) {
  if (!v.is_string()) return "-";
  return common::abbreviate(v.get<std::string>(), 16);
}

std::string annotation_text(const json& annotations) {
  if (!annotations.is_object() || annotations.empty()) return "";
  std::vector<std::string> labels;
  if (annotations.contains("hotfixes") && annotations["hotfixes"].is_array())
    for (const auto& h : annotations["hotfixes"])
      labels.push_back(h.value("label", std::string("?")) + " " + h.value("classification", std::string("?")));
  std::string s = "hotfix_included " + annotations.value("hotfix_included", std::string("?"));
  if (!labels.empty()) s += fmt::format(" (hotfixes: {})", fmt::join(labels, ", "));
  if (annotations.value("needs_manual_verification", false)) s += "; needs manual verification";
  return s;
}

// The form of rulekeeper.snapshot_checksum(): 64 lowercase hex digits.
bool is_snapshot_checksum(const std::string& s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

int run_release(const GlobalOptions& global, const ReleaseArgs& args) {
  if (args.expected_option->count() > 0 && !is_snapshot_checksum(args.expected_checksum))
    throw common::ExitError(common::exit_usage,
                fmt::format("--expected-checksum '{}' is not a snapshot checksum: it must be 64 lowercase hex digits, "
                            "as rulekeeper.snapshot_checksum('all') at the target returns it; nothing was sent to "
                            "any site",
                            args.expected_checksum));

  const config::Config config = load_config(global);

  // The source: an e1 or e2 site that takes writes (it marks what left).
  site::Site source = site::reader(config, args.from);
  const std::string source_env = source.environment();
  if (source_env != "e1" && source_env != "e2")
    throw common::ExitError(common::exit_refused, fmt::format("site {} is in environment {}: releases leave e1 or e2 (E3 is the end "
                                          "of the pipeline)",
                                          source.name(), source_env));
  if (source.in_recovery)
    throw common::ExitError(common::exit_refused, fmt::format("site {} is a standby (in recovery): a release must start at a site "
                                          "that takes writes (it marks what it released as promoted)",
                                          source.name()));

  // The target: `e3` is the E3 primary; split brain and standbys refuse.
  site::Site target = site::writer(config, args.to, "release");
  if (target.config->dr && !target.in_recovery && !args.allow_dr_site)
    throw common::ExitError(common::exit_refused,
                fmt::format("site {} is the disaster-recovery site (dr = true) and is acting as the E3 primary: "
                            "a planned release there is refused; pass --allow-dr-site if production runs on {} "
                            "on purpose",
                            target.name(), target.name()));

  // Export.
  std::string bundle_text;
  try {
    pqxx::nontransaction tx(*source.conn);
    std::optional<std::string> keys;
    if (!args.rules.empty()) keys = json(args.rules).dump();
    pqxx::result r = tx.exec_params(
        "SELECT rulekeeper.export_release(CASE WHEN $1::jsonb IS NULL THEN NULL "
        "ELSE ARRAY(SELECT jsonb_array_elements_text($1::jsonb)) END)::text",
        keys);
    bundle_text = r[0][0].c_str();
  } catch (const pqxx::broken_connection&) {
    throw;
  } catch (const pqxx::failure& e) {
    throw site::sql_failure(fmt::format("export_release at {}", source.name()), e);
  }
  const json bundle = json::parse(bundle_text);
  const json& versions = bundle["versions"];

  json doc;
  doc["source"] = source.name();
  doc["target"] = target.name();
  doc["bundle_sha256"] = bundle.value("bundle_sha256", std::string());
  doc["versions"] = json::array();
  if (versions.empty()) {
    const std::string leaving = source_env == "e1" ? "draft" : "test_passed";
    const std::string msg =
        fmt::format("nothing to release: site {} has no {} version{}", source.name(), leaving,
                    args.rules.empty() ? "" : fmt::format(" of {}", fmt::join(args.rules, ", ")));
    doc["report"] = nullptr;
    doc["promoted"] = 0;
    doc["replication"] = nullptr;
    doc["summary"] = msg;
    if (global.json)
      common::print_json(doc);
    else
      std::cout << msg << std::endl;
    return common::exit_ok;
  }

  // Import (one transaction at the target); note which versions it already had.
  json report;
  std::set<std::pair<std::string, std::string>> already;
  try {
    pqxx::work tx(*target.conn);
    pqxx::result had = tx.exec_params(
        "SELECT x.rule_key, x.label FROM jsonb_to_recordset($1::jsonb -> 'versions') AS x(rule_key text, label text) "
        "WHERE EXISTS (SELECT 1 FROM rulekeeper.rule_version v WHERE v.rule_key = x.rule_key AND v.label = x.label)",
        bundle_text);
    for (const auto& row : had) already.emplace(row[0].c_str(), row[1].c_str());
    std::optional<std::string> expected;
    if (args.expected_option->count() > 0) expected = args.expected_checksum;
    pqxx::result r = tx.exec_params("SELECT rulekeeper.import_release($1::jsonb, $2)::text", bundle_text, expected);
    report = json::parse(r[0][0].c_str());
    tx.commit();
  } catch (const pqxx::broken_connection&) {
    throw;
  } catch (const pqxx::failure& e) {
    throw site::sql_failure(fmt::format("import_release at {} refused the bundle from {}", target.name(),
                                           source.name()),
                               e);
  }
  doc["report"] = report;

  // What the target's version vector is right after the import.
  const VersionVector after = VersionVector::from_json(site::client::version_vector_of(*target.conn));

  // The source marks what it released (imported now or already there).
  int promoted = 0;
  try {
    pqxx::work tx(*source.conn);
    const std::string reason = fmt::format("released to {}", target.name());
    for (const auto& v : versions) {
      tx.exec_params("SELECT rulekeeper.transition($1, $2, 'promoted', $3)", v["rule_key"].get<std::string>(),
                     v["label"].get<std::string>(), reason);
      ++promoted;
    }
    tx.commit();
  } catch (const pqxx::broken_connection&) {
    throw;
  } catch (const pqxx::failure& e) {
    throw common::ExitError(common::exit_failed,
                fmt::format("the release is committed at {}, but marking its versions promoted at {} failed: {} "
                            "[SQLSTATE {}]; run the same release again (the import is idempotent)",
                            target.name(), source.name(), site::server_message(e), site::sqlstate_of(e)));
  }
  doc["promoted"] = promoted;

  std::map<std::string, json> annotated;
  if (report.contains("annotated") && report["annotated"].is_array())
    for (const auto& a : report["annotated"])
      annotated[a.value("rule_key", std::string()) + '\0' + a.value("label", std::string())] = a["annotations"];
  for (const auto& v : versions) {
    const std::string key = v["rule_key"].get<std::string>(), label = v["label"].get<std::string>();
    json row = {{"rule_key", key}, {"label", label},
                {"status", already.count({key, label}) ? "already there" : "imported"}};
    auto it = annotated.find(key + '\0' + label);
    row["annotations"] = it == annotated.end() ? json(nullptr) : it->second;
    doc["versions"].push_back(row);
  }

  int rc = common::exit_ok;
  std::string replication_summary;
  doc["replication"] = nullptr;
  if (args.wait_option->count() > 0) {
    const site::WaitReport wait =
        site::wait_replicated(config, target.name(), after, args.wait_seconds, common::Progress());
    doc["replication"] = wait.to_json();
    replication_summary = site::replicated_summary(config, target.name(), wait);
    if (!doc["replication"]["replicated"].get<bool>()) rc = common::exit_refused;
  }
  doc["summary"] = replication_summary.empty() ? "committed" : "committed, " + replication_summary;

  if (global.json) {
    common::print_json(doc);
    if (rc != common::exit_ok) std::cerr << "rulectl: " << doc["summary"].get<std::string>() << std::endl;
    return rc;
  }

  const bool drift = report.value("drift", false);
  std::cout << fmt::format("release {} ({}) -> {} ({}): {} imported, {} already there\n", source.name(), source_env,
                           target.name(), target.environment(), report.value("imported", 0),
                           report.value("skipped", 0));
  std::cout << fmt::format("checksum at {}: before {}  after {}  ({})\n", target.name(),
                           short_sum(report["pre_checksum"]), short_sum(report["post_checksum"]),
                           report.value("algorithm", std::string("?")));
  if (drift) {
    std::vector<std::string> rules;
    if (report["drifted_rules"].is_array())
      for (const auto& r : report["drifted_rules"]) rules.push_back(r.get<std::string>());
    std::cout << fmt::format("DRIFT: {} changed since the last release ({}); the release went through, "
                             "annotated\n",
                             target.name(), rules.empty() ? std::string("no rule identified") : fmt::format("{}", fmt::join(rules, ", ")));
  } else {
    std::cout << "drift: none\n";
  }
  common::Table t({"rule", "version", "status", "annotation"});
  for (const auto& row : doc["versions"])
    t.add_row({row["rule_key"].get<std::string>(), row["label"].get<std::string>(),
               row["status"].get<std::string>(), annotation_text(row["annotations"])});
  t.print(std::cout);
  std::cout << fmt::format("{} version(s) marked promoted at {}\n", promoted, source.name());
  std::cout << doc["summary"].get<std::string>() << std::endl;
  return rc;
}

}  // namespace

void add_release(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto args = std::make_shared<ReleaseArgs>();
  CLI::App* cmd = app.add_subcommand(
      "release", "carry versions one environment forward: export at --from, import at --to, mark them promoted");
  cmd->add_option("--from", args->from, "source site (e1 or e2 environment)")->required();
  cmd->add_option("--to", args->to, "target site, or e3 for the E3 primary")->required();
  cmd->add_option("--rule", args->rules, "only these rules (repeat the flag)");
  args->expected_option =
      cmd->add_option("--expected-checksum", args->expected_checksum,
                      "the target's snapshot checksum you expect before the import, 64 lowercase hex digits "
                      "(a mismatch is drift: reported, not refused)");
  cmd->add_flag("--allow-dr-site", args->allow_dr_site,
                "allow a planned release to the site marked dr while it acts as the E3 primary");
  args->wait_option = cmd->add_option("--wait-replicated", args->wait_seconds,
                                      "after the commit, wait up to SECONDS until every other E3 site holds the "
                                      "release (exit 3 if one does not)")
                          ->check(CLI::NonNegativeNumber);
  cmd->footer(
      "Exit: 0 committed (drift is reported, not refused); 3 refused: a tampered bundle, a wrong environment, a "
      "label with different content at the target, a standby or split-brain target, the DR site without "
      "--allow-dr-site, or --wait-replicated ran out; 2 usage (e.g. an --expected-checksum that is not 64 "
      "lowercase hex digits: nothing is sent); 4 a site is unreachable; 1 any other failure.");
  cmd->callback([&global, &exit_code, args] { exit_code = run_release(global, *args); });
}

}  // namespace rulekeeper::cli
