// The checksums are an on-the-wire format: an implementation that shares no
// code with rulekeeper (the Python reference of docs/checksums.md, run by
// tests/integration/independent_checksum.py) must reproduce content_sha256 of
// every version and snapshot_checksum('all') byte for byte — for integers of
// 10^21 and more too, which JCS writes in exponent form (1e+21) while jsonb
// prints every digit (issue 15 item 27), fractions, and keys outside the
// Basic Multilingual Plane (sorted by UTF-16 code units).
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
      ('規則-7', '{"a": {"b": {"c": {"d": [[1], [2, [3]]]}}}, "\u0001ctl": "\u001f"}'),
      ('risk/limit', '{"e21": 1e21, "big": 1000000000000000000000000, "neg": -1.5e25, "max": 1.7976931348623157e308,
                       "below": 100000000000000000000, "small": 1e-7, "micro": 0.000001, "two": 2.0, "f": 4.50}'),
      ('ключ', '{"😀": 1, "\uffff": 2, "\ud83d\ude00x": 3, "": 0}')
    ) AS v(k, b))SQL");

  process::RunOptions o;
  o.stdout_file = n.node_dir() / "independent_checksum.out";
  o.timeout = std::chrono::seconds(60);
  std::vector<std::string> argv{"python3", RULEKEEPER_SOURCE_DIR "/tests/integration/independent_checksum.py",
                                n.conninfo()};
  auto r = process::run(argv, o);
  EXPECT_TRUE(r.ok()) << r.describe() << "\n" << process::tail_of_file(o.stdout_file);
}
