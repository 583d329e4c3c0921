// Extension upgrades (issue #17 item 2; docs/upgrade.md,
// docs/design/upgrades.md): a pipeline filled at 0.1 on the 0.2 library
// keeps every row, checksum, journal chain and activation through
// `ALTER EXTENSION rulekeeper UPDATE`, and every function works after; a
// fresh 0.2 and an updated 0.1 are the same catalog; a standby replays its
// primary's update while the heartbeat worker goes on; and rulectl refuses
// a site at 0.1 naming both versions until it is updated.
//
// These tests stay valuable as the update script grows: every section added
// to sql/rulekeeper--0.1--0.2.sql runs here on a database that holds data.
// Ports: integration_upgrade in tests/ports.txt.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pipeline.hpp"

using namespace rulekeeper;
using namespace rulekeeper::testing;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string describe(const CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\n--- stdout:\n" + r.out + "--- stderr:\n" + r.err;
}

// Polls `sql` at `n` until it returns `want` (20 s at most); returns the last value.
std::string wait_value(const cluster::Node& n, const std::string& sql, const std::string& want) {
  std::string v;
  for (auto deadline = std::chrono::steady_clock::now() + 20s; std::chrono::steady_clock::now() < deadline;) {
    try {
      v = n.query_value(sql);
    } catch (const std::exception& e) {
      v = std::string("error: ") + e.what();
    }
    if (v == want) break;
    std::this_thread::sleep_for(100ms);
  }
  return v;
}

std::string extversion(const cluster::Node& n, const std::string& db = "") {
  return n.query_value("SELECT extversion FROM pg_extension WHERE extname = 'rulekeeper'", db);
}

// A release the way rulectl 0.1 makes one, through the SQL API it calls
// (site/client/releases.cpp): rulectl 0.2 refuses a 0.1 site, which is
// what the test checks below.
void release_by_sql(const cluster::Node& from, const cluster::Node& to) {
  const std::string bundle = sql_value(from, "SELECT rulekeeper.export_release(NULL)::text");
  sql_value(to, "SELECT rulekeeper.import_release($1::jsonb, NULL)::text", bundle);
}

// Everything the upgrade must not change at a node, one labelled line each.
std::string durable_state(const cluster::Node& n) {
  return n.query_value(R"(
    SELECT concat_ws(E'\n',
      'snapshot_checksum ' || rulekeeper.snapshot_checksum('all'),
      'version_vector ' || rulekeeper.version_vector()::text,
      'journal ' || (SELECT count(*) FROM rulekeeper.journal),
      'chain_heads ' || (SELECT string_agg(concat_ws(' ', origin_site, origin_incarnation, origin_seq, entry_hash),
                                           '; ' ORDER BY origin_site, origin_incarnation)
                           FROM rulekeeper.chain_heads()),
      'activations ' || (SELECT string_agg(concat_ws(' ', channel, rule_key, label, pinned, epoch, activated_at,
                                                     change_id), '; ' ORDER BY channel, rule_key)
                           FROM rulekeeper.activation),
      'activation_epoch ' || rulekeeper.activation_epoch(),
      'verify_checksums ' || (SELECT count(*) || ' rows, problems: ' ||
                                     coalesce(string_agg(problem, '; ') FILTER (WHERE problem IS NOT NULL), 'none')
                                FROM rulekeeper.verify_checksums()),
      'effective prod ' || (SELECT coalesce(string_agg(rule_key || '=' || label, ',' ORDER BY rule_key), '')
                              FROM rulekeeper.effective_rules('prod')),
      'effective sl ' || (SELECT coalesce(string_agg(rule_key || '=' || label, ',' ORDER BY rule_key), '')
                            FROM rulekeeper.effective_rules('sl')),
      'versions ' || (SELECT string_agg(rule_key || '/' || label || ' ' || qualification, ', '
                                        ORDER BY rule_key, label) FROM rulekeeper.rule_version),
      'releases ' || (SELECT count(*) FROM rulekeeper.release_log),
      'hotfixes ' || (SELECT count(*) FROM rulekeeper.hotfix),
      'failover_events ' || (SELECT count(*) FROM rulekeeper.failover_event))
  )");
}

// Calls every function of the extension that needs no argument and changes
// nothing (STABLE or IMMUTABLE, not a trigger) at `n`, each in autocommit;
// returns "name: error" for each that failed. The writing
// functions are exercised by the tour through rulectl.
std::vector<std::string> call_readers(const cluster::Node& n) {
  auto c = n.connect();
  std::vector<std::string> fns;
  {
    pqxx::nontransaction tx(*c);
    for (const auto& row :
         tx.exec("SELECT p.oid::regproc::text FROM pg_proc p "
                 "WHERE p.pronamespace = 'rulekeeper'::regnamespace AND p.pronargs = p.pronargdefaults "
                 "AND p.provolatile IN ('s', 'i') AND p.prorettype <> 'trigger'::regtype AND p.prokind = 'f' "
                 "ORDER BY 1"))
      fns.push_back(row[0].c_str());
  }
  EXPECT_GT(fns.size(), 10u) << "too few functions found to call";
  std::vector<std::string> failed;
  for (const auto& fn : fns) {
    try {
      pqxx::nontransaction tx(*c);  // autocommit: one failure does not end the others
      tx.exec("SELECT * FROM " + fn + "()");
    } catch (const pqxx::sql_error& e) {
      // A function that runs only in other environments says so
      // (feature_not_supported, as _require_environment): that is its
      // answer here, not a failure.
      if (e.sqlstate() != "0A000") failed.push_back(fn + ": " + e.what());
    }
  }
  return failed;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "\n";
  return out;
}

}  // namespace

TEST(Upgrade, FilledAt01_UpdateKeepsEveryRowAndEveryFunctionWorks_RulectlRefusesUntilThen) {
  if (!with_extension()) GTEST_SKIP() << "needs the extension";
  Pipeline p(ports::integration_upgrade[0], /*with_ipc1=*/true, "0.1");
  const std::vector<cluster::Node*> nodes{p.e1, p.e2, p.ipc2, p.ipc1};
  const std::vector<cluster::Node*> primaries{p.e1, p.e2, p.ipc2};
  for (const auto* n : nodes) ASSERT_EQ(extversion(*n), "0.1") << n->site();

  // --- Filled at 0.1, on the 0.2 library, through the 0.1 SQL API (what
  // rulectl 0.1 calls): rules, versions, release E1 -> E2 -> E3,
  // qualification, activations, a hotfix, a failover event.
  p.create_rule("upg.rate");
  p.create_rule("upg.cap", "upg");
  const std::string rate1 = p.create_version("upg.rate", R"({"rate": 1.5})");
  const std::string rate2 = p.create_version("upg.rate", R"({"rate": 1.7})");
  const std::string cap1 = p.create_version("upg.cap", R"({"cap": 10})");
  release_by_sql(*p.e1, *p.e2);
  for (const auto& [rule, label] : {std::pair{"upg.rate", rate1}, {"upg.rate", rate2}, {"upg.cap", cap1}})
    sql_value(*p.e2, "SELECT rulekeeper.transition($1, $2, 'test_passed', 'suite green')::text", rule, label);
  release_by_sql(*p.e2, *p.ipc2);
  for (const auto& [rule, label] : {std::pair{"upg.rate", rate2}, {"upg.cap", cap1}}) {
    sql_value(*p.ipc2, "SELECT rulekeeper.activate($1, $2, 'sl')", rule, label);
    sql_value(*p.ipc2, "SELECT rulekeeper.transition($1, $2, 'sl_validated', 'soft launch clean')::text", rule, label);
    sql_value(*p.ipc2, "SELECT rulekeeper.activate($1, $2, 'prod')", rule, label);
  }
  p.ipc2->exec("INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES ('upg.rate', ARRAY['/rate'])");
  const std::string fix =
      sql_value(*p.ipc2,
                "SELECT rulekeeper.hotfix('upg.rate', '{\"rate\": 1.9}'::jsonb, 'INC-17: rate too low')::text");
  ASSERT_FALSE(fix.empty());
  sql_value(*p.ipc2, "SELECT rulekeeper.record_failover('ipc1', false, '{\"test\": \"upgrade\"}'::jsonb)::text");
  p.ipc1->wait_replayed(*p.ipc2);
  ASSERT_TRUE(contains(effective(*p.ipc1, "prod"), "upg.rate=" + rate2 + ".1")) << effective(*p.ipc1, "prod");

  // The 0.2 library serves the 0.1 catalog: every reader works, at the
  // primary and at its standby.
  for (const auto* n : {p.ipc2, p.ipc1}) EXPECT_EQ(joined(call_readers(*n)), "") << n->site() << " at 0.1";

  // --- rulectl 0.2 refuses to drive a 0.1 site, naming both versions and
  // the fix; nothing is done there.
  const std::string before_refusal = state_fingerprint(*p.ipc2);
  CommandResult r =
      p.rulectl({"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "upg.rate", "--version", rate1});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.err,
                       "site ipc2 runs extension rulekeeper 0.1, this rulectl drives 0.2: run ALTER "
                       "EXTENSION rulekeeper UPDATE in database rules there (docs/upgrade.md)"))
      << describe(r);
  EXPECT_EQ(state_fingerprint(*p.ipc2), before_refusal);
  r = p.rulectl({"--json", "release", "--yes", "--from", "e1", "--to", "e2"});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_EQ(json::parse(r.out)["exit_code"], 3) << r.out;
  EXPECT_TRUE(contains(r.err, "site e1 runs extension rulekeeper 0.1, this rulectl drives 0.2")) << describe(r);
  // A standby is updated by replay: the advice says so.
  r = p.rulectl({"hotfix", "list", "--site", "ipc1"});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.err,
                       "site ipc1 runs extension rulekeeper 0.1, this rulectl drives 0.2: run ALTER "
                       "EXTENSION rulekeeper UPDATE in database rules at its primary (a standby replays it)"))
      << describe(r);
  // status and version only report it.
  r = p.rulectl({"status"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.err, "site ipc1 runs extension rulekeeper 0.1, this rulectl drives 0.2")) << describe(r);
  r = p.rulectl({"version"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.err, "site e2 runs extension rulekeeper 0.1, this rulectl drives 0.2")) << describe(r);

  // --- The update, at each primary; the standby replays E3's.
  std::map<std::string, std::string> before;
  for (const auto* n : nodes) before[n->site()] = durable_state(*n);
  for (auto* n : primaries) n->exec("ALTER EXTENSION rulekeeper UPDATE");
  p.ipc1->wait_replayed(*p.ipc2);
  for (const auto* n : nodes) {
    EXPECT_EQ(extversion(*n), "0.2") << n->site();
    EXPECT_EQ(durable_state(*n), before[n->site()]) << n->site();
  }
  for (const auto* n : {p.ipc2, p.ipc1}) EXPECT_EQ(joined(call_readers(*n)), "") << n->site() << " at 0.2";

  // --- Every verb works again: the tour through rulectl on the updated nodes.
  r = p.rulectl({"status"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_FALSE(contains(r.err, "this rulectl drives")) << describe(r);
  const std::string rate3 = p.create_version("upg.rate", R"({"rate": 2.0})");
  p.ship();
  p.ok({"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "upg.rate", "--version", rate3});
  p.ok({"validate", "--yes", "--site", "e3", "--rule", "upg.rate", "--version", rate3, "--result", "passed", "--reason",
        "soft launch clean"});
  // The 0.1 hotfix is still known to the gate after the update.
  p.ok({"activate", "--yes", "--site", "e3", "--channel", "prod", "--rule", "upg.rate", "--version", rate3,
        "--acknowledge-hotfix", rate2 + ".1"});
  EXPECT_EQ(effective(*p.ipc2, "prod"), "upg.cap=" + cap1 + ",upg.rate=" + rate3);
  const auto body = write_temp_file("upg-fix.json", R"({"rate": 2.1})");
  p.ok({"hotfix", "--yes", "--site", "e3", "--rule", "upg.rate", "--body-file", body.string(), "--reason",
        "INC-18 after the upgrade", "--sync"});
  EXPECT_EQ(effective(*p.ipc1, "prod"), "upg.cap=" + cap1 + ",upg.rate=" + rate3 + ".1");
  p.ok({"rollback", "--yes", "--site", "e3", "--channel", "prod", "--rule", "upg.rate", "--acknowledge-hotfix",
        rate2 + ".1," + rate3 + ".1"});
  p.ok({"hotfix", "list", "--site", "ipc1"});
  p.ok({"compare", "ipc2", "ipc1"});
  p.ok({"diff", "--site", "e3", "--rule", "upg.rate", "--from", rate2, "--to", rate3});
  p.ok({"at-risk", "--primary", "ipc2", "--standby", "ipc1"});
  r = p.ok({"version"});
  EXPECT_FALSE(contains(r.err, "warning")) << describe(r);
  for (const auto* n : nodes)
    EXPECT_EQ(n->query_value("SELECT count(*) FROM rulekeeper.verify_checksums() WHERE problem IS NOT NULL"), "0")
        << n->site();
}

// A fresh 0.2 and an updated 0.1 are the same catalog: every function
// (arguments, result, body, volatility, security, settings, ACL), relation,
// column, default, constraint, index, trigger, view, policy, type, sequence,
// extension member, dumped-config table, initial privilege and comment.
TEST(Upgrade, FreshAndUpdatedCatalogsAreIdentical) {
  if (!with_extension()) GTEST_SKIP() << "needs the extension";
  cluster::ClusterSet set(fresh_cluster_options());
  cluster::Node& n = set.add({"ipc2", "e3", ports::integration_upgrade[4]});
  n.init_primary();
  n.exec("CREATE DATABASE fresh", "postgres");
  n.exec("CREATE DATABASE updated", "postgres");
  n.exec("CREATE EXTENSION rulekeeper", "fresh");
  n.exec("CREATE EXTENSION rulekeeper VERSION '0.1'", "updated");
  ASSERT_EQ(extversion(n, "updated"), "0.1");
  n.exec("ALTER EXTENSION rulekeeper UPDATE", "updated");
  ASSERT_EQ(extversion(n, "updated"), "0.2");
  ASSERT_EQ(extversion(n, "fresh"), "0.2");

  const std::string describe_catalog = R"(
    WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'rulekeeper'),
    members AS (SELECT classid, objid, objsubid FROM pg_depend
                 WHERE refclassid = 'pg_extension'::regclass AND refobjid = (SELECT oid FROM ext) AND deptype = 'e')
    SELECT 'function ' || p.oid::regprocedure || ' (' || pg_get_function_arguments(p.oid) || ') returns ' ||
           pg_get_function_result(p.oid) || ' language ' || l.lanname || ' kind ' || p.prokind::text ||
           ' volatile ' || p.provolatile::text || ' strict ' || p.proisstrict || ' secdef ' || p.prosecdef ||
           ' leakproof ' || p.proleakproof || ' parallel ' || p.proparallel::text || ' cost ' || p.procost ||
           ' rows ' || p.prorows || ' config ' || coalesce(p.proconfig::text, '-') || ' acl ' ||
           coalesce(p.proacl::text, '-') || ' owner ' || p.proowner::regrole || ' body ' ||
           md5(coalesce(p.prosrc, '') || '|' || coalesce(p.probin, ''))
      FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang WHERE p.pronamespace = 'rulekeeper'::regnamespace
    UNION ALL
    SELECT 'relation ' || c.relname || ' kind ' || c.relkind::text || ' persistence ' || c.relpersistence::text || ' acl ' ||
           coalesce(c.relacl::text, '-') || ' options ' || coalesce(c.reloptions::text, '-') || ' rls ' ||
           c.relrowsecurity || '/' || c.relforcerowsecurity || ' owner ' || c.relowner::regrole ||
           ' replica identity ' || c.relreplident::text
      FROM pg_class c WHERE c.relnamespace = 'rulekeeper'::regnamespace
    UNION ALL
    SELECT 'column ' || c.relname || '.' || a.attname || ' #' || a.attnum || ' ' ||
           format_type(a.atttypid, a.atttypmod) || ' not null ' || a.attnotnull || ' default ' ||
           coalesce(pg_get_expr(d.adbin, d.adrelid), '-') || ' identity ' || a.attidentity::text || ' generated ' ||
           a.attgenerated::text || ' dropped ' || a.attisdropped || ' collation ' || a.attcollation || ' acl ' ||
           coalesce(a.attacl::text, '-')
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE c.relnamespace = 'rulekeeper'::regnamespace AND a.attnum > 0
    UNION ALL
    SELECT 'constraint ' || coalesce(c.conrelid::regclass::text, c.contypid::regtype::text) || ' ' || c.conname ||
           ' ' || pg_get_constraintdef(c.oid) || ' deferrable ' || c.condeferrable || '/' || c.condeferred
      FROM pg_constraint c WHERE c.connamespace = 'rulekeeper'::regnamespace
    UNION ALL
    SELECT 'index ' || pg_get_indexdef(i.indexrelid)
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = 'rulekeeper'::regnamespace
    UNION ALL
    SELECT 'trigger ' || pg_get_triggerdef(t.oid) || ' enabled ' || t.tgenabled::text
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
     WHERE c.relnamespace = 'rulekeeper'::regnamespace AND NOT t.tgisinternal
    UNION ALL
    SELECT 'view ' || c.relname || ' ' || pg_get_viewdef(c.oid)
      FROM pg_class c WHERE c.relnamespace = 'rulekeeper'::regnamespace AND c.relkind::text IN ('v', 'm')
    UNION ALL
    SELECT 'policy ' || pol.polrelid::regclass || ' ' || pol.polname || ' ' || pol.polcmd::text || ' permissive ' ||
           pol.polpermissive || ' roles ' || pol.polroles::regrole[]::text || ' using ' ||
           coalesce(pg_get_expr(pol.polqual, pol.polrelid), '-') || ' check ' ||
           coalesce(pg_get_expr(pol.polwithcheck, pol.polrelid), '-')
      FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid WHERE c.relnamespace = 'rulekeeper'::regnamespace
    UNION ALL
    SELECT 'type ' || t.typname || ' ' || t.typtype::text || ' ' ||
           coalesce((SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e
                      WHERE e.enumtypid = t.oid), '') || ' acl ' || coalesce(t.typacl::text, '-')
      FROM pg_type t WHERE t.typnamespace = 'rulekeeper'::regnamespace
    UNION ALL
    SELECT 'sequence ' || s.seqrelid::regclass || ' ' || s.seqtypid::regtype || ' start ' || s.seqstart ||
           ' increment ' || s.seqincrement || ' min ' || s.seqmin || ' max ' || s.seqmax || ' cache ' ||
           s.seqcache || ' cycle ' || s.seqcycle
      FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid WHERE c.relnamespace = 'rulekeeper'::regnamespace
    UNION ALL
    SELECT 'member ' || pg_describe_object(m.classid, m.objid, m.objsubid) FROM members m
    UNION ALL
    SELECT 'initial privileges ' || pg_describe_object(ip.classoid, ip.objoid, ip.objsubid) || ' ' ||
           ip.initprivs::text
      FROM pg_init_privs ip JOIN members m ON m.classid = ip.classoid AND m.objid = ip.objoid
    UNION ALL
    SELECT 'comment ' || pg_describe_object(d.classoid, d.objoid, d.objsubid) || ' ' || md5(d.description)
      FROM pg_description d JOIN members m ON m.classid = d.classoid AND m.objid = d.objoid
    UNION ALL
    SELECT 'dumped config ' || coalesce((SELECT string_agg(x::regclass::text, ',' ORDER BY x::regclass::text)
                                          FROM unnest(e.extconfig) x), '-') || ' conditions ' ||
           coalesce(e.extcondition::text, '-') || ' relocatable ' || e.extrelocatable || ' schema ' ||
           e.extnamespace::regnamespace
      FROM pg_extension e WHERE e.extname = 'rulekeeper'
    UNION ALL
    SELECT 'schema acl ' || coalesce(nspacl::text, '-') || ' owner ' || nspowner::regrole
      FROM pg_namespace WHERE nspname = 'rulekeeper'
    UNION ALL
    SELECT 'event trigger ' || evtname || ' ' || evtevent || ' ' || evtfoid::regproc || ' ' || evtenabled::text
      FROM pg_event_trigger)";
  auto lines = [&](const std::string& db) {
    std::set<std::string> out;
    for (const auto& row : n.exec(describe_catalog, db)) out.insert(row[0].c_str());
    return out;
  };
  const std::set<std::string> fresh = lines("fresh");
  const std::set<std::string> updated = lines("updated");
  EXPECT_GT(fresh.size(), 200u) << "the catalog query found too little";
  std::string only_fresh, only_updated;
  for (const auto& l : fresh)
    if (!updated.count(l)) only_fresh += "  " + l + "\n";
  for (const auto& l : updated)
    if (!fresh.count(l)) only_updated += "  " + l + "\n";
  EXPECT_TRUE(only_fresh.empty() && only_updated.empty()) << "only in a fresh 0.2:\n"
                                                          << only_fresh << "only in 0.1 + ALTER EXTENSION UPDATE:\n"
                                                          << only_updated;
}

// A primary and its streaming standby, both at 0.1 on the 0.2 library: the
// update at the primary reaches the standby by replay (the standby never runs
// the script), its readers work on the new catalog, and the heartbeat worker
// beats through it.
TEST(Upgrade, StandbyReplaysThePrimarysUpdate_HeartbeatGoesOn) {
  if (!with_extension()) GTEST_SKIP() << "needs the extension";
  cluster::ClusterOptions options = fresh_cluster_options();
  options.extension_version = "0.1";
  cluster::ClusterSet set(options);
  cluster::Node& ipc2 = set.add({"ipc2", "e3", ports::integration_upgrade[5]});
  cluster::Node& ipc1 = set.add({"ipc1", "e3", ports::integration_upgrade[6]});
  ipc2.init_primary();
  ipc2.create_database();
  ipc1.init_standby_of(ipc2);
  ipc1.wait_ready();
  ASSERT_EQ(extversion(ipc1), "0.1");
  const std::string beats = "SELECT count(*) FROM rulekeeper.heartbeat WHERE site = 'ipc2' AND beat_seq >= ";
  // Beating at 0.1, and replayed.
  ASSERT_EQ(wait_value(ipc1, beats + "2", "1"), "1");

  ipc2.exec("ALTER EXTENSION rulekeeper UPDATE");
  const long long seq_at_update = std::stoll(ipc2.query_value("SELECT max(beat_seq) FROM rulekeeper.heartbeat"));
  EXPECT_EQ(wait_value(ipc1, "SELECT extversion FROM pg_extension WHERE extname = 'rulekeeper'", "0.2"), "0.2");
  // The worker goes on after the update (three more beats), seen at the standby.
  EXPECT_EQ(wait_value(ipc1, beats + std::to_string(seq_at_update + 3), "1"), "1");
  EXPECT_EQ(ipc1.query_value("SELECT count(*) FROM rulekeeper.effective_rules('prod')"), "0");
  EXPECT_EQ(ipc1.query_value("SELECT count(*) FROM rulekeeper.verify_checksums() WHERE problem IS NOT NULL"), "0");
  EXPECT_EQ(joined(call_readers(ipc1)), "");
  std::ifstream in(ipc2.log_file());
  std::stringstream log;
  log << in.rdbuf();
  EXPECT_FALSE(contains(log.str(), "exited with exit code")) << log.str();
  EXPECT_FALSE(contains(log.str(), "terminated by signal")) << log.str();
}
