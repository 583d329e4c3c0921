// No FATAL without shared_preload_libraries (issue #17 item 3): loading the
// library into a running session — CREATE EXTENSION, LOAD, or a call of one
// of its functions in a server restarted without the preload — is an ERROR
// that says what to add and that a restart is needed, and the session
// survives. Before, _PG_init defined a PGC_POSTMASTER setting and PostgreSQL
// ended the session with `FATAL: cannot create PGC_POSTMASTER variables
// after startup`. A second attempt in the same session errors the same way
// (PostgreSQL lists a library as loaded only once its _PG_init returned), not
// creating the extension or running a function without its settings.
// Ports: integration_upgrade in tests/ports.txt (the last two).
#include <gtest/gtest.h>

#include "sandbox/cluster.hpp"
#include "test_support.hpp"

using namespace rulekeeper;
using namespace rulekeeper::testing;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Runs `sql` on `c`, which must fail with the preload ERROR (not a lost
// connection); then the same connection still answers.
void expect_preload_error(pqxx::connection& c, const std::string& sql) {
  try {
    pqxx::nontransaction tx(c);
    tx.exec(sql);
    ADD_FAILURE() << sql << ": succeeded without shared_preload_libraries";
  } catch (const pqxx::broken_connection& e) {
    ADD_FAILURE() << sql << ": the session ended: " << e.what();
    return;
  } catch (const pqxx::sql_error& e) {
    const std::string m = e.what();
    EXPECT_TRUE(contains(m, "ERROR:")) << sql << ": " << m;
    EXPECT_TRUE(contains(m, "add shared_preload_libraries = 'rulekeeper' to postgresql.conf and restart the server"))
        << sql << ": " << m;
    EXPECT_EQ(e.sqlstate(), "55000") << sql << ": " << m;
  }
  pqxx::nontransaction tx(c);
  EXPECT_EQ(tx.exec("SELECT 1")[0][0].as<int>(), 1) << "after " << sql;
}

}  // namespace

TEST(Preload, CreateExtensionWithoutPreloadIsAnErrorAndTheSessionSurvives) {
  if (!with_extension()) GTEST_SKIP() << "needs the extension";
  cluster::ClusterOptions options = fresh_cluster_options();
  options.with_extension = false;  // no shared_preload_libraries, no CREATE EXTENSION
  cluster::ClusterSet set(options);
  cluster::Node& n = set.add({"ipc2", "e3", ports::integration_upgrade[8]});
  n.init_primary();
  n.create_database();
  ASSERT_EQ(n.query_value("SHOW shared_preload_libraries"), "");

  auto c = n.connect();
  expect_preload_error(*c, "CREATE EXTENSION rulekeeper");
  // The second attempt must not create the extension silently.
  expect_preload_error(*c, "CREATE EXTENSION rulekeeper");
  expect_preload_error(*c, "CREATE EXTENSION rulekeeper VERSION '0.1'");
  expect_preload_error(*c, "LOAD 'rulekeeper'");
  EXPECT_EQ(n.query_value("SELECT count(*) FROM pg_extension WHERE extname = 'rulekeeper'"), "0");
  // A new session: the first load there errors the same way.
  auto c2 = n.connect();
  expect_preload_error(*c2, "LOAD 'rulekeeper'");
  expect_preload_error(*c2, "CREATE EXTENSION rulekeeper");
}

TEST(Preload, ExtensionInAServerRestartedWithoutPreload_EveryCallIsAnError) {
  if (!with_extension()) GTEST_SKIP() << "needs the extension";
  cluster::ClusterSet set(fresh_cluster_options());
  cluster::Node& n = set.add({"ipc2", "e3", ports::integration_upgrade[9]});
  n.init_primary();
  n.create_database();  // with the preload: CREATE EXTENSION works
  n.options().extra_settings.push_back({"shared_preload_libraries", "''"});
  n.write_config();
  n.restart();
  ASSERT_EQ(n.query_value("SHOW shared_preload_libraries"), "");

  auto c = n.connect();
  // A C function: the call loads the library.
  expect_preload_error(*c, "SELECT count(*) FROM rulekeeper.verify_checksums()");
  // Again in the same session: still refused, not run without its settings.
  expect_preload_error(*c, "SELECT count(*) FROM rulekeeper.verify_checksums()");
  // A write fires the C triggers: refused, nothing written.
  expect_preload_error(*c, "SELECT rulekeeper.create_rule('pre.k', 'pre')");
  EXPECT_EQ(n.query_value("SELECT count(*) FROM rulekeeper.rule"), "0");
}
