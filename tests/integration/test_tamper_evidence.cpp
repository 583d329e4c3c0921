// Tamper evidence (issue #13, classes 10 and 2) on real clusters:
//   - a superuser with triggers off (session_replication_role = replica)
//     changes a qualification, inserts an activation, deletes a journal
//     entry, edits one, and edits one and rewrites the chain after it: each
//     is found by rulekeeper.verify_history() at the site (the rewrite only
//     across sites: the chain heads differ) and by `rulectl compare ipc2 ipc1`
//     against the standby,
//     whose replay was paused before the change (so it holds the history as
//     it was);
//   - a clean history verifies clean after a release, a hotfix, a failover
//     and a reconcile (the imported orphans keep their origin's chain);
//   - import_changes, called by a releaser login, refuses a hand-built
//     changes bundle that claims this site's own origin, leaves a gap, sets
//     origin_seq near 2^63, an incarnation or epoch out of bounds, a
//     recorded_at in the future, or entries whose hashes do not link — before
//     it writes anything, with the reason and the entry named.
// See docs/tamper-evidence.md. Ports: integration_tamper in tests/ports.txt.
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "failover_support.hpp"
#include "raw_connection.hpp"

using namespace rulekeeper;
using namespace rulekeeper::testing;
using namespace rulekeeper::testing::fo;
using nlohmann::json;
namespace ports = rulekeeper::testing::ports;

namespace {

constexpr int kTamperPort = ports::integration_tamper[0];     // +0 ipc2, +1 ipc1
constexpr int kImportPort = ports::integration_tamper[2];     // one E3 node
constexpr int kLifecyclePort = ports::integration_tamper[4];  // e1, e2, ipc2, ipc1

#define REQUIRE_EXTENSION() \
  if (!rulekeeper::testing::with_extension()) GTEST_SKIP() << "needs the rulekeeper extension"

// verify_history() at a node: "problem rule_key/label" or "problem origin/seq".
std::multiset<std::string> history_problems(const cluster::Node& n) {
  std::multiset<std::string> out;
  auto c = n.connect();
  pqxx::nontransaction tx(*c);
  for (const auto& r : tx.exec("SELECT problem, origin, origin_seq, rule_key, label FROM rulekeeper.verify_history()"))
    out.insert(r[1].is_null() ? fmt::format("{} {}/{}", r[0].c_str(), r[3].c_str(), r[4].c_str())
                              : fmt::format("{} {}/{}", r[0].c_str(), r[1].c_str(), r[2].c_str()));
  return out;
}

std::string joined(const std::multiset<std::string>& s) { return fmt::format("{}", fmt::join(s, "; ")); }

// As superuser, behind the triggers: what this whole issue says a superuser can do.
void behind_triggers(const cluster::Node& n, const std::string& sql) {
  auto c = n.connect();
  pqxx::work tx(*c);
  tx.exec0("SET LOCAL session_replication_role = replica");
  tx.exec0(sql);
  tx.commit();
}

struct E3Pair {
  cluster::ClusterSet set;
  cluster::Node& primary;
  cluster::Node& standby;
  std::string config;

  explicit E3Pair(int port)
      : set(fresh_cluster_options()),
        primary(set.add({"ipc2", "e3", port})),
        standby(set.add({"ipc1", "e3", port + 1})) {
    primary.init_primary();
    primary.create_database();
    standby.init_standby_of(primary);
    standby.wait_replayed(primary);
    standby.wait_ready();
    config = (set.options().base / "rulectl.toml").string();
    std::ofstream(config) << fmt::format(
        "[sites.ipc2]\nconninfo = \"{}\"\nenvironment = \"e3\"\n\n"
        "[sites.ipc1]\nconninfo = \"{}\"\nenvironment = \"e3\"\ndr = true\n",
        primary.conninfo(), standby.conninfo());
  }

  // `rulectl --json compare ipc2 ipc1`, its exit code checked.
  json compare(int expected_exit) const {
    CommandResult r = run_rulectl({"--config", config, "--json", "compare", "ipc2", "ipc1"});
    EXPECT_EQ(r.exit_code, expected_exit) << r.out << r.err;
    json doc = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(doc.is_discarded()) << r.out << r.err;
    return doc;
  }
  CommandResult compare_text() const { return run_rulectl({"--config", config, "compare", "ipc2", "ipc1"}); }
};

bool history_lists(const json& cmp, const std::string& site, const std::string& problem) {
  for (const auto& p : cmp["history"][site])
    if (p["problem"] == problem) return true;
  return false;
}

}  // namespace

TEST(TamperEvidence, SuperuserChangesAreFoundAtTheSiteAndByCompare) {
  REQUIRE_EXTENSION();
  E3Pair c(kTamperPort);
  cluster::Node& ipc2 = c.primary;
  for (const char* sql : {
           "INSERT INTO rulekeeper.rule (rule_key, ruleset) VALUES ('a', 'rs'), ('b', 'rs')",
           "INSERT INTO rulekeeper.rule_version (rule_key, version, body, origin) VALUES "
           "('a', 1, '{\"v\": 1}', 'released'), ('a', 2, '{\"v\": 2}', 'released'), ('b', 1, '{\"v\": 1}', 'released')",
           "SELECT rulekeeper.activate('a', '1', 'sl')",
           "SELECT rulekeeper.transition('a', '1', 'sl_failed', 'fails in soft launch')",
           "SELECT rulekeeper.activate('a', '2', 'sl')",
           "SELECT rulekeeper.transition('a', '2', 'sl_validated', 'passes')",
           "SELECT rulekeeper.activate('a', '2', 'prod')",
           "SELECT rulekeeper.activate('b', '1', 'sl')",
       })
    ipc2.exec(sql);
  c.standby.wait_replayed(ipc2);
  EXPECT_EQ(joined(history_problems(ipc2)), "");
  EXPECT_EQ(joined(history_problems(c.standby)), "");
  json clean = c.compare(0);
  EXPECT_EQ(clean["history_intact"], true) << clean.dump(2);
  EXPECT_TRUE(clean["chains"].empty()) << clean.dump(2);
  // A reader may ask too.
  ipc2.exec("CREATE ROLE tamper_reader LOGIN IN ROLE rulekeeper_reader");
  {
    Raw reader(fmt::format("host=127.0.0.1 port={} user=tamper_reader dbname=rules", ipc2.port()));
    auto r = reader.exec("SELECT count(*) FROM rulekeeper.verify_history()");
    EXPECT_TRUE(r.ok) << r.message;
    EXPECT_EQ(r.value, "0");
  }

  const std::string rule_b_entry = sql_value(ipc2,
                                             "SELECT change_id::text FROM rulekeeper.journal WHERE kind = 'rule' "
                                             "AND rule_key = 'b'");
  const std::string rule_b_seq =
      sql_value(ipc2, "SELECT origin_seq FROM rulekeeper.journal WHERE change_id = $1::uuid", rule_b_entry);
  ASSERT_FALSE(rule_b_seq.empty());

  struct Case {
    std::string name;
    std::string tamper;            // behind the triggers, at ipc2
    std::string undo;              // behind the triggers, at ipc2
    std::string expected_at_site;  // a verify_history() problem ("" = none at the site)
    std::string expected_chain;    // a compare chain finding ("" = none)
  };
  const std::string saved =
      sql_value(ipc2, "SELECT to_jsonb(j)::text FROM rulekeeper.journal j WHERE change_id = $1::uuid", rule_b_entry);
  const std::vector<Case> cases = {
      {"sl_failed turned sl_validated",
       "UPDATE rulekeeper.rule_version SET qualification = 'sl_validated' WHERE rule_key = 'a' AND label = '1'",
       "UPDATE rulekeeper.rule_version SET qualification = 'sl_failed' WHERE rule_key = 'a' AND label = '1'",
       "qualification_differs a/1", ""},
      {"activation inserted",
       "INSERT INTO rulekeeper.activation (channel, rule_key, label, pinned, epoch, change_id) "
       "VALUES ('prod', 'b', '1', false, 99, gen_random_uuid())",
       "DELETE FROM rulekeeper.activation WHERE channel = 'prod' AND rule_key = 'b'", "activation_not_journaled b/1",
       ""},
      {"journal entry deleted", "DELETE FROM rulekeeper.journal WHERE change_id = '" + rule_b_entry + "'",
       "INSERT INTO rulekeeper.journal SELECT * FROM jsonb_populate_record(NULL::rulekeeper.journal, '" + saved +
           "'::jsonb)",
       "chain_gap ipc2:1/" + std::to_string(std::stoll(rule_b_seq) + 1), ""},
      {"journal entry edited",
       "UPDATE rulekeeper.journal SET actor = 'somebody_else' WHERE change_id = '" + rule_b_entry + "'",
       "UPDATE rulekeeper.journal SET actor = 'postgres' WHERE change_id = '" + rule_b_entry + "'",
       "chain_mismatch ipc2:1/" + rule_b_seq, ""},
      // Edited, and every later hash recomputed: the site's own chain is
      // consistent again; only another copy of the history shows it.
      {"journal entry edited and the chain rewritten after it",
       "CREATE TABLE public.saved_journal AS SELECT * FROM rulekeeper.journal;"
       "UPDATE rulekeeper.journal SET actor = 'somebody_else' WHERE change_id = '" +
           rule_b_entry +
           "';"
           "DO $$ DECLARE e rulekeeper.journal; prev text; BEGIN "
           "  FOR e IN SELECT * FROM rulekeeper.journal WHERE origin_site = 'ipc2' AND origin_incarnation = 1 "
           "            ORDER BY origin_seq LOOP "
           "    UPDATE rulekeeper.journal SET entry_hash = rulekeeper._journal_entry_hash(COALESCE(prev, repeat('0', "
           "64)), e) WHERE change_id = e.change_id RETURNING entry_hash INTO prev; "
           "  END LOOP; END $$",
       "UPDATE rulekeeper.journal j SET actor = s.actor, entry_hash = s.entry_hash FROM public.saved_journal s "
       "WHERE s.change_id = j.change_id; DROP TABLE public.saved_journal",
       "", "differs"},
  };

  for (const Case& k : cases) {
    SCOPED_TRACE(k.name);
    c.standby.pause_replay();
    behind_triggers(ipc2, k.tamper);
    const auto found = history_problems(ipc2);
    if (k.expected_at_site.empty()) {
      EXPECT_EQ(joined(found), "") << "a consistent rewrite leaves the site's own chain consistent";
    } else {
      EXPECT_EQ(found.count(k.expected_at_site), 1u) << joined(found);
    }
    EXPECT_EQ(joined(history_problems(c.standby)), "");  // the standby holds the history as it was

    json cmp = c.compare(3);
    EXPECT_EQ(cmp["checksums_equal"], true) << "no version changed: only the history shows it";
    EXPECT_EQ(cmp["history_intact"], false) << cmp.dump(2);
    EXPECT_TRUE(cmp["history"]["ipc1"].empty()) << cmp.dump(2);
    if (k.expected_chain.empty()) {
      EXPECT_TRUE(cmp["chains"].empty()) << cmp.dump(2);
    }
    if (!k.expected_at_site.empty()) {
      EXPECT_TRUE(history_lists(cmp, "ipc2", k.expected_at_site.substr(0, k.expected_at_site.find(' '))))
          << cmp.dump(2);
    }
    if (!k.expected_chain.empty()) {
      ASSERT_EQ(cmp["chains"].size(), 1u) << cmp.dump(2);
      EXPECT_EQ(cmp["chains"][0]["origin"], "ipc2:1");
      EXPECT_EQ(cmp["chains"][0]["finding"], k.expected_chain);
      EXPECT_EQ(cmp["chains"][0]["tampered"], true);
      // The chain heads alone find it (--no-verify-history reads no journal).
      CommandResult quick =
          run_rulectl({"--config", c.config, "--json", "compare", "ipc2", "ipc1", "--no-verify-history"});
      EXPECT_EQ(quick.exit_code, 3) << quick.out << quick.err;
      json q = json::parse(quick.out, nullptr, false);
      EXPECT_EQ(q["history_verified"], false) << quick.out;
      EXPECT_EQ(q["history_intact"], false) << quick.out;
    }
    CommandResult text = c.compare_text();
    EXPECT_EQ(text.exit_code, 3);
    if (k.expected_chain.empty()) {
      EXPECT_TRUE(contains(text.out, "history at ipc2: ")) << text.out;
      EXPECT_FALSE(contains(text.out, "history at ipc2: intact")) << text.out;
    } else {
      EXPECT_TRUE(contains(text.out, "journal chains DIFFER")) << text.out;
    }
    EXPECT_TRUE(contains(text.out, "history at ipc1: intact")) << text.out;

    behind_triggers(ipc2, k.undo);
    EXPECT_EQ(joined(history_problems(ipc2)), "") << "undone";
    c.standby.resume_replay();
    c.standby.wait_replayed(ipc2);
    EXPECT_EQ(c.compare(0)["history_intact"], true);
  }
  // And the site goes on writing on its chain.
  ipc2.exec("SELECT rulekeeper.transition('b', '1', 'sl_validated', 'passes')");
  EXPECT_EQ(joined(history_problems(ipc2)), "");
}

namespace {

// A journal entry of origin site:inc at seq, chained to prev, its entry_hash
// computed by the server's own function (the algorithm is public: anyone can
// compute it, so the chain alone authenticates nothing; signatures do).
// `fields` may override any member (recorded_at, payload, ...); `hash_prev`
// is what the hash is computed from (normally prev).
json chained_entry(const cluster::Node& n, const std::string& site, long long inc, long long seq,
                   const std::string& hash_prev, json fields = json::object()) {
  json e = {{"origin_site", site}, {"origin_incarnation", inc}, {"origin_seq", seq},         {"kind", "failover"},
            {"rule_key", nullptr}, {"label", nullptr},          {"payload", json::object()}, {"actor", "someone"}};
  for (auto& [k, v] : fields.items()) e[k] = v;
  const std::string out = sql_value(
      n,
      "SELECT (to_jsonb(r) - 'recorded_lsn' || jsonb_build_object('entry_hash', rulekeeper._journal_entry_hash($2, r)))"
      "::text FROM jsonb_populate_record(NULL::rulekeeper.journal, jsonb_build_object('change_id', gen_random_uuid(), "
      "'recorded_at', now() - interval '1 minute') || $1::jsonb) r",
      e.dump(), hash_prev);
  json doc = json::parse(out);
  // Numbers beyond what the row type holds are kept as the bundle says.
  for (const char* k : {"origin_seq", "origin_incarnation"})
    if (fields.contains(k)) doc[k] = fields[k];
  return doc;
}

// A sealed and signed changes bundle around `changes`: what a releaser who
// had a trusted key's signature could bring.
std::string changes_bundle(const cluster::Node& n, const json& changes) {
  json b = {{"format", "rulekeeper-changes/1"},
            {"source", {{"site", "ipc9"}, {"environment", "e3"}, {"timeline", 1}}},
            {"since", json::object()},
            {"vector", json::object()},
            {"changes", changes}};
  // Signed with the node's own key, trusted for e3 (docs/keys.md): what is
  // refused below is the history, not a missing signature.
  return sql_value(n,
                   "SELECT rulekeeper.sign_bundle($1::jsonb || jsonb_build_object('bundle_sha256', "
                   "rulekeeper._jcs_sha256($1::jsonb)))::text",
                   b.dump());
}

const std::string kGenesis(64, '0');

}  // namespace

TEST(TamperEvidence, ImportChangesRefusesForgedHistoryBeforeWritingAnything) {
  REQUIRE_EXTENSION();
  cluster::ClusterSet set(fresh_cluster_options());
  cluster::Node& n = set.add({"ipc2", "e3", kImportPort});
  n.init_primary();
  n.create_database();
  n.exec(
      "SELECT rulekeeper.trust_key('e3', public_key, 'test: this node signs the forged bundles') "
      "FROM rulekeeper.signing_public_key()");
  n.exec("INSERT INTO rulekeeper.rule (rule_key, ruleset) VALUES ('a', 'rs')");
  n.exec(
      "INSERT INTO rulekeeper.rule_version (rule_key, version, body, origin) VALUES ('a', 1, '{\"v\": 1}', "
      "'released')");
  n.exec("CREATE ROLE tamper_releaser LOGIN IN ROLE rulekeeper_releaser");
  Raw releaser(fmt::format("host=127.0.0.1 port={} user=tamper_releaser dbname=rules", n.port()));
  const std::string own_inc = sql_value(n, "SELECT rulekeeper.incarnation()");
  const long long own_seq = std::stoll(sql_value(n, "SELECT max(origin_seq) FROM rulekeeper.journal"));
  const std::string own_head = sql_value(n, "SELECT entry_hash FROM rulekeeper.journal WHERE origin_seq = $1", own_seq);

  const json e1 = chained_entry(n, "ipc9", 1, 1, kGenesis);
  const json e2 = chained_entry(n, "ipc9", 1, 2, e1["entry_hash"].get<std::string>());
  const json e3 = chained_entry(n, "ipc9", 1, 3, e2["entry_hash"].get<std::string>());

  struct Case {
    std::string name;
    json changes;
    std::string sqlstate;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"this site's own current origin, leaving a gap",
       json::array({chained_entry(n, "ipc2", std::stoll(own_inc), own_seq + 5, own_head)}), "22023",
       "claims this site's own current origin ipc2:" + own_inc},
      // 2^63 - 1 as a JSON number cannot even be sealed (JCS refuses it);
      // as a string, today's import casts it to bigint and the next write
      // at the site overflows.
      {"this site's own origin at 2^63 - 1",
       json::array(
           {chained_entry(n, "ipc2", std::stoll(own_inc), 1, own_head, {{"origin_seq", "9223372036854775807"}})}),
       "22023", "origin_seq must be an integer from 1 to 2^62 - 1"},
      // The largest integer a sealed bundle can carry as a number (JCS
      // refuses beyond 2^53): it must still continue what the site holds.
      {"another origin at 2^53",
       json::array({chained_entry(n, "ipc9", 1, 1, kGenesis, {{"origin_seq", 9007199254740992LL}})}), "22023",
       "origin_seq 9007199254740992 does not continue origin ipc9:1 without a gap"},
      {"an incarnation out of bounds", json::array({chained_entry(n, "ipc9", 2147483647LL, 1, kGenesis)}), "22023",
       "origin_incarnation must be an integer from 1 to 2^30 - 1"},
      {"an epoch out of bounds",
       json::array({chained_entry(n, "ipc9", 1, 1, kGenesis,
                                  {{"kind", "activation"},
                                   {"rule_key", "a"},
                                   {"label", "1"},
                                   {"payload", {{"channel", "prod"}, {"epoch", "9223372036854775807"}}}})}),
       "22023", "payload epoch must be an integer from 0 to 2^62 - 1"},
      {"a negative epoch",
       json::array({chained_entry(n, "ipc9", 1, 1, kGenesis,
                                  {{"kind", "activation"},
                                   {"rule_key", "a"},
                                   {"label", "1"},
                                   {"payload", {{"channel", "prod"}, {"epoch", -1}}}})}),
       "22023", "payload epoch must be an integer from 0 to 2^62 - 1"},
      {"a gap in another origin", json::array({e1, e3}), "22023",
       "origin_seq 3 does not continue origin ipc9:1 without a gap (this site holds up to 0; 2 comes next)"},
      {"another origin not starting where this site stands", json::array({e2, e3}), "22023",
       "origin_seq 2 does not continue origin ipc9:1 without a gap (this site holds up to 0; 1 comes next)"},
      {"an entry whose hash does not link", json::array({chained_entry(n, "ipc9", 1, 1, std::string(64, 'a'))}),
       "XX001", "entry_hash does not follow from the entry and the previous entry's hash"},
      {"an entry edited after it was hashed", json::array({[&] {
         json x = e1;
         x["actor"] = "the_boss";
         return x;
       }()}),
       "XX001", "entry_hash does not follow"},
      // A version entry, correctly chained, carrying a body other than the
      // one whose content_sha256 it recorded.
      {"a version row that is not the one its entry describes", json::array({[&] {
         json x = chained_entry(n, "ipc9", 1, 1, kGenesis,
                                {{"kind", "version"},
                                 {"rule_key", "a"},
                                 {"label", "7"},
                                 {"payload",
                                  {{"content_sha256", sql_value(n, "SELECT rulekeeper.content_sha256('{\"v\": 7}')")},
                                   {"qualification", "sl_validated"}}}});
         x["row"] = {
             {"rule_key", "a"}, {"version", 7}, {"hotfix", 0}, {"label", "7"}, {"body", {{"v", "nobody wrote this"}}}};
         return x;
       }()}),
       "XX001", "the version row it carries is not the one its entry describes"},
      {"recorded_at in the future",
       json::array({chained_entry(n, "ipc9", 1, 1, kGenesis, {{"recorded_at", "2099-01-01T00:00:00+00:00"}})}), "22023",
       "is in the future"},
  };
  const std::string before = state_fingerprint(n);
  for (const Case& k : cases) {
    SCOPED_TRACE(k.name);
    const std::string bundle = changes_bundle(n, k.changes);
    auto r = releaser.exec("SELECT rulekeeper.import_changes($1::jsonb)", &bundle);
    EXPECT_FALSE(r.ok) << "imported: " << r.value;
    EXPECT_EQ(r.sqlstate, k.sqlstate) << r.message;
    EXPECT_TRUE(contains(r.message, k.message)) << r.message;
    EXPECT_TRUE(contains(r.message, "changes bundle entry")) << "the entry is named: " << r.message;
    EXPECT_EQ(state_fingerprint(n), before) << "nothing written";
    auto dry = releaser.exec("SELECT rulekeeper.import_changes($1::jsonb, true)", &bundle);
    EXPECT_FALSE(dry.ok) << "a dry run checks the same: " << dry.value;
  }

  // What is refused leaves the site writing on its own chain.
  n.exec("INSERT INTO rulekeeper.rule (rule_key, ruleset) VALUES ('b', 'rs')");
  // A well-formed history of another origin is taken, and continues later.
  std::string bundle = changes_bundle(n, json::array({e1, e2}));
  auto ok = releaser.exec("SELECT rulekeeper.import_changes($1::jsonb) ->> 'records'", &bundle);
  ASSERT_TRUE(ok.ok) << ok.message;
  EXPECT_EQ(ok.value, "2");
  bundle = changes_bundle(n, json::array({e1, e2, e3}));  // what it holds again, then the next one
  ok = releaser.exec("SELECT rulekeeper.import_changes($1::jsonb) ->> 'records'", &bundle);
  ASSERT_TRUE(ok.ok) << ok.message;
  EXPECT_EQ(ok.value, "1");
  // Another entry at a position it holds: refused.
  bundle = changes_bundle(n, json::array({chained_entry(n, "ipc9", 1, 2, e1["entry_hash"].get<std::string>())}));
  auto other = releaser.exec("SELECT rulekeeper.import_changes($1::jsonb)", &bundle);
  EXPECT_FALSE(other.ok);
  EXPECT_TRUE(contains(other.message, "already holds another entry at that position")) << other.message;
  EXPECT_EQ(sql_value(n, "SELECT count(*) FROM rulekeeper.verify_history()"), "0");
  EXPECT_EQ(sql_value(n,
                      "SELECT origin_seq || ' ' || (entry_hash = $1) FROM rulekeeper.chain_heads() "
                      "WHERE origin_site = 'ipc9'",
                      e3["entry_hash"].get<std::string>()),
            "3 true");
}

TEST(TamperEvidence, CleanHistoryVerifiesCleanAfterReleaseHotfixFailoverReconcile) {
  REQUIRE_EXTENSION();
  Pipeline p(kLifecyclePort);
  write_control_toml(p);
  cluster::Node& ipc2 = *p.ipc2;
  cluster::Node& ipc1 = *p.ipc1;
  const char* kA = "limits.daily";
  const char* kB = "limits.weekly";
  for (const char* k : {kA, kB}) {
    p.create_rule(k, "limits");
    p.create_version(k, R"({"max": 100, "currency": "EUR"})");
  }
  p.ship();
  for (const char* k : {kA, kB}) p.to_prod(k, "1");
  sql_value(ipc2,
            "INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES ('limits', ARRAY['/max']) "
            "RETURNING ruleset");
  hotfix(p, kA, R"({"max": 110, "currency": "EUR"})", "raise A");
  // A pin (the derived activation carries it), an unpin, a deactivation and
  // an activation again.
  sql_value(ipc2, "SELECT rulekeeper.pin($1, 'prod', '1.1')", std::string(kA));
  EXPECT_EQ(joined(history_problems(ipc2)), "");
  sql_value(ipc2, "SELECT rulekeeper.unpin($1, 'prod')", std::string(kA));
  sql_value(ipc2, "SELECT rulekeeper.deactivate($1, 'sl')", std::string(kB));
  EXPECT_EQ(joined(history_problems(ipc2)), "");
  sql_value(ipc2, "SELECT rulekeeper.activate($1, '1', 'sl')", std::string(kB));
  ipc1.wait_replayed(ipc2, std::chrono::seconds(60));
  for (cluster::Node* n : {p.e1, p.e2, p.ipc2, p.ipc1}) EXPECT_EQ(joined(history_problems(*n)), "") << n->site();
  CommandResult r = run(p, {"--json", "compare", "ipc2", "ipc1"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(json::parse(r.out)["history_intact"], true) << r.out;

  // An orphan at ipc2, a forced failover to ipc1, rejoin, reconcile.
  ipc1.stop();
  hotfix(p, kB, R"({"max": 150, "currency": "EUR"})", "B at ipc2");
  const std::string ipc2_head =
      sql_value(ipc2,
                "SELECT origin_seq || ' ' || entry_hash FROM rulekeeper.chain_heads() WHERE origin_site = 'ipc2'");
  ipc2.kill9();
  ipc1.start();
  r = run(p, {"failover", "--yes", "--to", "ipc1", "--force"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  hotfix(p, kA, R"({"max": 120, "currency": "EUR"})", "A at ipc1");
  EXPECT_EQ(joined(history_problems(ipc1)), "");
  start_without_upstream(ipc2);
  const std::string orphans = (p.set.options().base / "orphans.json").string();
  r = run(p, {"rejoin", "--yes", "--site", "ipc2", "--orphans", orphans});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  r = run(p, {"--json", "reconcile", "--yes", "--bundle", orphans, "--to", "ipc1"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(versions_of(ipc1, kB), "1:sl_validated,1.1:recovered");
  // The imported orphans keep their origin's chain: ipc1 now holds ipc2:1 up
  // to the head ipc2 had, and everything verifies.
  EXPECT_EQ(sql_value(ipc1,
                      "SELECT origin_seq || ' ' || entry_hash FROM rulekeeper.chain_heads() "
                      "WHERE origin_site = 'ipc2'"),
            ipc2_head);
  EXPECT_EQ(joined(history_problems(ipc1)), "");
}
