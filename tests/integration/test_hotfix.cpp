// Hotfixes on real clusters (issue #5; docs/design/architecture.md "Hotfix",
// "Drift", "Replication model"): the seed's happy path (IPC2 -> IPC1), the refusals,
// the planned-release race and the hotfix gate, --sync with IPC1 up and down
// (and other E3 writes never blocked meanwhile), and the receipt replayed at
// IPC1 after IPC2 died. Operator steps through the built rulectl, checks
// through SQL. Ports: integration_hotfix in
// tests/ports.txt (four per test: e1, e2, ipc2, ipc1).
//
// With RULEKEEPER_HOTFIX_TRANSCRIPT=FILE every rulectl run here is appended
// to FILE (command, exit code, stdout, stderr): the examples in
// docs/hotfix.md are copied from such a run.
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pipeline.hpp"

using namespace rulekeeper;
using nlohmann::json;
using rulekeeper::testing::CommandResult;
using rulekeeper::testing::effective;
namespace ports = rulekeeper::testing::ports;
using rulekeeper::testing::Pipeline;
using rulekeeper::testing::sql_value;
using rulekeeper::testing::state_fingerprint;
using rulekeeper::testing::write_temp_file;

namespace {

constexpr int kHappy = ports::integration_hotfix[0];
constexpr int kRefusals = ports::integration_hotfix[4];
constexpr int kRace = ports::integration_hotfix[8];
constexpr int kSyncDown = ports::integration_hotfix[12];
constexpr int kReplay = ports::integration_hotfix[16];

const char* kRule = "pricing.discount";
const char* kV1 = R"({"rate": 0.1, "tiers": [100, 500], "name": "summer"})";
const char* kFixed = R"({"rate": 0.15, "tiers": [100, 500], "name": "summer"})";

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// rulectl with the pipeline's config (or `config`), recorded.
CommandResult run(const Pipeline& p, std::vector<std::string> args, const std::string& config = "") {
  args.insert(args.begin(), {"--config", config.empty() ? p.config : config});
  CommandResult r = rulekeeper::testing::run_rulectl(args);
  rulekeeper::testing::append_transcript("RULEKEEPER_HOTFIX_TRANSCRIPT", args, r);
  return r;
}

std::string describe(const CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\n--- stdout:\n" + r.out + "--- stderr:\n" + r.err;
}

// The pipeline's rulectl.toml with every site reached as `role`.
std::string config_as(const Pipeline& p, const std::string& role) {
  std::ifstream in(p.config);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = std::regex_replace(ss.str(), std::regex("user=postgres"), "user=" + role);
  std::string path = p.config + "." + role + ".toml";
  std::ofstream(path) << text;
  return path;
}

std::string lifecycle(const cluster::Node& n, const std::string& label) {
  return sql_value(n, "SELECT lifecycle::text FROM rulekeeper.version_state WHERE rule_key = $1 AND label = $2",
                   std::string(kRule), label);
}

std::string prod_sha(const cluster::Node& n) {
  return sql_value(n,
                   "SELECT v.content_sha256 FROM rulekeeper.activation a JOIN rulekeeper.rule_version v "
                   "ON v.rule_key = a.rule_key AND v.label = a.label WHERE a.channel = 'prod' AND a.rule_key = $1",
                   std::string(kRule));
}

// v1 of pricing.discount released to E3 and in prod (validated in SL), and
// the pricing ruleset's hotfix policy: /rate and /tiers may change.
void v1_in_prod(Pipeline& p, bool with_policy = true) {
  p.create_rule(kRule, "pricing");
  EXPECT_EQ(p.create_version(kRule, kV1), "1");
  p.ship();
  p.to_prod(kRule, "1");
  if (with_policy)
    sql_value(*p.ipc2,
              "INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) "
              "VALUES ('pricing', ARRAY['/rate', '/tiers']) RETURNING ruleset");
}

std::string receipt_path_from(const std::string& out) {
  std::smatch m;
  if (std::regex_search(out, m, std::regex("receipt: (\\S+)"))) return m[1];
  return "";
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

}  // namespace

// The seed's "Hotfix - E3 Happy Path": the change is made at IPC2 (through
// `--site e3`) by a role that holds only rulekeeper_hotfix, becomes 1.1 in
// prod (1 is inactive_prod), and with --sync is applied at IPC1 by the time
// the command returns. Then diff, list, show, the receipt, and the gate on
// the way back: a rollback of prod to 1 needs the acknowledgement.
TEST(Hotfix, HappyPath_ProdMovesReplicatedToIpc1Journaled) {
  Pipeline p(kHappy);
  v1_in_prod(p);
  cluster::Node& ipc2 = *p.ipc2;
  cluster::Node& ipc1 = *p.ipc1;
  ipc2.exec("CREATE ROLE rk_fixer LOGIN IN ROLE rulekeeper_hotfix");
  const std::string fixer = config_as(p, "rk_fixer");

  auto body = write_temp_file("discount-rate.json", kFixed);
  CommandResult r = run(p,
                        {"hotfix", "--yes", "--site", "e3", "--rule", kRule, "--body-file", body.string(), "--reason",
                         "rate too low for the summer campaign (INC-4711)", "--sync"},
                        fixer);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "hotfix 1.1 of rule pricing.discount at ipc2, on top of 1")) << r.out;
  EXPECT_TRUE(contains(r.out, "applied at ipc1")) << r.out;
  EXPECT_TRUE(contains(r.out, "/rate")) << r.out;

  // At IPC1 right when the command returned: no waiting here.
  EXPECT_EQ(effective(ipc1, "prod"), "pricing.discount=1.1");
  EXPECT_EQ(effective(ipc2, "prod"), "pricing.discount=1.1");
  EXPECT_EQ(effective(ipc2, "sl"), "pricing.discount=1.1");  // sl served the parent: it moves too
  EXPECT_EQ(sql_value(ipc2,
                      "SELECT qualification FROM rulekeeper.rule_version WHERE rule_key = $1 AND label = "
                      "'1.1'",
                      std::string(kRule)),
            "hotfix");
  EXPECT_TRUE(contains(lifecycle(ipc2, "1"), "inactive_prod")) << lifecycle(ipc2, "1");
  EXPECT_TRUE(contains(lifecycle(ipc2, "1.1"), "prod_active")) << lifecycle(ipc2, "1.1");
  EXPECT_EQ(lifecycle(ipc1, "1.1"), lifecycle(ipc2, "1.1"));

  // Journaled: who, the diff, the reason.
  EXPECT_EQ(sql_value(ipc2,
                      "SELECT actor || ' ' || (payload ->> 'reason') FROM rulekeeper.journal "
                      "WHERE kind = 'hotfix' AND rule_key = $1 AND label = '1.1'",
                      std::string(kRule)),
            "rk_fixer rate too low for the summer campaign (INC-4711)");
  const std::string id =
      sql_value(ipc2, "SELECT hotfix_id::text FROM rulekeeper.hotfix WHERE rule_key = $1", std::string(kRule));
  ASSERT_FALSE(id.empty());

  // The receipt: everything a replay needs, and the content checksum the
  // site computed.
  const std::string receipt_file = receipt_path_from(r.out);
  ASSERT_FALSE(receipt_file.empty()) << r.out;
  EXPECT_TRUE(contains(receipt_file, (p.set.options().base / "state").string())) << receipt_file;
  EXPECT_TRUE(contains(receipt_file, "hotfix-ipc2-pricing.discount-1.1-")) << receipt_file;
  json receipt = read_json(receipt_file);
  EXPECT_EQ(receipt["rule_key"], kRule);
  EXPECT_EQ(receipt["base_label"], "1");
  EXPECT_EQ(receipt["label"], "1.1");
  EXPECT_EQ(receipt["site"], "ipc2");
  EXPECT_EQ(receipt["hotfix_id"], id);
  EXPECT_EQ(receipt["reason"], "rate too low for the summer campaign (INC-4711)");
  EXPECT_EQ(receipt["body"], json::parse(kFixed));
  EXPECT_EQ(receipt["content_sha256"], prod_sha(ipc2));
  EXPECT_EQ(receipt["actor"], "rk_fixer");
  EXPECT_FALSE(receipt["created_at"].get<std::string>().empty());

  // diff, read at IPC1 (a standby reads fine), as a table and as JSON.
  r = run(p, {"diff", "--site", "ipc1", "--rule", kRule, "--from", "1", "--to", "1.1"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "old (1)")) << r.out;
  EXPECT_TRUE(contains(r.out, "new (1.1)")) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("/rate +replace +0\\.1 +0\\.15"))) << r.out;
  EXPECT_FALSE(contains(r.out, "\x1b[")) << "no colour when stdout is not a terminal";
  r = run(p, {"diff", "--site", "e3", "--rule", kRule, "--from", "1", "--to", "1.1", "--json"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  json d = json::parse(r.out);
  ASSERT_EQ(d["diff"].size(), 1u) << r.out;
  EXPECT_EQ(d["diff"][0]["path"], "/rate");
  EXPECT_EQ(d["diff"][0]["op"], "replace");
  EXPECT_EQ(d["diff"][0]["old_value"], 0.1);
  EXPECT_EQ(d["diff"][0]["new_value"], 0.15);
  EXPECT_EQ(d["site"], "ipc2");

  // list and show, at the primary and at IPC1.
  r = run(p, {"hotfix", "list", "--json"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  json l = json::parse(r.out);
  ASSERT_EQ(l["hotfixes"].size(), 1u);
  EXPECT_EQ(l["hotfixes"][0]["hotfix_id"], id);
  EXPECT_EQ(l["hotfixes"][0]["actor"], "rk_fixer");
  EXPECT_EQ(l["hotfixes"][0]["prod_now"], "1.1");
  r = run(p, {"hotfix", "list", "--since-last-release", "--site", "ipc1", "--json"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(json::parse(r.out)["hotfixes"].size(), 1u) << r.out;
  r = run(p, {"hotfix", "list"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, id.substr(0, 8))) << r.out;
  r = run(p, {"hotfix", "show", id.substr(0, 8)});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, id)) << r.out;
  EXPECT_TRUE(contains(r.out, "rk_fixer")) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("/rate +replace +0\\.1 +0\\.15"))) << r.out;
  r = run(p, {"hotfix", "show", id, "--json"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(json::parse(r.out)["diff"][0]["path"], "/rate");

  // Leaving the hotfix for its parent needs the acknowledgement, and the
  // refusal shows what the hotfix changed.
  const std::string before = state_fingerprint(ipc2);
  r = run(p, {"rollback", "--yes", "--site", "e3", "--channel", "prod", "--rule", kRule});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.err, "would undo")) << r.err;
  EXPECT_TRUE(contains(r.err, "/rate: 0.1 -> 0.15")) << r.err;
  EXPECT_EQ(state_fingerprint(ipc2), before);
  r = run(p,
          {"rollback", "--yes", "--site", "e3", "--channel", "prod", "--rule", kRule, "--acknowledge-hotfix", "1.1"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(effective(ipc2, "prod"), "pricing.discount=1");
  EXPECT_EQ(sql_value(ipc2,
                      "SELECT actor || ' ' || (payload ->> 'action') FROM rulekeeper.journal "
                      "WHERE kind = 'acknowledgement' AND rule_key = $1 AND payload -> 'undone_hotfixes' @> "
                      "jsonb_build_array(jsonb_build_object('hotfix_id', $2::text))",
                      std::string(kRule), id),
            "postgres rollback");
  r = run(p, {"hotfix", "show", id.substr(0, 8)});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "acknowledged")) << r.out;
  EXPECT_TRUE(contains(r.out, "rollback")) << r.out;
}

// Everything a hotfix may not do, and that a refusal changes nothing.
TEST(Hotfix, Refusals_PolicyReasonStandbyE2Grant) {
  Pipeline p(kRefusals);
  v1_in_prod(p, /*with_policy=*/false);
  cluster::Node& ipc2 = *p.ipc2;
  auto good = write_temp_file("rate.json", kFixed);
  auto rename = write_temp_file("rename.json", R"({"rate": 0.15, "tiers": [100, 500], "name": "winter"})");
  auto hotfix = [&](const std::string& site, const std::string& file, const std::string& reason,
                    const std::string& config = "") {
    return run(p, {"hotfix", "--yes", "--site", site, "--rule", kRule, "--body-file", file, "--reason", reason},
               config);
  };
  std::string before = state_fingerprint(ipc2);

  // No policy for the ruleset: refused, and the message says how to allow.
  CommandResult r = hotfix("e3", good.string(), "rate too low");
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.err, "has no hotfix policy")) << r.err;
  EXPECT_TRUE(contains(r.err, "INSERT INTO rulekeeper.hotfix_policy")) << r.err;

  EXPECT_EQ(state_fingerprint(ipc2), before);
  sql_value(ipc2,
            "INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) "
            "VALUES ('pricing', ARRAY['/rate', '/tiers']) RETURNING ruleset");
  // The policy write is itself a journaled change (issue #13): the refusals
  // below are compared with the state after it.
  before = state_fingerprint(ipc2);
  // A path outside the policy: refused, naming it and what is allowed.
  r = hotfix("e3", rename.string(), "rename the campaign");
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.err, "does not allow: /name")) << r.err;
  EXPECT_TRUE(contains(r.err, "allowed: /rate, /tiers")) << r.err;

  // An empty reason: a usage error (exit 2), caught before any site is asked.
  r = hotfix("e3", good.string(), "");
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_TRUE(contains(r.err, "--reason is empty")) << r.err;
  r = hotfix("e3", good.string(), "   ");
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  r = hotfix("e3", good.string(), "\u3000\u200B\t\u00A0");  // ideographic, zero-width, tab, no-break
  EXPECT_EQ(r.exit_code, 2) << describe(r);

  // At a standby: refused, naming the primary.
  r = hotfix("ipc1", good.string(), "rate too low");
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.err, "ipc1 is a standby")) << r.err;
  EXPECT_TRUE(contains(r.err, "the E3 primary is ipc2")) << r.err;

  // At e2: refused.
  r = hotfix("e2", good.string(), "rate too low");
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.err, "only at the E3 primary")) << r.err;
  EXPECT_EQ(sql_value(*p.e2, "SELECT count(*) FROM rulekeeper.rule_version WHERE hotfix > 0"), "0");

  // A role without the grant: refused by the server.
  ipc2.exec("CREATE ROLE rk_reader LOGIN IN ROLE rulekeeper_reader");
  ipc2.exec("CREATE ROLE rk_fixer LOGIN IN ROLE rulekeeper_hotfix");
  p.ipc1->wait_replayed(ipc2);
  r = hotfix("e3", good.string(), "rate too low", config_as(p, "rk_reader"));
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.err, "permission denied for function hotfix")) << r.err;

  // rulekeeper_hotfix may call hotfix(), and nothing else: a direct INSERT fails.
  {
    pqxx::connection c("host=127.0.0.1 port=" + std::to_string(ipc2.port()) + " user=rk_fixer dbname=rules");
    pqxx::work tx(c);
    try {
      tx.exec(
          "INSERT INTO rulekeeper.rule_version (rule_key, version, hotfix, body, qualification) "
          "VALUES ('pricing.discount', 1, 1, '{\"rate\": 0.15}', 'hotfix')");
      ADD_FAILURE() << "a direct INSERT by rulekeeper_hotfix went through";
    } catch (const pqxx::insufficient_privilege& e) {  // 42501 (libpqxx 6.4 leaves sqlstate() empty)
      EXPECT_TRUE(contains(e.what(), "permission denied for table rule_version")) << e.what();
    }
  }

  // A body with a duplicated key: refused before any site is asked (exit 2),
  // the key named — ::jsonb would have kept the last "a" silently.
  auto dup = write_temp_file("dup.json", R"({"a":1,"a":2})");
  r = hotfix("e3", dup.string(), "rate too low");
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_TRUE(contains(r.err, "duplicate object key \"a\"")) << r.err;
  EXPECT_EQ(state_fingerprint(ipc2), before);

  // None of it changed anything; the same change through the policy does.
  EXPECT_EQ(state_fingerprint(ipc2), before);
  EXPECT_EQ(effective(ipc2, "prod"), "pricing.discount=1");
  r = hotfix("e3", good.string(), "rate too low", config_as(p, "rk_fixer"));
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(effective(ipc2, "prod"), "pricing.discount=1.1");
}

// The seed's risk: a planned change in the pipeline overriding a hotfix.
// Hotfix 1.1 at E3, then one release from e2 carrying 2 (without the
// hotfix's change) and 3 (with it): drift; 2 overrides, 3 included. Prod
// refuses 2 with the hotfix's diff unless acknowledged (journaled: who,
// when, which hotfix); 3 needs nothing.
TEST(Hotfix, PlannedReleaseRace_DriftClassifiesAndGatesProd) {
  Pipeline p(kRace, /*with_ipc1=*/false);
  v1_in_prod(p);
  cluster::Node& ipc2 = *p.ipc2;
  auto body = write_temp_file("rate.json", kFixed);
  CommandResult r = run(p, {"hotfix", "--yes", "--site", "e3", "--rule", kRule, "--body-file", body.string(),
                            "--reason", "rate too low for the summer campaign (INC-4711)"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const std::string id =
      sql_value(ipc2, "SELECT hotfix_id::text FROM rulekeeper.hotfix WHERE rule_key = $1", std::string(kRule));

  // Meanwhile at e1: 2 adds a tier (and still has the old rate), 3 adds the
  // tier and carries the hotfix's rate.
  EXPECT_EQ(p.create_version(kRule, R"({"rate": 0.1, "tiers": [100, 500, 1000], "name": "summer"})"), "2");
  EXPECT_EQ(p.create_version(kRule, R"({"rate": 0.15, "tiers": [100, 500, 1000], "name": "summer"})"), "3");
  p.ok({"release", "--from", "e1", "--to", "e2"});
  for (const char* v : {"2", "3"})
    p.ok({"validate", "--site", "e2", "--rule", kRule, "--version", v, "--result", "passed", "--reason", "green"});
  r = run(p, {"release", "--yes", "--from", "e2", "--to", "e3"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "DRIFT: ipc2 changed since the last release (pricing.discount)")) << r.out;
  EXPECT_EQ(sql_value(ipc2,
                      "SELECT annotations ->> 'hotfix_included' FROM rulekeeper.rule_version "
                      "WHERE rule_key = $1 AND label = '2'",
                      std::string(kRule)),
            "overrides");
  EXPECT_EQ(sql_value(ipc2,
                      "SELECT annotations ->> 'hotfix_included' FROM rulekeeper.rule_version "
                      "WHERE rule_key = $1 AND label = '3'",
                      std::string(kRule)),
            "included");

  // What the admin looks at: the hotfix and the versions checked against it,
  // and the planned version against the hotfix.
  r = run(p, {"hotfix", "list", "--since-last-release"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "0 hotfix(es)")) << "the release came after the hotfix\n" << r.out;
  r = run(p, {"hotfix", "show", id.substr(0, 8)});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(std::regex_search(r.out, std::regex("2 +awaiting_sl +overrides +overrides +needs --acknowledge-hotfix")))
      << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("3 +awaiting_sl +included +included +allowed"))) << r.out;
  r = run(p, {"diff", "--site", "e3", "--rule", kRule, "--from", "1.1", "--to", "2"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(std::regex_search(r.out, std::regex("/rate +replace +0\\.15 +0\\.1\\b"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("/tiers/2 +add +\\(absent\\) +1000"))) << r.out;

  // 2 in SL is fine (SL tests it); prod refuses it without acknowledgement.
  p.ok({"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", kRule, "--version", "2"});
  p.ok({"validate", "--yes", "--site", "e3", "--rule", kRule, "--version", "2", "--result", "passed", "--reason",
        "clean"});
  const std::string before = state_fingerprint(ipc2);
  r = run(p, {"activate", "--yes", "--site", "e3", "--channel", "prod", "--rule", kRule, "--version", "2"});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.err, "would undo hotfix(es) 1.1 (overrides")) << r.err;
  EXPECT_TRUE(contains(r.err, "--acknowledge-hotfix")) << r.err;
  // Issue #5 item 5: the refusal shows the hotfix's diff.
  EXPECT_TRUE(contains(r.err, "/rate")) << "the gate's refusal does not show the hotfix's diff:\n" << r.err;
  EXPECT_EQ(state_fingerprint(ipc2), before);
  EXPECT_EQ(effective(ipc2, "prod"), "pricing.discount=1.1");

  r = run(p, {"activate", "--yes", "--site", "e3", "--channel", "prod", "--rule", kRule, "--version", "2",
              "--acknowledge-hotfix", "1.1"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(effective(ipc2, "prod"), "pricing.discount=2");
  // Journaled: who, when, which hotfix.
  EXPECT_EQ(sql_value(ipc2,
                      "SELECT actor || ' ' || (payload ->> 'hotfix_included') || ' ' || "
                      "       (recorded_at IS NOT NULL)::text FROM rulekeeper.journal "
                      "WHERE kind = 'acknowledgement' AND rule_key = $1 AND label = '2' AND payload -> 'hotfixes' @> "
                      "jsonb_build_array(jsonb_build_object('hotfix_id', $2::text))",
                      std::string(kRule), id),
            "postgres overrides true");

  // 3 includes the hotfix: no acknowledgement needed.
  p.ok({"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", kRule, "--version", "3"});
  p.ok({"validate", "--yes", "--site", "e3", "--rule", kRule, "--version", "3", "--result", "passed", "--reason",
        "clean"});
  r = run(p, {"activate", "--yes", "--site", "e3", "--channel", "prod", "--rule", kRule, "--version", "3"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(effective(ipc2, "prod"), "pricing.discount=3");
  EXPECT_EQ(sql_value(ipc2,
                      "SELECT count(*) FROM rulekeeper.journal WHERE kind = 'acknowledgement' AND rule_key = $1 "
                      "AND label = '3'",
                      std::string(kRule)),
            "0");
  r = run(p, {"hotfix", "show", id.substr(0, 8)});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(std::regex_search(r.out, std::regex("postgres +activate +prod +2"))) << r.out;
}

// --sync with IPC1 away: the hotfix commits and stands at IPC2, rulectl
// returns when --sync-timeout runs out saying it is NOT at IPC1 (exit 3),
// and while it waits it holds no lock: other writes at IPC2 go through.
TEST(Hotfix, SyncWithIpc1Stopped_NotReplicatedExit3_WritesNotBlocked) {
  Pipeline p(kSyncDown);
  v1_in_prod(p);
  cluster::Node& ipc2 = *p.ipc2;
  p.create_rule("limits.daily", "pricing");
  p.create_version("limits.daily", R"({"rate": 1, "max": 100})");
  p.ship();
  p.to_prod("limits.daily", "1");
  p.ipc1->wait_replayed(ipc2);
  p.ipc1->stop();

  auto body = write_temp_file("rate.json", kFixed);
  CommandResult r = run(p, {"hotfix", "--yes", "--site", "e3", "--rule", kRule, "--body-file", body.string(),
                            "--reason", "rate too low (INC-4711)", "--sync", "--sync-timeout", "2"});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.out, "committed at ipc2 only, NOT yet at ipc1 (unreachable)")) << r.out;
  EXPECT_FALSE(receipt_path_from(r.out).empty()) << r.out;
  EXPECT_EQ(effective(ipc2, "prod"), "limits.daily=1,pricing.discount=1.1");  // the hotfix stands

  // The same with --json, and a write at IPC2 while rulectl waits.
  auto limits = write_temp_file("limits.json", R"({"rate": 2, "max": 100})");
  std::atomic<bool> done{false};
  CommandResult waited;
  std::thread waiter([&] {
    waited = run(p, {"hotfix", "--yes", "--site", "e3", "--rule", "limits.daily", "--body-file", limits.string(),
                     "--reason", "daily rate too low (INC-4712)", "--sync", "--sync-timeout", "15", "--json"});
    done = true;
  });
  // Once its hotfix is committed (rulectl is then waiting for IPC1), another
  // write that takes the same per-site lock must not wait for it.
  bool committed = false;
  for (int i = 0; i < 300 && !committed && !done; ++i) {
    committed = sql_value(ipc2, "SELECT count(*) FROM rulekeeper.hotfix WHERE rule_key = 'limits.daily'") == "1";
    if (!committed) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(committed);
  std::string pin_error;
  try {
    auto c = ipc2.connect();
    pqxx::nontransaction tx(*c);
    tx.exec("SET lock_timeout = '5s'");
    tx.exec_params("SELECT rulekeeper.pin($1, 'sl', '1.1')", std::string(kRule));
  } catch (const std::exception& e) {
    pin_error = e.what();
  }
  const bool still_waiting = !done;
  waiter.join();
  EXPECT_EQ(pin_error, "") << "a write at ipc2 was blocked while rulectl waited for ipc1";
  EXPECT_TRUE(still_waiting) << "rulectl returned before the concurrent write was tried\n" << describe(waited);
  EXPECT_EQ(sql_value(ipc2, "SELECT pinned::text FROM rulekeeper.activation WHERE channel = 'sl' AND rule_key = $1",
                      std::string(kRule)),
            "true");

  EXPECT_EQ(waited.exit_code, 3) << describe(waited);
  json doc = json::parse(waited.out);
  EXPECT_EQ(doc["sync"]["applied"], false);
  EXPECT_EQ(doc["sync"]["timed_out"], true);
  ASSERT_EQ(doc["sync"]["sites"].size(), 1u);
  EXPECT_EQ(doc["sync"]["sites"][0]["site"], "ipc1");
  EXPECT_EQ(doc["sync"]["sites"][0]["applied"], false);
  EXPECT_TRUE(contains(waited.err, "NOT yet at ipc1")) << waited.err;
  EXPECT_EQ(effective(ipc2, "prod"), "limits.daily=1.1,pricing.discount=1.1");

  // IPC1 back: both hotfixes arrive; a --sync now says so.
  p.ipc1->start();
  p.ipc1->wait_replayed(ipc2);
  EXPECT_EQ(effective(*p.ipc1, "prod"), "limits.daily=1.1,pricing.discount=1.1");
}

// The seed's open problem: a hotfix committed at IPC2 and not yet at IPC1
// when IPC2 dies. Its receipt re-applies the same content at IPC1 once
// promoted; replaying again changes nothing.
TEST(Hotfix, ReceiptReplayAtIpc1AfterIpc2Dies) {
  Pipeline p(kReplay);
  v1_in_prod(p);
  cluster::Node& ipc2 = *p.ipc2;
  cluster::Node& ipc1 = *p.ipc1;
  ipc1.wait_replayed(ipc2);
  ipc1.stop();

  auto body = write_temp_file("rate.json", kFixed);
  CommandResult r = run(p, {"hotfix", "--yes", "--site", "e3", "--rule", kRule, "--body-file", body.string(),
                            "--reason", "rate too low (INC-4711)", "--json"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  json doc = json::parse(r.out);
  const std::string receipt_file = doc["receipt_file"];
  const json receipt = read_json(receipt_file);
  EXPECT_EQ(receipt["content_sha256"], prod_sha(ipc2));

  ipc2.kill9();
  ipc1.start();
  ipc1.promote();
  EXPECT_EQ(effective(ipc1, "prod"), "pricing.discount=1");  // IPC1 never got it

  r = run(p, {"hotfix", "replay", "--yes", receipt_file, "--site", "ipc1"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "replayed hotfix")) << r.out;
  EXPECT_EQ(effective(ipc1, "prod"), "pricing.discount=1.1");
  EXPECT_EQ(prod_sha(ipc1), receipt["content_sha256"]);
  EXPECT_EQ(sql_value(ipc1, "SELECT reason FROM rulekeeper.hotfix WHERE rule_key = $1", std::string(kRule)),
            "replay of " + receipt["hotfix_id"].get<std::string>() + " from ipc2: rate too low (INC-4711)");
  EXPECT_EQ(sql_value(ipc1, "SELECT qualification FROM rulekeeper.rule_version WHERE rule_key = $1 AND label = '1.1'",
                      std::string(kRule)),
            "hotfix");

  // Twice: nothing changes. `e3` now resolves to IPC1 (IPC2 is down).
  const std::string before = state_fingerprint(ipc1);
  r = run(p, {"hotfix", "replay", "--yes", receipt_file, "--site", "e3"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "already holds this content for rule pricing.discount as version 1.1")) << r.out;
  EXPECT_TRUE(contains(r.out, "nothing to do")) << r.out;
  EXPECT_EQ(state_fingerprint(ipc1), before);

  // A receipt edited after the fact is refused.
  json forged = receipt;
  forged["body"]["rate"] = 0.5;
  auto forged_file = write_temp_file("forged.json", forged.dump());
  r = run(p, {"hotfix", "replay", "--yes", forged_file.string(), "--site", "e3"});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.err, "changed after it was written")) << r.err;
  EXPECT_EQ(state_fingerprint(ipc1), before);

  // A receipt with a duplicated key (a second "rate" in the body) is not a
  // receipt: refused (exit 2), the key named, nothing replayed.
  std::string dup_text = receipt.dump();
  const auto body_at = dup_text.find("\"body\":{");
  ASSERT_NE(body_at, std::string::npos) << dup_text;
  dup_text.insert(body_at + 8, "\"rate\":0.5,");
  auto dup_file = write_temp_file("duplicate-key-receipt.json", dup_text);
  r = run(p, {"hotfix", "replay", "--yes", dup_file.string(), "--site", "e3"});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_TRUE(contains(r.err, "duplicate object key \"rate\"")) << r.err;
  EXPECT_EQ(state_fingerprint(ipc1), before);
}
