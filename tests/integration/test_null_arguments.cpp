// A NULL argument never crashes the server (issue #13, class 8). Every
// function and procedure of the extension — found through pg_depend, so a
// function added later is covered without touching this file — is called as
// the superuser with NULL in each argument position in turn (the others a
// plausible value of their type), and once with every argument NULL, each
// call inside a savepoint of a transaction that is rolled back. After each
// call the same backend must still answer; at the end the postmaster must
// not have restarted. Errors are fine: a crash is not. Both at an E3 primary
// and at e1 (where authoring runs further than the environment check).
//
// Not called: trigger functions ("trigger functions can only be called as
// triggers": the executor refuses before any of their code runs).
//
// Also checked: every C function of the extension is STRICT, except the
// few listed in kChecksItsNulls whose NULL arguments mean something and
// which check them themselves.
// Ports: integration_null_args in tests/ports.txt (ipc2, e1).
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "pipeline.hpp"
#include "raw_connection.hpp"

using namespace rulekeeper;
namespace ports = rulekeeper::testing::ports;
using rulekeeper::testing::Raw;
using rulekeeper::testing::sql_value;

namespace {

// C functions that are not STRICT on purpose: they give a NULL argument a
// meaning (a column not compared, a journal entry without a rule) or a
// clearer error than STRICT's silent NULL result, and check it themselves.
const std::set<std::string> kChecksItsNulls = {
    "rulekeeper._journal(text,text,text,jsonb)",
    "rulekeeper._journal_check(uuid,text,text,text)",
    "rulekeeper.create_version(text,jsonb)",
    "rulekeeper._validate_bundle(jsonb,text,text)",
};

// A value of each argument type that a caller could plausibly pass; other
// types get NULL.
const std::map<std::string, std::string> kPlausible = {
    {"text", "'x'"},
    {"jsonb", "'{}'"},
    {"json", "'{}'"},
    {"boolean", "false"},
    {"integer", "0"},
    {"bigint", "0"},
    {"smallint", "0"},
    {"numeric", "0"},
    {"double precision", "0"},
    {"uuid", "'00000000-0000-4000-8000-000000000000'"},
    {"text[]", "'{}'"},
    {"integer[]", "'{}'"},
    {"bytea", R"('\x00')"},
    {"pg_lsn", "'0/0'"},
    {"timestamp with time zone", "now()"},
    {"interval", "'1 second'"},
};

struct Function {
  std::string signature;  // regprocedure text
  std::string name;       // quoted, schema-qualified
  bool procedure = false;
  bool trigger = false;
  std::vector<std::string> types;
};

std::vector<Function> extension_functions(const cluster::Node& n) {
  auto c = n.connect();
  pqxx::nontransaction tx(*c);
  pqxx::result r = tx.exec(
      "SELECT p.oid::regprocedure::text, quote_ident(s.nspname) || '.' || quote_ident(p.proname), p.prokind = 'p', "
      "       p.prorettype IN ('trigger'::regtype, 'event_trigger'::regtype), "
      "       coalesce((SELECT string_agg(format_type(t.oid, NULL), '|' ORDER BY t.n) "
      "                   FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS t(oid, n)), '') "
      "  FROM pg_proc p JOIN pg_namespace s ON s.oid = p.pronamespace "
      "  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e' "
      "  JOIN pg_extension e ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid "
      " WHERE e.extname = 'rulekeeper' ORDER BY 1");
  std::vector<Function> out;
  for (const auto& row : r) {
    Function f{row[0].c_str(), row[1].c_str(), row[2].as<bool>(), row[3].as<bool>(), {}};
    std::string types = row[4].c_str();
    for (std::size_t pos = 0; !types.empty();) {
      std::size_t bar = types.find('|', pos);
      f.types.push_back(types.substr(pos, bar == std::string::npos ? std::string::npos : bar - pos));
      if (bar == std::string::npos) break;
      pos = bar + 1;
    }
    out.push_back(std::move(f));
  }
  return out;
}

// The call with NULL at `null_at` (-1: none; -2: every argument).
std::string call_text(const Function& f, int null_at) {
  std::string args;
  for (std::size_t i = 0; i < f.types.size(); ++i) {
    if (i > 0) args += ", ";
    auto plausible = kPlausible.find(f.types[i]);
    const bool null = null_at == -2 || static_cast<int>(i) == null_at || plausible == kPlausible.end();
    args += (null ? std::string("NULL") : plausible->second) + "::" + f.types[i];
  }
  return fmt::format("{} {}({})", f.procedure ? "CALL" : "SELECT", f.name, args);
}

std::string conninfo(const cluster::Node& n) {
  return fmt::format("host=127.0.0.1 port={} user=postgres dbname=rules connect_timeout=5", n.port());
}

// A superuser session inside BEGIN, a bounded statement time (a procedure
// that waits for something that never comes gives up), and its backend pid.
std::unique_ptr<Raw> session(const cluster::Node& n, std::string& pid) {
  std::unique_ptr<Raw> s;
  for (int i = 0; i < 600 && !s; ++i) {  // after a crash the server takes a moment to come back
    try {
      s = std::make_unique<Raw>(conninfo(n));
    } catch (const std::exception&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  if (!s) throw std::runtime_error("the server did not come back");
  s->exec("SET statement_timeout = '3s'");
  pid = s->exec("SELECT pg_backend_pid()").value;
  s->exec("BEGIN");
  return s;
}

// Calls everything; returns the number of calls made.
int sweep(cluster::Node& n) {
  const std::string started = sql_value(n, "SELECT pg_postmaster_start_time()::text");
  std::vector<Function> functions = extension_functions(n);
  EXPECT_GT(functions.size(), 50u) << "pg_depend lists too few functions of the extension";
  std::vector<std::string> skipped;
  std::string pid;
  std::unique_ptr<Raw> s = session(n, pid);
  int calls = 0;
  int savepoint = 0;
  for (const Function& f : functions) {
    if (f.trigger) {
      skipped.push_back(f.signature + " (trigger function)");
      continue;
    }
    std::vector<int> cases;
    for (std::size_t i = 0; i < f.types.size(); ++i) cases.push_back(static_cast<int>(i));
    cases.push_back(-2);  // all NULL (for a function without arguments: the plain call)
    for (int c : cases) {
      const std::string sql = call_text(f, c);
      ++calls;
      s->exec(fmt::format("SAVEPOINT s{}", ++savepoint));
      s->exec(sql);
      Raw::Result after = s->exec(fmt::format("ROLLBACK TO SAVEPOINT s{}", savepoint));
      Raw::Result same = s->exec("SELECT pg_backend_pid()");
      if (!s->alive() || !after.ok || same.value != pid) {
        ADD_FAILURE() << n.site() << ": the session did not survive " << sql << " (" << after.message << ")";
        s = session(n, pid);
      }
    }
  }
  s->exec("ROLLBACK");
  EXPECT_EQ(sql_value(n, "SELECT pg_postmaster_start_time()::text"), started)
      << "the postmaster restarted (a backend crashed) during the sweep at " << n.site();
  std::string list;
  for (const auto& skip : skipped) list += (list.empty() ? "" : ", ") + skip;
  ::testing::Test::RecordProperty("skipped_at_" + n.site(), list);
  return calls;
}

class NullArguments : public ::testing::Test {
protected:
  void SetUp() override {
    if (!cluster::extension_installed()) GTEST_SKIP() << "rulekeeper is not installed";
  }
};

}  // namespace

TEST_F(NullArguments, EveryFunctionSurvivesNullInEveryPosition) {
  cluster::ClusterSet set(rulekeeper::testing::fresh_cluster_options());
  cluster::Node& e3 = set.add({"ipc2", "e3", ports::integration_null_args[0]});
  cluster::Node& e1 = set.add({"e1", "e1", ports::integration_null_args[1]});
  for (cluster::Node* n : {&e3, &e1}) {
    n->init_primary();
    n->create_database();
  }
  // Something to find: a rule with a version in sl and prod at e3, one at e1.
  {
    auto c = e3.connect();
    pqxx::nontransaction tx(*c);
    // A bundle "from e2", signed with this node's key, trusted for e2 (docs/keys.md).
    tx.exec(
        "SELECT rulekeeper.trust_key('e2', public_key, 'test: this node stands in for e2') FROM "
        "rulekeeper.signing_public_key()");
    tx.exec(R"SQL(
      SELECT rulekeeper.import_release(rulekeeper.sign_bundle(b || jsonb_build_object('bundle_sha256', rulekeeper._jcs_sha256(b)))) FROM (
        SELECT jsonb_build_object('format', 'rulekeeper-bundle/1',
          'source', jsonb_build_object('site', 'e2', 'environment', 'e2'),
          'rules', '[{"rule_key": "x", "ruleset": "x"}]'::jsonb,
          'versions', jsonb_build_array(jsonb_build_object('rule_key', 'x', 'label', '1', 'body', '{"rate": 1}'::jsonb,
                        'content_sha256', rulekeeper.content_sha256('{"rate": 1}')))) b) x)SQL");
    tx.exec("SELECT rulekeeper.activate('x', '1', 'sl')");
    tx.exec("SELECT rulekeeper.transition('x', '1', 'sl_validated', 'setup')");
    tx.exec("SELECT rulekeeper.activate('x', '1', 'prod')");
    auto c1 = e1.connect();
    pqxx::nontransaction tx1(*c1);
    tx1.exec("SELECT rulekeeper.create_rule('x', 'x')");
    tx1.exec(R"(SELECT rulekeeper.create_version('x', '{"rate": 1}'))");
  }
  EXPECT_GT(sweep(e3), 100);
  EXPECT_GT(sweep(e1), 100);
}

TEST_F(NullArguments, EveryCFunctionIsStrictOrChecksItsNulls) {
  cluster::ClusterSet set(rulekeeper::testing::fresh_cluster_options());
  cluster::Node& n = set.add({"ipc2", "e3", ports::integration_null_args[0]});
  n.init_primary();
  n.create_database();
  auto c = n.connect();
  pqxx::nontransaction tx(*c);
  pqxx::result r = tx.exec(
      "SELECT p.oid::regprocedure::text FROM pg_proc p "
      "  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e' "
      "  JOIN pg_extension e ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid "
      " WHERE e.extname = 'rulekeeper' AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'c') "
      "   AND NOT p.proisstrict ORDER BY 1");
  std::set<std::string> not_strict;
  for (const auto& row : r) not_strict.insert(row[0].c_str());
  EXPECT_EQ(not_strict, kChecksItsNulls);
}
