// `rulectl release` on real clusters: the report, bad bundles at the target
// (through SQL: a bundle rulectl carries is one it exported itself), waiting
// for replication to ipc1, the DR site and split brain, drift, and
// --expected-checksum (echoed; a mismatch is drift; a malformed one exit 2).
// Ports: integration_release in tests/ports.txt (e1, e2, ipc2, ipc1).
#include <cctype>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pipeline.hpp"

using namespace rulekeeper;
namespace ports = rulekeeper::testing::ports;
using rulekeeper::testing::Pipeline;
using rulekeeper::testing::sql_value;
using rulekeeper::testing::state_fingerprint;

namespace {

constexpr int kPorts = ports::integration_release[0];

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string qualification(const cluster::Node& n, const std::string& rule, const std::string& label) {
  return sql_value(n, "SELECT qualification FROM rulekeeper.rule_version WHERE rule_key = $1 AND label = $2", rule,
                   label);
}

struct SqlOutcome {
  bool ok = false;
  std::string sqlstate;
  std::string message;
};

// SELECT rulekeeper.import_release(<expression of $1>) at `n`.
SqlOutcome import_expr(const cluster::Node& n, const std::string& expr, const std::string& bundle) {
  SqlOutcome o;
  try {
    auto c = n.connect();
    pqxx::work tx(*c);
    tx.exec_params("SELECT rulekeeper.import_release(" + expr + ")", bundle);
    tx.commit();
    o.ok = true;
  } catch (const pqxx::sql_error& e) {
    o.sqlstate = e.sqlstate();
    o.message = e.what();
  }
  return o;
}

}  // namespace

TEST(Release, ReportsAndMarksTheSourceAndBadBundlesChangeNothing) {
  Pipeline p(kPorts, /*with_ipc1=*/false);
  p.create_rule("pricing");
  p.create_version("pricing", R"({"rate": 1})");
  p.create_version("pricing", R"({"rate": 2})");
  cluster::Node& ipc2 = *p.ipc2;
  const std::string from_e1 = sql_value(*p.e1, "SELECT rulekeeper.export_release()::text");

  // e1 -> e2 with --json: the report, and the source marked promoted.
  auto r = p.ok({"release", "--from", "e1", "--to", "e2", "--json"});
  auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["source"], "e1");
  EXPECT_EQ(doc["target"], "e2");
  EXPECT_EQ(doc["report"]["imported"], 2);
  EXPECT_EQ(doc["report"]["skipped"], 0);
  EXPECT_EQ(doc["report"]["drift"], false);
  EXPECT_EQ(doc["report"]["pre_checksum"], std::string(64, '0'));
  EXPECT_EQ(doc["report"]["post_checksum"], sql_value(*p.e2, "SELECT rulekeeper.snapshot_checksum('all')"));
  EXPECT_EQ(doc["promoted"], 2);
  ASSERT_EQ(doc["versions"].size(), 2u);
  EXPECT_EQ(doc["versions"][0]["status"], "imported");
  EXPECT_EQ(qualification(*p.e1, "pricing", "1"), "promoted");
  EXPECT_EQ(qualification(*p.e1, "pricing", "2"), "promoted");
  EXPECT_EQ(qualification(*p.e2, "pricing", "1"), "in_test");
  EXPECT_EQ(sql_value(*p.e1,
                      "SELECT count(*) FROM rulekeeper.qualification_history WHERE to_qualification = 'promoted' "
                      "AND reason = 'released to e2'"),
            "2");

  // Again: nothing left to release.
  auto again = p.ok({"release", "--from", "e1", "--to", "e2"});
  EXPECT_TRUE(contains(again.out, "nothing to release")) << again.out;

  for (const char* label : {"1", "2"})
    p.ok({"validate", "--site", "e2", "--rule", "pricing", "--version", label, "--result", "passed"});
  const std::string from_e2 = sql_value(*p.e2, "SELECT rulekeeper.export_release()::text");
  auto e3 = p.ok({"release", "--yes", "--from", "e2", "--to", "e3"});
  EXPECT_TRUE(contains(e3.out, "release e2 (e2) -> ipc2 (e3): 2 imported, 0 already there")) << e3.out;
  EXPECT_TRUE(contains(e3.out, "drift: none")) << e3.out;
  EXPECT_TRUE(contains(e3.out, "2 version(s) marked promoted at e2")) << e3.out;
  EXPECT_EQ(qualification(ipc2, "pricing", "2"), "awaiting_sl");
  EXPECT_EQ(qualification(*p.e2, "pricing", "2"), "promoted");

  // Bad bundles at the target: each a clear error, nothing changed.
  const std::string before = state_fingerprint(ipc2);
  // Resealed by hand and signed again with e2's key (trusted at ipc2): the
  // label clash, not the signature, is what refuses it.
  const std::string same_label = sql_value(
      *p.e2,
      "SELECT rulekeeper.sign_bundle(b || jsonb_build_object('bundle_sha256', rulekeeper._jcs_sha256(b)))::text FROM "
      "(SELECT jsonb_set(jsonb_set($1::jsonb - 'bundle_sha256' - 'signature', '{versions,0,body}', '{\"rate\": 111}'), "
      "'{versions,0,content_sha256}', to_jsonb(rulekeeper.content_sha256('{\"rate\": 111}'))) AS b) x",
      from_e2);
  struct Case {
    std::string name, expr, bundle, sqlstate, message;
  };
  const std::vector<Case> cases = {
      {"tampered body", "jsonb_set($1::jsonb, '{versions,0,body}', '{\"rate\": 100}')", from_e2, "XX001",
       "bundle checksum mismatch"},
      {"tampered bundle checksum", "jsonb_set($1::jsonb, '{bundle_sha256}', to_jsonb(repeat('0', 64)))", from_e2,
       "XX001", "bundle checksum mismatch"},
      {"resealed body",
       "(SELECT b || jsonb_build_object('bundle_sha256', rulekeeper._jcs_sha256(b)) FROM "
       "(SELECT jsonb_set($1::jsonb - 'bundle_sha256' - 'signature', '{versions,0,body}', '{\"rate\": 100}') AS b) x)",
       from_e2, "XX001", "does not match its body"},
      {"wrong format version", "jsonb_set($1::jsonb, '{format}', '\"rulekeeper-bundle/2\"')", from_e2, "22023",
       "unsupported bundle format"},
      {"a bundle from e1 at e3", "$1::jsonb", from_e1, "0A000", "a bundle from e1 cannot be imported at e3"},
      {"same label, different content", "$1::jsonb", same_label, "23505", "exists here with different content"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    SqlOutcome o = import_expr(ipc2, c.expr, c.bundle);
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.sqlstate, c.sqlstate) << o.message;
    EXPECT_TRUE(contains(o.message, c.message)) << o.message;
    EXPECT_EQ(state_fingerprint(ipc2), before);
  }

  // Through rulectl, skipping e2 is refused with the server's message (exit
  // 3), and the source keeps its versions (nothing was promoted).
  p.create_version("pricing", R"({"rate": 3})");
  auto skip = p.rulectl({"release", "--yes", "--from", "e1", "--to", "e3"});
  EXPECT_EQ(skip.exit_code, 3) << skip.err;
  EXPECT_TRUE(contains(skip.err, "a bundle from e1 cannot be imported at e3")) << skip.err;
  EXPECT_EQ(qualification(*p.e1, "pricing", "3"), "draft");
  EXPECT_EQ(state_fingerprint(ipc2), before);
  // An unknown rule: exit 1.
  auto unknown = p.rulectl({"release", "--from", "e1", "--to", "e2", "--rule", "nope"});
  EXPECT_EQ(unknown.exit_code, 1) << unknown.err;
  EXPECT_TRUE(contains(unknown.err, "unknown rule(s) nope")) << unknown.err;
}

TEST(Release, WaitReplicatedSaysWhetherIpc1HoldsTheRelease) {
  Pipeline p(kPorts);
  cluster::Node& ipc2 = *p.ipc2;
  cluster::Node& ipc1 = *p.ipc1;
  p.create_rule("pricing");
  p.create_version("pricing", R"({"rate": 1})");
  p.ok({"release", "--from", "e1", "--to", "e2"});
  p.ok({"validate", "--site", "e2", "--rule", "pricing", "--version", "1", "--result", "passed"});

  // ipc1 down: e3 still resolves to ipc2; committed, NOT replicated, exit 3.
  ipc1.stop();
  auto r = p.rulectl({"release", "--yes", "--from", "e2", "--to", "e3", "--wait-replicated", "2"});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "committed, NOT replicated to ipc1")) << r.out;
  EXPECT_TRUE(contains(r.out, "unreachable")) << r.out;
  EXPECT_TRUE(contains(r.err, "waiting for replication from ipc2")) << r.err;
  EXPECT_EQ(qualification(ipc2, "pricing", "1"), "awaiting_sl");
  EXPECT_EQ(qualification(*p.e2, "pricing", "1"), "promoted");

  // ipc1 back: the next release is replicated (and so is the first).
  ipc1.start();
  ipc1.wait_ready();
  p.create_version("pricing", R"({"rate": 2})");
  p.ok({"release", "--from", "e1", "--to", "e2"});
  p.ok({"validate", "--site", "e2", "--rule", "pricing", "--version", "2", "--result", "passed"});
  auto ok = p.rulectl({"release", "--yes", "--from", "e2", "--to", "e3", "--wait-replicated", "60", "--json"});
  ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  auto doc = nlohmann::json::parse(ok.out);
  EXPECT_EQ(doc["summary"], "committed, replicated to ipc1");
  EXPECT_TRUE(doc["replication"]["replicated"].get<bool>());
  EXPECT_EQ(doc["replication"]["sites"][0]["site"], "ipc1");
  EXPECT_EQ(qualification(ipc1, "pricing", "2"), "awaiting_sl");
  EXPECT_EQ(qualification(ipc1, "pricing", "1"), "awaiting_sl");

  // An activation can wait the same way.
  auto a = p.rulectl({"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "pricing", "--version", "2",
                      "--wait-replicated", "60"});
  EXPECT_EQ(a.exit_code, 0) << a.out << a.err;
  EXPECT_TRUE(contains(a.out, "committed, replicated to ipc1")) << a.out;
  EXPECT_EQ(sql_value(ipc1, "SELECT rulekeeper.effective_version('pricing', 'sl')"), "2");
}

TEST(Release, DrSiteActingAsPrimaryIsRefusedUnlessAllowedAndSplitBrainRefusesAll) {
  Pipeline p(kPorts);
  cluster::Node& ipc2 = *p.ipc2;
  cluster::Node& ipc1 = *p.ipc1;
  p.create_rule("pricing");
  p.create_version("pricing", R"({"rate": 1})");
  p.ship();
  ipc1.wait_replayed(ipc2);

  // IPC2 goes away; IPC1 (dr = true) is promoted.
  ipc2.stop();
  ipc1.promote();
  p.create_version("pricing", R"({"rate": 2})");
  p.ok({"release", "--from", "e1", "--to", "e2"});
  p.ok({"validate", "--site", "e2", "--rule", "pricing", "--version", "2", "--result", "passed"});

  for (const char* to : {"e3", "ipc1"}) {
    SCOPED_TRACE(to);
    auto r = p.rulectl({"release", "--from", "e2", "--to", to});
    EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
    EXPECT_TRUE(contains(r.err, "ipc1 is the disaster-recovery site")) << r.err;
    EXPECT_TRUE(contains(r.err, "--allow-dr-site")) << r.err;
  }
  EXPECT_EQ(qualification(*p.e2, "pricing", "2"), "test_passed");
  EXPECT_EQ(qualification(ipc1, "pricing", "2"), "");

  auto allowed = p.rulectl({"release", "--yes", "--from", "e2", "--to", "e3", "--allow-dr-site"});
  EXPECT_EQ(allowed.exit_code, 0) << allowed.out << allowed.err;
  EXPECT_TRUE(contains(allowed.out, "-> ipc1 (e3): 1 imported")) << allowed.out;
  EXPECT_EQ(qualification(ipc1, "pricing", "2"), "awaiting_sl");
  EXPECT_EQ(qualification(*p.e2, "pricing", "2"), "promoted");

  // The old primary comes back on its own: two writable E3 sites.
  ipc2.start();
  ASSERT_FALSE(ipc2.in_recovery());
  const std::string before1 = state_fingerprint(ipc1), before2 = state_fingerprint(ipc2);
  auto act = p.rulectl({"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "pricing", "--version", "1"});
  EXPECT_EQ(act.exit_code, 3) << act.err;
  EXPECT_TRUE(contains(act.err, "split brain")) << act.err;
  EXPECT_TRUE(contains(act.err, "ipc2 (timeline 1)")) << act.err;
  EXPECT_TRUE(contains(act.err, "ipc1 (timeline 2)")) << act.err;
  auto named =
      p.rulectl({"activate", "--yes", "--site", "ipc2", "--channel", "sl", "--rule", "pricing", "--version", "1"});
  EXPECT_EQ(named.exit_code, 3) << named.err;
  EXPECT_TRUE(contains(named.err, "split brain")) << named.err;
  auto rel = p.rulectl({"release", "--yes", "--from", "e2", "--to", "ipc1", "--allow-dr-site"});
  EXPECT_EQ(rel.exit_code, 3) << rel.err;
  EXPECT_TRUE(contains(rel.err, "split brain")) << rel.err;
  EXPECT_EQ(state_fingerprint(ipc1), before1);
  EXPECT_EQ(state_fingerprint(ipc2), before2);
}

TEST(Release, DriftSinceTheLastReleaseIsReportedAndGatesProd) {
  Pipeline p(kPorts, /*with_ipc1=*/false);
  cluster::Node& ipc2 = *p.ipc2;
  p.create_rule("pricing");
  p.create_version("pricing", R"({"rate": 1})");
  p.ship();
  p.to_prod("pricing", "1");
  // A hotfix at E3 between two releases.
  sql_value(ipc2, "INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES ('pricing', ARRAY['/rate'])");
  const std::string hotfix =
      sql_value(ipc2, "SELECT rulekeeper.hotfix('pricing', '{\"rate\": 1.5}'::jsonb, 'urgent') ->> 'label'");
  ASSERT_EQ(hotfix, "1.1");

  // The next planned version carries the old value of the path the hotfix changed.
  p.create_version("pricing", R"({"rate": 1})");
  p.ok({"release", "--from", "e1", "--to", "e2"});
  p.ok({"validate", "--site", "e2", "--rule", "pricing", "--version", "2", "--result", "passed"});
  auto r = p.ok({"release", "--yes", "--from", "e2", "--to", "e3"});
  EXPECT_TRUE(contains(r.out, "DRIFT: ipc2 changed since the last release (pricing)")) << r.out;
  EXPECT_TRUE(contains(r.out, "hotfix_included")) << r.out;
  EXPECT_TRUE(contains(r.out, "1.1")) << r.out;
  const std::string included = sql_value(ipc2,
                                         "SELECT annotations ->> 'hotfix_included' FROM rulekeeper.rule_version WHERE "
                                         "rule_key = 'pricing' AND label = '2'");
  EXPECT_NE(included, "");
  EXPECT_NE(included, "included");

  // Prod admits it only acknowledged (exit 3 without), and the acknowledgement is journaled.
  p.ok({"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "pricing", "--version", "2"});
  p.ok({"validate", "--yes", "--site", "e3", "--rule", "pricing", "--version", "2", "--result", "passed"});
  const std::string before = state_fingerprint(ipc2);
  auto gated =
      p.rulectl({"activate", "--yes", "--site", "e3", "--channel", "prod", "--rule", "pricing", "--version", "2"});
  EXPECT_EQ(gated.exit_code, 3) << gated.err;
  EXPECT_TRUE(contains(gated.err, "would undo hotfix(es) 1.1")) << gated.err;
  EXPECT_TRUE(contains(gated.err, "--acknowledge-hotfix")) << gated.err;
  EXPECT_EQ(state_fingerprint(ipc2), before);
  p.ok({"activate", "--yes", "--site", "e3", "--channel", "prod", "--rule", "pricing", "--version", "2",
        "--acknowledge-hotfix", "1.1"});
  EXPECT_EQ(sql_value(ipc2, "SELECT rulekeeper.effective_version('pricing', 'prod')"), "2");
  // Journaled: the gate's acknowledgement, one entry for the one list shown
  // (the annotated and the undone hotfixes together).
  EXPECT_EQ(sql_value(ipc2,
                      "SELECT count(*) FROM rulekeeper.journal WHERE kind = 'acknowledgement' AND label = '2' "
                      "AND payload ->> 'hotfix_included' = $1 AND payload -> 'hotfixes' @> '[{\"label\": \"1.1\"}]'",
                      included),
            "1");
}

TEST(Release, ExpectedChecksumIsEchoedAMismatchIsDriftNotRefusalAndAMalformedOneIsAUsageError) {
  Pipeline p(kPorts, /*with_ipc1=*/false);
  cluster::Node& ipc2 = *p.ipc2;
  const std::string zeros(64, '0');
  const std::string last_release =
      "SELECT expected_checksum || ' drift=' || drift || ' pre=' || pre_checksum FROM rulekeeper.release_log "
      "ORDER BY imported_at DESC, release_id DESC LIMIT 1";
  p.create_rule("pricing");
  p.create_version("pricing", R"({"rate": 1})");
  p.ship();
  auto to_e2_passed = [&p](const std::string& label) {
    p.ok({"release", "--from", "e1", "--to", "e2"});
    p.ok({"validate", "--site", "e2", "--rule", "pricing", "--version", label, "--result", "passed"});
  };

  // 1. The expected checksum is the target's current one: no drift, and the
  //    report echoes what was expected.
  p.create_version("pricing", R"({"rate": 2})");
  to_e2_passed("2");
  const std::string current = sql_value(ipc2, "SELECT rulekeeper.snapshot_checksum('all')");
  ASSERT_NE(current, zeros);
  auto match = p.rulectl({"release", "--yes", "--from", "e2", "--to", "e3", "--expected-checksum", current, "--json"});
  ASSERT_EQ(match.exit_code, 0) << match.out << match.err;
  auto doc = nlohmann::json::parse(match.out);
  EXPECT_EQ(doc["report"]["drift"], false);
  EXPECT_EQ(doc["report"]["expected_checksum"], current);
  EXPECT_EQ(doc["report"]["pre_checksum"], current);
  EXPECT_EQ(doc["report"]["imported"], 1);
  EXPECT_EQ(sql_value(ipc2, last_release), current + " drift=false pre=" + current);

  // 2. A wrong expected checksum at a target whose last release matches its
  //    state: the only mismatch is with what the operator expected. Drift is
  //    reported, not refused: exit 0, imported, the source marks it promoted,
  //    and release_log keeps what was expected and that it drifted.
  p.create_version("pricing", R"({"rate": 3})");
  to_e2_passed("3");
  const std::string before_wrong = sql_value(ipc2, "SELECT rulekeeper.snapshot_checksum('all')");
  ASSERT_EQ(sql_value(ipc2,
                      "SELECT post_checksum FROM rulekeeper.release_log "
                      "ORDER BY imported_at DESC, release_id DESC LIMIT 1"),
            before_wrong);
  ASSERT_NE(before_wrong, zeros);
  auto wrong = p.rulectl({"release", "--yes", "--from", "e2", "--to", "e3", "--expected-checksum", zeros, "--json"});
  EXPECT_EQ(wrong.exit_code, 0) << wrong.out << wrong.err;
  doc = nlohmann::json::parse(wrong.out);
  EXPECT_EQ(doc["report"]["drift"], true);
  EXPECT_EQ(doc["report"]["expected_checksum"], zeros);
  EXPECT_EQ(doc["report"]["pre_checksum"], before_wrong);
  EXPECT_EQ(doc["report"]["imported"], 1);
  EXPECT_EQ(doc["report"]["drifted_rules"], nlohmann::json::array());  // no rule changed since the last release
  EXPECT_EQ(doc["promoted"], 1);
  EXPECT_EQ(qualification(ipc2, "pricing", "3"), "awaiting_sl");
  EXPECT_EQ(qualification(*p.e2, "pricing", "3"), "promoted");
  EXPECT_EQ(sql_value(ipc2, last_release), zeros + " drift=true pre=" + before_wrong);

  // 3. A value that is not a snapshot checksum is a usage error (exit 2),
  //    found before any site is contacted: nothing changes anywhere.
  p.create_version("pricing", R"({"rate": 4})");
  to_e2_passed("4");
  const std::string before_e2 = state_fingerprint(*p.e2), before_ipc2 = state_fingerprint(ipc2);
  const std::string current4 = sql_value(ipc2, "SELECT rulekeeper.snapshot_checksum('all')");
  std::string upper = current4;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const std::string& bad : {std::string("xyz"), std::string(""), std::string(63, '0'), std::string(65, '0'),
                                 std::string(64, 'g'), std::string(64, 'A'), upper, " " + current4}) {
    SCOPED_TRACE("--expected-checksum '" + bad + "'");
    auto r = p.rulectl({"release", "--yes", "--from", "e2", "--to", "e3", "--expected-checksum", bad});
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_TRUE(contains(r.err, "--expected-checksum")) << r.err;
    EXPECT_TRUE(contains(r.err, "64 lowercase hex digits")) << r.err;
    EXPECT_EQ(r.out, "");
  }
  EXPECT_EQ(qualification(*p.e2, "pricing", "4"), "test_passed");
  EXPECT_EQ(qualification(ipc2, "pricing", "4"), "");
  EXPECT_EQ(state_fingerprint(*p.e2), before_e2);
  EXPECT_EQ(state_fingerprint(ipc2), before_ipc2);
  // Before connecting: with both sites down it is still exit 2, not 4.
  p.e2->stop();
  ipc2.stop();
  auto down = p.rulectl({"release", "--yes", "--from", "e2", "--to", "e3", "--expected-checksum", "xyz"});
  EXPECT_EQ(down.exit_code, 2) << down.out << down.err;
  EXPECT_TRUE(contains(down.err, "64 lowercase hex digits")) << down.err;
}
