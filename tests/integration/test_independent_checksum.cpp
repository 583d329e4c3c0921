// The checksums are an on-the-wire format: an implementation that shares no
// code with rulekeeper (tests/integration/independent_checksum.py: Python's
// hashlib and json.dumps, about twenty lines) must reproduce content_sha256 of
// every version and snapshot_checksum('all') byte for byte, for integer,
// string, boolean and nested bodies with keys in the Basic Multilingual Plane.
#include <gtest/gtest.h>

#include "sandbox/cluster.hpp"
#include "pgnode/process.hpp"
#include "test_support.hpp"

using namespace rulekeeper;
namespace ports = rulekeeper::testing::ports;

TEST(IndependentChecksum, PythonReproducesContentAndSnapshotChecksums) {
  if (!rulekeeper::testing::with_extension()) GTEST_SKIP() << "needs the extension";
  cluster::ClusterSet set(rulekeeper::testing::fresh_cluster_options());
  cluster::Node& n = set.add({"e1", "e1", ports::integration_checksum[0]});
  n.init_primary();
  n.create_database();
  n.exec(
      "SELECT rulekeeper.create_rule(k, 'rs') FROM unnest(ARRAY['pricing.discount', 'risk/limit', "
      "'règle.été', 'ключ', '規則-7']) k");
  n.exec(R"SQL(SELECT rulekeeper.create_version(k, b::jsonb) FROM (VALUES
      ('pricing.discount', '{"rate": 15, "name": "summer", "active": true}'),
      ('pricing.discount', '{"tiers": [1, 2, {"z": false, "a": null}], "b": {"y": "ü", "x": -42}}'),
      ('risk/limit', '{"max": 1000000, "currency": "EUR", "note": "line\nbreak \"quoted\" \\ tab\t"}'),
      ('règle.été', '{"é": 1, "e": 2, "z": 3, "É": 4, "ß": "straße", "€": "euro", "中文": "字"}'),
      ('ключ', '{"список": [true, false, 0, -1, 2147483647], "пусто": {}, "массив": []}'),
      ('規則-7', '{"a": {"b": {"c": {"d": [[1], [2, [3]]]}}}, "\u0001ctl": "\u001f"}')
    ) AS v(k, b))SQL");

  process::RunOptions o;
  o.stdout_file = n.node_dir() / "independent_checksum.out";
  o.timeout = std::chrono::seconds(60);
  std::vector<std::string> argv{"python3", RULEKEEPER_SOURCE_DIR "/tests/integration/independent_checksum.py",
                                n.conninfo()};
  auto r = process::run(argv, o);
  EXPECT_TRUE(r.ok()) << r.describe() << "\n" << process::tail_of_file(o.stdout_file);
}
