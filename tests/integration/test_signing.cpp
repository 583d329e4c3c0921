// Bundles are authenticated (issue #13, class 3; docs/keys.md): a releaser
// who hand-builds a release or changes bundle — seals it himself, signs it
// with his own key, alters a signed one and reseals it, reuses a key trusted
// for another environment, strips the signature, or uses a key that was
// revoked — is refused at import with the reason named, as the releaser, on
// real servers, and nothing is written. The normal release through rulectl
// still works with no new step; a key file others may read, a site without a
// key and rulekeeper.allow_unsigned_bundles behave as documented.
// Ports: integration_signing in tests/ports.txt (four per test).
#include <sys/stat.h>

#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pipeline.hpp"
#include "raw_connection.hpp"
#include "rulekeeper/bundle.hpp"
#include "rulekeeper/checksum.hpp"
#include "rulekeeper/json.hpp"
#include "rulekeeper/signature.hpp"

using namespace rulekeeper;
using rulekeeper::testing::Pipeline;
using rulekeeper::testing::Raw;
using rulekeeper::testing::sql_value;
using rulekeeper::testing::state_fingerprint;
namespace ports = rulekeeper::testing::ports;
using json = nlohmann::json;

namespace {

constexpr int kPorts = ports::integration_signing[0];

const Sha256& sha() { return openssl_sha256(); }

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Sealed as export_release/export_changes seal (contract.md "Bundle
// signatures": the checksum leaves out bundle_sha256 and signature).
json seal(const json& bundle) { return json::parse(seal_bundle(parse_json(bundle.dump()), sha())); }

json unsealed(json bundle) {
  bundle.erase("bundle_sha256");
  bundle.erase("signature");
  return bundle;
}

// The signature block a site with key `pem` would add (what anyone holding a
// key of his own can make).
json signed_with(json sealed, const std::string& pem, const std::string& site, const std::string& environment) {
  const SigningKey key(pem);
  const std::string message =
      signing_message(sealed["format"].get<std::string>(), sealed["bundle_sha256"].get<std::string>());
  sealed["signature"] = {{"algorithm", "ed25519"},
                         {"key_id", key_id_of(sha(), key.raw_public_key())},
                         {"site", site},
                         {"environment", environment},
                         {"value", hex_encode(key.sign(message))}};
  return sealed;
}

std::string conninfo_as(const cluster::Node& n, const std::string& login) {
  return fmt::format("host=127.0.0.1 port={} user={} dbname=rules connect_timeout=5", n.port(), login);
}

// A releaser and an admin login (at a primary; a standby gets them by
// replication).
void create_logins(const cluster::Node& n) {
  sql_value(n, "CREATE ROLE rk_releaser LOGIN IN ROLE rulekeeper_releaser");
  sql_value(n, "CREATE ROLE rk_admin LOGIN IN ROLE rulekeeper_admin");
}

struct Case {
  std::string name;
  std::string sql;  // $1 is the payload
  std::string payload;
  std::string sqlstate;
  std::string message;
};

// Each case as the releaser: refused with its SQLSTATE and message, and
// nothing changed at `n`.
void expect_refused(const cluster::Node& n, const std::vector<Case>& cases) {
  const std::string before = state_fingerprint(n);
  Raw c(conninfo_as(n, "rk_releaser"));
  for (const Case& k : cases) {
    SCOPED_TRACE(k.name);
    Raw::Result r = c.exec(k.sql, &k.payload);
    ASSERT_TRUE(c.alive()) << r.message;
    EXPECT_FALSE(r.ok) << "accepted: " << r.value.substr(0, 400);
    EXPECT_EQ(r.sqlstate, k.sqlstate) << r.message;
    EXPECT_TRUE(contains(r.message, k.message)) << r.message;
    EXPECT_EQ(state_fingerprint(n), before) << "changed something";
  }
}

// Waits until `setting` shows `value` at `n` (a reload is applied between
// statements, not at once: docs/design/postgres-traps.md "Per-node settings").
void wait_setting(const cluster::Node& n, const std::string& setting, const std::string& value) {
  for (int i = 0; i < 500; ++i) {
    if (sql_value(n, "SELECT current_setting($1)", setting) == value) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  FAIL() << setting << " never became '" << value << "' at " << n.site();
}

void set_and_reload(const cluster::Node& n, const std::string& setting, const std::string& value) {
  sql_value(n, fmt::format("ALTER SYSTEM SET {} = '{}'", setting, value));
  sql_value(n, "SELECT pg_reload_conf()");
  wait_setting(n, setting, value);
}

class Signing : public ::testing::Test {
protected:
  void SetUp() override {
    if (!cluster::extension_installed()) GTEST_SKIP() << "rulekeeper is not installed";
  }
};

}  // namespace

TEST_F(Signing, ReleaseBundleNotSignedByAKeyTrustedForItsSourceIsRefusedWithTheReason) {
  Pipeline p(kPorts, /*with_ipc1=*/false);
  cluster::Node& ipc2 = *p.ipc2;
  create_logins(ipc2);
  p.create_rule("pricing");
  p.create_version("pricing", R"({"rate": 1})");
  p.ok({"release", "--from", "e1", "--to", "e2"});
  p.ok({"validate", "--site", "e2", "--rule", "pricing", "--version", "1", "--result", "passed", "--reason", "green"});
  const json genuine = json::parse(sql_value(*p.e2, "SELECT rulekeeper.export_release()::text"));
  const std::string e2_key = sql_value(*p.e2, "SELECT key_id FROM rulekeeper.signing_public_key()");
  ASSERT_TRUE(genuine.contains("signature")) << genuine.dump();
  EXPECT_EQ(genuine["signature"]["key_id"], e2_key);
  EXPECT_EQ(genuine["signature"]["environment"], "e2");

  // A never-authored rule "from e2", sealed and signed by the releaser's own key.
  const std::string mallory = SigningKey::generate_pem();
  const std::string mallory_id = key_id_of(sha(), SigningKey(mallory).raw_public_key());
  const json forged = signed_with(seal({{"format", "rulekeeper-bundle/1"},
                                        {"source", {{"site", "e2"}, {"environment", "e2"}}},
                                        {"rules", {{{"rule_key", "evil"}, {"ruleset", "evil"}, {"description", ""}}}},
                                        {"versions",
                                         {{{"rule_key", "evil"},
                                           {"label", "1"},
                                           {"body", {{"rate", 0}}},
                                           {"content_sha256", content_sha256(sha(), R"({"rate":0})")}}}}}),
                                  mallory, "e2", "e2");
  // The genuine bundle with one version altered after signing (its
  // content_sha256 and the bundle checksum recomputed), e2's signature kept.
  json altered = unsealed(genuine);
  altered["versions"][0]["body"] = {{"rate", 0}};
  altered["versions"][0]["content_sha256"] = content_sha256(sha(), R"({"rate":0})");
  altered = seal(altered);
  altered["signature"] = genuine["signature"];
  // Signed with a key ipc2 trusts — for e3 (its own), not for e2.
  const std::string other_environment =
      sql_value(ipc2, "SELECT rulekeeper.sign_bundle($1::jsonb)::text", genuine.dump());
  json unsigned_bundle = genuine;
  unsigned_bundle.erase("signature");

  const std::string jsonb = "SELECT rulekeeper.import_release($1::jsonb)::text";
  const std::string text = "SELECT rulekeeper.import_release_text($1)::text";
  expect_refused(
      ipc2, {
                {"forged, signed by an untrusted key", jsonb, forged.dump(), "28000",
                 "release bundle refused: it is signed by key " + mallory_id + ", which is not trusted here"},
                {"forged, as text", text, forged.dump(), "28000", "which is not trusted here"},
                {"altered after signing, resealed", jsonb, altered.dump(), "XX001",
                 "release bundle refused: bad signature: the bundle was changed after key " + e2_key + " signed it"},
                {"altered after signing, as text", text, altered.dump(), "XX001", "bad signature"},
                {"signed by a key trusted for another environment", jsonb, other_environment, "28000",
                 "which is trusted here for environment e3, not for e2"},
                {"unsigned", jsonb, unsigned_bundle.dump(), "28000",
                 "unsigned release bundle refused: it must be signed by a key trusted here for environment e2"},
            });
  {
    json malformed = genuine;
    malformed["signature"] = "e2";
    expect_refused(ipc2, {{"malformed signature", jsonb, malformed.dump(), "28000", "signature block is malformed"}});
  }

  // The genuine bundle imports, as the releaser, and the report names the key.
  {
    Raw c(conninfo_as(ipc2, "rk_releaser"));
    const std::string b = genuine.dump();
    Raw::Result r = c.exec(jsonb, &b);
    ASSERT_TRUE(r.ok) << r.message;
    const json report = json::parse(r.value);
    EXPECT_EQ(report["imported"], 1);
    EXPECT_EQ(report["signature"]["verified"], true);
    EXPECT_EQ(report["signature"]["key_id"], e2_key);
  }
  // A releaser cannot trust a key of his own.
  {
    Raw c(conninfo_as(ipc2, "rk_releaser"));
    const std::string pem = SigningKey(mallory).public_key_pem();
    Raw::Result r = c.exec("SELECT rulekeeper.trust_key('e2', $1, 'mine')", &pem);
    EXPECT_EQ(r.sqlstate, "42501") << r.message;
  }

  // Revoked by an admin: the next release from e2 is refused through
  // rulectl (exit 3, the reason named) and e2 keeps its version.
  p.create_version("pricing", R"({"rate": 2})");
  p.ok({"release", "--from", "e1", "--to", "e2"});
  p.ok({"validate", "--site", "e2", "--rule", "pricing", "--version", "2", "--result", "passed", "--reason", "green"});
  {
    Raw admin(conninfo_as(ipc2, "rk_admin"));
    Raw::Result r = admin.exec("SELECT rulekeeper.revoke_key('" + e2_key + "', 'e2 key leaked')::text");
    ASSERT_TRUE(r.ok) << r.message;
    EXPECT_EQ(json::parse(r.value)["environments"], json::array({"e2"}));
  }
  const std::string before = state_fingerprint(ipc2);
  auto refused = p.rulectl({"release", "--yes", "--from", "e2", "--to", "e3"});
  EXPECT_EQ(refused.exit_code, 3) << refused.out << refused.err;
  EXPECT_TRUE(contains(refused.err, "release bundle refused: it is signed by key " + e2_key + ", which was revoked at"))
      << refused.err;
  EXPECT_TRUE(contains(refused.err, "e2 key leaked")) << refused.err;
  EXPECT_EQ(state_fingerprint(ipc2), before);
  EXPECT_EQ(sql_value(*p.e2, "SELECT qualification FROM rulekeeper.rule_version WHERE label = '2'"), "test_passed");
  // The revocation is journaled, and a revoked key is never trusted again.
  EXPECT_EQ(sql_value(ipc2, "SELECT count(*) FROM rulekeeper.journal WHERE kind = 'key_revoked'"), "1");
  {
    Raw admin(conninfo_as(ipc2, "rk_admin"));
    const std::string pem = sql_value(*p.e2, "SELECT public_key FROM rulekeeper.signing_public_key()");
    Raw::Result r = admin.exec("SELECT rulekeeper.trust_key('e2', $1, 'again')", &pem);
    EXPECT_EQ(r.sqlstate, "55000") << r.message;
    EXPECT_TRUE(contains(r.message, "a revoked key is never trusted again")) << r.message;
  }
}

TEST_F(Signing, ChangesBundleNotSignedByAnE3KeyIsRefusedWithTheReason) {
  Pipeline p(kPorts + 4);
  cluster::Node& ipc2 = *p.ipc2;
  cluster::Node& ipc1 = *p.ipc1;
  create_logins(ipc2);
  p.create_rule("pricing");
  p.create_version("pricing", R"({"rate": 1})");
  p.ship();
  ipc1.wait_replayed(ipc2);

  // What reconcile carries: the standby's changes, signed with its copy of
  // E3's key (read-only: it signs on a hot standby too).
  const json genuine = json::parse(sql_value(ipc1, "SELECT rulekeeper.export_changes('{}')::text"));
  const std::string e3_key = sql_value(ipc2, "SELECT key_id FROM rulekeeper.signing_public_key()");
  ASSERT_TRUE(genuine.contains("signature")) << genuine.dump().substr(0, 400);
  EXPECT_EQ(genuine["signature"]["key_id"], e3_key);
  EXPECT_EQ(genuine["signature"]["site"], "ipc1");

  // A journal entry nobody wrote, with the rule it makes.
  json forged_content = unsealed(genuine);
  forged_content["changes"].push_back({{"change_id", "00000000-0000-4000-8000-0000000000e1"},
                                       {"origin_site", "ipc9"},
                                       {"origin_incarnation", 1},
                                       {"origin_seq", 1},
                                       {"kind", "rule"},
                                       {"rule_key", "evil"},
                                       {"label", nullptr},
                                       {"payload", json::object()},
                                       {"actor", "nobody"},
                                       {"recorded_at", "2026-01-01T00:00:00Z"},
                                       {"row", {{"rule_key", "evil"}, {"ruleset", "evil"}, {"description", ""}}}});
  const std::string mallory = SigningKey::generate_pem();
  const json forged = signed_with(seal(forged_content), mallory, "ipc1", "e3");
  json altered = seal(forged_content);
  altered["signature"] = genuine["signature"];
  // Signed by e2's key: trusted at ipc2, for release bundles from e2 only.
  const std::string by_e2 = sql_value(*p.e2, "SELECT rulekeeper.sign_bundle($1::jsonb)::text", genuine.dump());
  json unsigned_bundle = genuine;
  unsigned_bundle.erase("signature");

  const std::string import = "SELECT rulekeeper.import_changes($1::jsonb)::text";
  const std::string dry = "SELECT rulekeeper.import_changes($1::jsonb, dry_run => true)::text";
  expect_refused(ipc2,
                 {
                     {"forged, signed by an untrusted key", import, forged.dump(), "28000",
                      "changes bundle refused: it is signed by key " +
                          key_id_of(sha(), SigningKey(mallory).raw_public_key()) + ", which is not trusted here"},
                     {"altered after signing, resealed", import, altered.dump(), "XX001",
                      "changes bundle refused: bad signature: the bundle was changed after key " + e3_key},
                     {"signed by e2's key", import, by_e2, "28000",
                      "which is trusted here for environment e2, not for e3"},
                     {"unsigned", import, unsigned_bundle.dump(), "28000",
                      "unsigned changes bundle refused: it must be signed by a key trusted here for environment e3"},
                     {"unsigned, dry run", dry, unsigned_bundle.dump(), "28000", "unsigned changes bundle refused"},
                 });
  EXPECT_EQ(sql_value(ipc2, "SELECT count(*) FROM rulekeeper.rule WHERE rule_key = 'evil'"), "0");

  // The genuine one is accepted (everything in it is already here).
  {
    Raw c(conninfo_as(ipc2, "rk_releaser"));
    const std::string b = genuine.dump();
    Raw::Result r = c.exec(import, &b);
    ASSERT_TRUE(r.ok) << r.message;
    const json report = json::parse(r.value);
    EXPECT_EQ(report["records"], 0);
    EXPECT_EQ(report["signature"]["verified"], true);
    EXPECT_EQ(report["signature"]["environment"], "e3");
  }
  // Revoked: the same genuine bundle is refused from then on.
  sql_value(ipc2, "SELECT rulekeeper.revoke_key($1, 'rotated')", e3_key);
  expect_refused(ipc2, {{"revoked key", import, genuine.dump(), "28000",
                         "changes bundle refused: it is signed by key " + e3_key + ", which was revoked at"}});
}

TEST_F(Signing, KeyFileModeASiteWithoutKeyAndAllowUnsigned) {
  Pipeline p(kPorts + 8, /*with_ipc1=*/false);
  p.create_rule("pricing");
  p.create_version("pricing", R"({"rate": 1})");

  // A key file the group may read is refused, as PostgreSQL refuses such an
  // ssl_key_file: nothing leaves e1.
  const std::string key_file = p.e1->signing_key_file().string();
  ASSERT_EQ(chmod(key_file.c_str(), 0640), 0);
  auto exposed = p.rulectl({"release", "--from", "e1", "--to", "e2"});
  EXPECT_NE(exposed.exit_code, 0);
  EXPECT_TRUE(contains(exposed.err, "signing key file \"" + key_file + "\" has group or world access")) << exposed.err;
  EXPECT_EQ(sql_value(*p.e2, "SELECT count(*) FROM rulekeeper.rule_version"), "0");
  ASSERT_EQ(chmod(key_file.c_str(), 0600), 0);

  // No key at e1: the bundle leaves unsigned (WARNING) and e2 refuses it.
  set_and_reload(*p.e1, "rulekeeper.signing_key_file", "");
  auto unsigned_release = p.rulectl({"release", "--from", "e1", "--to", "e2"});
  EXPECT_EQ(unsigned_release.exit_code, 3) << unsigned_release.out << unsigned_release.err;
  EXPECT_TRUE(contains(unsigned_release.err, "unsigned release bundle refused")) << unsigned_release.err;
  EXPECT_EQ(sql_value(*p.e1, "SELECT qualification FROM rulekeeper.rule_version WHERE label = '1'"), "draft");

  // rulekeeper.allow_unsigned_bundles at e2: imported, loudly — in the report
  // and in rulectl's output.
  set_and_reload(*p.e2, "rulekeeper.allow_unsigned_bundles", "on");
  auto allowed = p.rulectl({"release", "--from", "e1", "--to", "e2", "--json"});
  ASSERT_EQ(allowed.exit_code, 0) << allowed.out << allowed.err;
  const json doc = json::parse(allowed.out);
  EXPECT_EQ(doc["report"]["imported"], 1);
  EXPECT_EQ(doc["report"]["signature"]["unsigned"], true);
  EXPECT_TRUE(contains(doc["report"]["signature"]["warning"].get<std::string>(), "UNSIGNED release bundle imported"))
      << doc.dump();
  p.create_version("pricing", R"({"rate": 2})");
  auto human = p.rulectl({"release", "--from", "e1", "--to", "e2"});
  ASSERT_EQ(human.exit_code, 0) << human.out << human.err;
  EXPECT_TRUE(contains(human.out + human.err, "UNSIGNED release bundle imported")) << human.out << human.err;

  // `rulectl keys`: a site's key, trusting it elsewhere (journaled), listing
  // and revoking.
  auto show = p.rulectl({"keys", "show", "--site", "e2", "--json"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  const json e2_key = json::parse(show.out);
  EXPECT_EQ(e2_key["environment"], "e2");
  EXPECT_TRUE(contains(e2_key["public_key"].get<std::string>(), "-----BEGIN PUBLIC KEY-----"));
  auto no_key = p.rulectl({"keys", "show", "--site", "e1"});
  EXPECT_EQ(no_key.exit_code, 3) << no_key.err;
  EXPECT_TRUE(contains(no_key.err, "site e1 has no signing key")) << no_key.err;
  auto trust = p.rulectl({"keys", "trust", "--site", "ipc2", "--from", "e2", "--reason", "again", "--json"});
  ASSERT_EQ(trust.exit_code, 0) << trust.err;
  EXPECT_EQ(json::parse(trust.out)["result"]["already_trusted"], true);  // the pipeline trusted it
  auto usage = p.rulectl({"keys", "trust", "--site", "ipc2", "--reason", "x"});
  EXPECT_EQ(usage.exit_code, 2) << usage.err;
  auto revoke = p.rulectl({"keys", "revoke", "--site", "ipc2", "--key-id", e2_key["key_id"].get<std::string>(),
                           "--reason", "rotation", "--json"});
  ASSERT_EQ(revoke.exit_code, 0) << revoke.err;
  auto list = p.rulectl({"keys", "list", "--site", "ipc2", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  bool found = false;
  const json listed = json::parse(list.out);
  for (const auto& k : listed["keys"])
    if (k["key_id"] == e2_key["key_id"]) {
      found = true;
      EXPECT_EQ(k["revoke_reason"], "rotation");
    }
  EXPECT_TRUE(found) << list.out;
  auto again = p.rulectl({"keys", "trust", "--site", "ipc2", "--from", "e2", "--reason", "back"});
  EXPECT_EQ(again.exit_code, 3) << again.err;
  EXPECT_TRUE(contains(again.err, "a revoked key is never trusted again")) << again.err;
}
