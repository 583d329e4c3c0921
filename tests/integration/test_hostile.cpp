// A corpus of malformed and hostile bundles (issue #8, item 3) through
// import_release(jsonb) and, for what jsonb cannot even represent (duplicate
// keys, invalid UTF-8, text past the end of a value), import_release_text:
// each gives a clear error (SQLSTATE and message asserted), changes nothing
// (snapshot checksum, journal, release log, epoch, versions), and the server
// stays up — a sentinel connection opened before the first case still
// answers after the last (a crashed backend makes the postmaster end every
// connection), and the server log holds no crash.
// Port: integration_hostile in tests/ports.txt (site ipc2, e3).
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <libpq-fe.h>
#include <gtest/gtest.h>

#include "pipeline.hpp"
#include "raw_connection.hpp"

using rulekeeper::testing::Raw;

using namespace rulekeeper;
namespace ports = rulekeeper::testing::ports;
using rulekeeper::testing::sql_value;
using rulekeeper::testing::state_fingerprint;

namespace {

constexpr int kPort = ports::integration_hostile[0];

// A bundle "from e2" around `rules` and `versions` (each version's
// content_sha256 computed unless given), sealed with its bundle_sha256 and
// signed with the node's key, which the test trusts for e2: what is refused
// below is refused for its own reason, not for want of a signature.
std::string sealed(cluster::Node& n, const std::string& rules, const std::string& versions,
                   const std::string& source = R"({"site": "e2", "environment": "e2"})") {
  return sql_value(
      n,
      "SELECT rulekeeper.sign_bundle(b || jsonb_build_object('bundle_sha256', rulekeeper._jcs_sha256(b)))::text FROM ("
      " SELECT jsonb_build_object('format', 'rulekeeper-bundle/1', 'source', $3::jsonb, 'rules', $1::jsonb,"
      "  'versions', (SELECT coalesce(jsonb_agg(CASE WHEN v ? 'content_sha256' OR jsonb_typeof(v -> 'body') <> "
      "'object' THEN v"
      "     ELSE v || jsonb_build_object('content_sha256', rulekeeper.content_sha256(v -> 'body')) END), '[]')"
      "                 FROM jsonb_array_elements($2::jsonb) v)) b) x",
      rules, versions, source);
}

// The same document re-sealed and re-signed after `edit` (a jsonb expression
// over b).
std::string resealed(cluster::Node& n, const std::string& bundle, const std::string& edit) {
  return sql_value(n,
                   "SELECT rulekeeper.sign_bundle(b || jsonb_build_object('bundle_sha256', rulekeeper._jcs_sha256(b)))"
                   "::text FROM (SELECT " +
                       edit + " AS b FROM (SELECT $1::jsonb - 'bundle_sha256' - 'signature' AS b) i) x",
                   bundle);
}

std::string nested(int depth) {
  std::string s;
  for (int i = 0; i < depth; ++i) s += "{\"a\":";
  s += "1";
  for (int i = 0; i < depth; ++i) s += "}";
  return s;
}

struct Case {
  std::string name;
  bool as_text;  // import_release_text(text) instead of import_release(jsonb)
  std::string payload;
  std::string sqlstate;  // expected
  std::string message;   // expected substring
};

class Hostile : public ::testing::Test {
protected:
  void SetUp() override {
    if (!cluster::extension_installed()) GTEST_SKIP() << "rulekeeper is not installed";
  }
};

}  // namespace

TEST_F(Hostile, MalformedBundlesAreRefusedClearlyAndChangeNothing) {
  cluster::ClusterSet set(rulekeeper::testing::fresh_cluster_options());
  cluster::Node& n = set.add({"ipc2", "e3", kPort});
  n.init_primary();
  n.create_database();
  rulekeeper::testing::trust_own_key(n, "e2");

  const std::string rules = R"([{"rule_key": "hostile.base", "ruleset": "base", "description": ""}])";
  const std::string good = sealed(n, rules, R"([{"rule_key": "hostile.base", "label": "1", "body": {"rate": 1}}])");
  // One release first: "no change" then also means no new release_log row.
  sql_value(n, "SELECT rulekeeper.import_release($1::jsonb)", good);
  const std::string next = sealed(n, rules, R"([{"rule_key": "hostile.base", "label": "2", "body": {"rate": 2}}])");

  std::vector<Case> cases = {
      // Not a bundle at all.
      {"array", false, "[1, 2]", "22023", "a bundle is a JSON object, not an array"},
      {"json null", false, "null", "22023", "a bundle is a JSON object, not null"},
      {"string", false, "\"bundle\"", "22023", "a bundle is a JSON object, not a string"},
      {"empty object", false, "{}", "22023", "unsupported bundle format missing"},
      {"other format", false, resealed(n, next, "b || '{\"format\": \"rulekeeper-bundle/2\"}'"), "22023",
       "unsupported bundle format \"rulekeeper-bundle/2\""},
      {"no bundle_sha256", false, sql_value(n, "SELECT ($1::jsonb - 'bundle_sha256')::text", next), "22023",
       "the bundle has no bundle_sha256"},
      {"tampered after export", false,
       sql_value(n, "SELECT jsonb_set($1::jsonb, '{versions,0,body,rate}', '3')::text", next), "XX001",
       "bundle checksum mismatch"},
      // Wrong types (re-sealed, so that the checksum is right and the shape is what is refused).
      {"versions an object", false, resealed(n, next, "jsonb_set(b, '{versions}', '{}')"), "22023",
       "a bundle has an object \"source\" and arrays \"rules\" and \"versions\""},
      {"rules a string", false, resealed(n, next, "jsonb_set(b, '{rules}', '\"hostile.base\"')"), "22023",
       "arrays \"rules\" and \"versions\""},
      {"source a string", false, resealed(n, next, "jsonb_set(b, '{source}', '\"e2\"')"), "22023",
       "an object \"source\""},
      {"body a string", false, resealed(n, next, "jsonb_set(b, '{versions,0,body}', '\"rate=2\"')"), "22023",
       "every bundle version is an object with string rule_key, label, content_sha256 and an object body"},
      {"label a number", false, resealed(n, next, "jsonb_set(b, '{versions,0,label}', '2')"), "22023",
       "every bundle version is an object"},
      {"rule_key null", false, resealed(n, next, "jsonb_set(b, '{versions,0,rule_key}', 'null')"), "22023",
       "every bundle version is an object"},
      {"version a number", false, resealed(n, next, "jsonb_set(b, '{versions,0}', '7')"), "22023",
       "every bundle version is an object"},
      {"content_sha256 wrong", false,
       resealed(n, next, "jsonb_set(b, '{versions,0,content_sha256}', to_jsonb(repeat('0', 64)))"), "XX001",
       "content_sha256 0000000000000000000000000000000000000000000000000000000000000000 does not match its body"},
      // Numbers JCS cannot write exactly (the bundle checksum itself is refused).
      {"integer beyond 2^53", false,
       R"({"format": "rulekeeper-bundle/1", "source": {"site": "e2", "environment": "e2"}, "rules": [],
           "versions": [{"rule_key": "hostile.base", "label": "2", "body": {"n": 9007199254740993}, "content_sha256": ""}],
           "bundle_sha256": ""})",
       "22003", "number 9007199254740993 cannot be represented exactly as an IEEE-754 double"},
      {"1e400", false, R"({"format": "rulekeeper-bundle/1", "bundle_sha256": "", "x": 1e400})", "22003",
       "cannot be represented exactly as an IEEE-754 double"},
      {"0.1 with 34 digits", false,
       R"({"format": "rulekeeper-bundle/1", "bundle_sha256": "", "x": 0.1000000000000000055511151231257827})", "22003",
       "number 0.1000000000000000055511151231257827 cannot be represented exactly"},
      // Deep nesting: refused past 256 levels, by jsonb input or by the canonical form.
      {"body nested 1000 deep", false,
       R"({"format": "rulekeeper-bundle/1", "bundle_sha256": "", "versions": [{"body": )" + nested(1000) + "}]}",
       "22P02", "nesting deeper than 256 levels"},
      {"text nested 100000 deep", true, std::string(100000, '[') + std::string(100000, ']'), "22P02",
       "nesting deeper than 256 levels"},
      // From the wrong environment, or none.
      {"from e1", false,
       sealed(n, rules, R"([{"rule_key": "hostile.base", "label": "2", "body": {"rate": 2}}])",
              R"({"site": "e1", "environment": "e1"})"),
       "0A000", "a bundle from e1 cannot be imported at e3 (site ipc2)"},
      {"from e3", false,
       sealed(n, rules, R"([{"rule_key": "hostile.base", "label": "2", "body": {"rate": 2}}])",
              R"({"site": "ipc1", "environment": "e3"})"),
       "0A000", "a bundle from e3 cannot be imported at e3"},
      {"no environment", false,
       sealed(n, rules, R"([{"rule_key": "hostile.base", "label": "2", "body": {"rate": 2}}])", R"({"site": "e2"})"),
       "0A000", "a bundle from (no environment) cannot be imported at e3"},
      // Labels and rules that would rewrite history.
      {"hotfix label", false,
       sealed(n, rules, R"([{"rule_key": "hostile.base", "label": "1.1", "body": {"rate": 9}}])"), "22023",
       "version 1.1 of rule \"hostile.base\" in the bundle is not a planned version label"},
      {"label 0", false, sealed(n, rules, R"([{"rule_key": "hostile.base", "label": "0", "body": {"rate": 9}}])"),
       "22023", "is not a planned version label"},
      {"label 02", false, sealed(n, rules, R"([{"rule_key": "hostile.base", "label": "02", "body": {"rate": 9}}])"),
       "22023", "is not a planned version label"},
      {"label 10 digits", false,
       sealed(n, rules, R"([{"rule_key": "hostile.base", "label": "9999999999", "body": {"rate": 9}}])"), "22023",
       "is not a planned version label"},
      {"version without its rule", false,
       sealed(n, "[]", R"([{"rule_key": "hostile.orphan", "label": "1", "body": {}}])"), "22023",
       "the bundle carries versions of rule \"hostile.orphan\" but not the rule itself"},
      {"other ruleset", false,
       sealed(n, R"([{"rule_key": "hostile.base", "ruleset": "other"}])",
              R"([{"rule_key": "hostile.base", "label": "2", "body": {"rate": 2}}])"),
       "23505", "rule \"hostile.base\" is in ruleset base here but other in the bundle"},
      {"label 1 with other content", false,
       sealed(n, rules, R"([{"rule_key": "hostile.base", "label": "1", "body": {"rate": 100}}])"), "23505",
       "version 1 of rule \"hostile.base\" exists here with different content"},
      {"empty rule_key", false,
       sealed(n, R"([{"rule_key": "", "ruleset": "base"}])", R"([{"rule_key": "", "label": "1", "body": {}}])"),
       "22023", "rule #1 of the bundle is not an object with non-empty string rule_key and ruleset"},
      {"rule_key of 201 characters", false,
       sealed(n, fmt::format(R"([{{"rule_key": "{0}", "ruleset": "base"}}])", std::string(201, 'k')),
              fmt::format(R"([{{"rule_key": "{0}", "label": "1", "body": {{}}}}])", std::string(201, 'k'))),
       "23514", "rule_rule_key_check"},
      {"empty ruleset", false,
       sealed(n, R"([{"rule_key": "hostile.new", "ruleset": ""}])",
              R"([{"rule_key": "hostile.new", "label": "1", "body": {}}])"),
       "22023", "rule #1 of the bundle is not an object with non-empty string rule_key and ruleset"},
      {"two bodies for one label", false,
       sealed(n, rules, R"([{"rule_key": "hostile.base", "label": "2", "body": {"rate": 2}},
                            {"rule_key": "hostile.base", "label": "2", "body": {"rate": 3}}])"),
       "22023", "version 2 of rule \"hostile.base\" in the bundle appears twice"},
      // What only text can carry.
      {"duplicate top-level key", true,
       R"({"format": "rulekeeper-bundle/1", "format": "rulekeeper-bundle/1", "bundle_sha256": ""})", "22P02",
       "duplicate object key \"format\""},
      {"duplicate key in a body", true,
       sql_value(n, "SELECT replace($1, '\"rate\": 2', '\"rate\": 2, \"rate\": 3')", next), "22P02",
       "duplicate object key \"rate\""},
      // Cut between two members (no string of these bundles holds a comma).
      {"truncated", true, next.substr(0, next.find(',', next.size() / 2)), "22P02", "unexpected end of input"},
      {"trailing garbage", true, next + " {}", "22P02", "after the end of the JSON value"},
      {"empty text", true, "", "22P02", "unexpected end of input where a value was expected"},
      {"lone surrogate escape", true, R"({"a": "\ud800"})", "22P02", "high surrogate"},
      // \u0000 is valid JSON that jsonb cannot hold as text.
      {"NUL escape", true, R"({"format": "rulekeeper-bundle/1", "x": "a\u0000b"})", "22P05",
       "\\u0000 cannot be converted to text"},
      {"invalid UTF-8", true, "{\"format\": \"rulekeeper-bundle/1\", \"x\": \"\xff\xfe\"}", "22021",
       "invalid byte sequence for encoding \"UTF8\": 0xff"},
      {"overlong UTF-8 (NUL as C0 80)", true, "{\"x\": \"\xc0\x80\"}", "22021", "invalid byte sequence for encoding"},
      {"UTF-8 surrogate (ED A0 80)", true, "{\"x\": \"\xed\xa0\x80\"}", "22021", "invalid byte sequence for encoding"},
  };
  // A 100 MB body that ends early: read to its end, then refused.
  {
    std::string big = next.substr(0, next.find("\"rate\"")) + "\"blob\": \"" + std::string(100u << 20, 'x');
    cases.push_back(
        {"100 MB body, truncated", true, std::move(big), "22P02", "unterminated string starting at byte offset"});
  }

  Raw sentinel(n.conninfo());
  const std::string sentinel_pid = sentinel.exec("SELECT pg_backend_pid()").value;
  const std::string before = state_fingerprint(n);
  Raw c(n.conninfo());
  for (const Case& k : cases) {
    SCOPED_TRACE(k.name);
    Raw::Result r = k.as_text ? c.exec("SELECT rulekeeper.import_release_text($1)", &k.payload)
                              : c.exec("SELECT rulekeeper.import_release($1::jsonb)", &k.payload);
    ASSERT_TRUE(c.alive()) << "the connection broke (a backend crashed?): " << r.message;
    if (r.ok) {
      ADD_FAILURE() << "accepted: " << k.payload.substr(0, 300);
      continue;
    }
    EXPECT_EQ(r.sqlstate, k.sqlstate) << r.message;
    EXPECT_NE(r.message.find(k.message), std::string::npos) << r.message;
    EXPECT_EQ(state_fingerprint(n), before) << "changed something";
  }
  // The good bundle still imports afterwards (nothing is stuck: no lock,
  // no half state), and its import is the only change.
  EXPECT_EQ(sql_value(n, "SELECT rulekeeper.import_release($1::jsonb) ->> 'imported'", next), "1");
  EXPECT_EQ(sql_value(n, "SELECT count(*) FROM rulekeeper.verify_checksums()"), "0");
  // The server never restarted: the sentinel backend is the same one.
  EXPECT_EQ(sentinel.exec("SELECT pg_backend_pid()").value, sentinel_pid);
  std::ifstream log(n.log_file());
  std::stringstream text;
  text << log.rdbuf();
  for (const char* crash : {"terminated by signal", "was terminated by exception",
                            "terminating any other active server processes", "uncaught exception"})
    EXPECT_EQ(text.str().find(crash), std::string::npos) << crash;
}
