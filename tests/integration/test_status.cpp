// `rulectl status` against real sites: one JSON document with every site,
// exit 4 when one is unreachable, 0 when all answer; name mismatch warnings.
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sandbox/cluster.hpp"
#include "test_support.hpp"

using namespace rulekeeper;
namespace ports = rulekeeper::testing::ports;
using rulekeeper::testing::run_rulectl;

namespace {

std::string site_toml(const std::string& name, const std::string& env, int port) {
  return fmt::format(
      "[sites.{}]\nconninfo = \"host=127.0.0.1 port={} user=postgres dbname=rules\"\n"
      "environment = \"{}\"\n\n",
      name, port, env);
}

std::string write_config(const cluster::ClusterSet& set, const std::string& text) {
  auto path = set.options().base / "rulectl.toml";
  std::ofstream(path) << text;
  return path.string();
}

struct TwoSites {
  cluster::ClusterSet set;
  cluster::Node& e1;
  cluster::Node& e2;
  TwoSites()
      : set(rulekeeper::testing::fresh_cluster_options()),
        e1(set.add({"e1", "e1", ports::integration_status[0]})),
        e2(set.add({"e2", "e2", ports::integration_status[1]})) {
    for (cluster::Node* n : {&e1, &e2}) {
      n->init_primary();
      n->create_database();
    }
  }
};

}  // namespace

TEST(Status, OneUnreachableSiteStillReportsAllAndExits4) {
  TwoSites c;
  // Nothing listens on the last port of integration_status (tests/ports.txt).
  std::string cfg = write_config(c.set, site_toml("e1", "e1", ports::integration_status[0]) +
                                            site_toml("e2", "e2", ports::integration_status[1]) +
                                            site_toml("ipc2", "e3", ports::integration_status.last));
  auto r = run_rulectl({"--config", cfg, "status", "--json"});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  nlohmann::json doc = nlohmann::json::parse(r.out);  // exactly one document, or this throws
  ASSERT_EQ(doc["sites"].size(), 3u) << r.out;
  std::map<std::string, nlohmann::json> by_name;
  for (const auto& s : doc["sites"]) by_name[s["site"].get<std::string>()] = s;
  EXPECT_TRUE(by_name["e1"]["reachable"].get<bool>());
  EXPECT_EQ(by_name["e1"]["role"], "primary");
  EXPECT_EQ(by_name["e1"]["reported_site"], "e1");
  EXPECT_EQ(by_name["e2"]["reported_environment"], "e2");
  EXPECT_FALSE(by_name["e2"]["server_version"].is_null());
  EXPECT_FALSE(by_name["ipc2"]["reachable"].get<bool>());
  EXPECT_EQ(by_name["ipc2"]["role"], "unreachable");
  EXPECT_FALSE(by_name["ipc2"]["error"].is_null());
  if (rulekeeper::testing::with_extension()) {
    EXPECT_FALSE(by_name["e1"]["extension_version"].is_null());
    EXPECT_EQ(by_name["e1"]["timeline"], 1);
    EXPECT_EQ(by_name["e1"]["timeline_source"], "rulekeeper.timeline()");
    EXPECT_TRUE(by_name["e1"]["snapshot_checksum"].is_string());
    EXPECT_TRUE(by_name["e1"]["version_vector"].is_object());
    EXPECT_TRUE(by_name["e1"]["notes"].empty()) << by_name["e1"]["notes"].dump();
  } else {
    EXPECT_TRUE(by_name["e1"]["extension_version"].is_null());
  }
  EXPECT_NE(r.err.find("not every site is reachable"), std::string::npos) << r.err;
}

TEST(Status, AllReachableExits0AndPrintsATable) {
  TwoSites c;
  std::string cfg = write_config(c.set, site_toml("e1", "e1", ports::integration_status[0]) +
                                            site_toml("e2", "e2", ports::integration_status[1]));
  auto r = run_rulectl({"--config", cfg, "status"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("site"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("primary"), std::string::npos) << r.out;
  if (!rulekeeper::testing::with_extension()) {
    EXPECT_NE(r.out.find("missing"), std::string::npos) << r.out;
  }

  auto j = run_rulectl({"--config", cfg, "--json", "status"});
  EXPECT_EQ(j.exit_code, 0) << j.err;
  EXPECT_EQ(nlohmann::json::parse(j.out)["sites"].size(), 2u);
}

TEST(Status, WarnsWhenTheServerNamesItselfDifferently) {
  TwoSites c;
  // The toml calls e2's server "e2x".
  std::string cfg = write_config(c.set, site_toml("e1", "e1", ports::integration_status[0]) +
                                            site_toml("e2x", "e2", ports::integration_status[1]));
  auto r = run_rulectl({"--config", cfg, "status", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: site e2x: the server says rulekeeper.site = 'e2'"), std::string::npos) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["warnings"].size(), 1u);
}

TEST(Status, MissingExtensionIsReportedInItsRow) {
  auto options = rulekeeper::testing::fresh_cluster_options();
  options.with_extension = false;  // a plain cluster, whatever is installed
  cluster::ClusterSet set(options);
  cluster::Node& e1 = set.add({"e1", "e1", ports::integration_status[2]});
  e1.init_primary();
  e1.create_database();
  std::string cfg = write_config(set, site_toml("e1", "e1", ports::integration_status[2]));

  auto j = run_rulectl({"--config", cfg, "--json", "status"});
  EXPECT_EQ(j.exit_code, 0) << j.err;
  auto site = nlohmann::json::parse(j.out)["sites"][0];
  EXPECT_TRUE(site["extension_version"].is_null());
  EXPECT_EQ(site["role"], "primary");
  EXPECT_NE(site["notes"].dump().find("extension rulekeeper is not installed"), std::string::npos) << site.dump();

  auto h = run_rulectl({"--config", cfg, "status"});
  EXPECT_EQ(h.exit_code, 0) << h.err;
  EXPECT_NE(h.out.find("missing"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("e1: extension rulekeeper is not installed"), std::string::npos) << h.out;
}
