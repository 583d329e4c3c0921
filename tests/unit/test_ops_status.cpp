// ops/status: the exit code `status` (and `sandbox up`) decides from what
// the probes found — split brain (3) outranks an unreachable site (4) — and
// the shape of its document.
#include "ops/status.hpp"

#include <gtest/gtest.h>

#include "common/errors.hpp"

using namespace rulekeeper;
using nlohmann::json;

namespace {

site::SiteState fake_site(const std::string& name, bool reachable) {
  site::SiteState s;
  s.name = name;
  s.environment = "e3";
  s.reachable = reachable;
  return s;
}

}  // namespace

TEST(OpsStatus, SplitBrainOutranksUnreachable) {
  ops::StatusReport r;
  r.config_path = "rulectl.toml";
  r.sites = {fake_site("ipc2", true), fake_site("ipc1", true)};
  r.replication = {{"split_brain", false}};
  EXPECT_EQ(r.exit_code(), common::exit_ok);
  r.sites.push_back(fake_site("ipc2b", false));
  EXPECT_TRUE(r.any_unreachable());
  EXPECT_EQ(r.exit_code(), common::exit_unreachable);
  r.replication = {{"split_brain", true}};
  EXPECT_TRUE(r.split_brain());
  EXPECT_EQ(r.exit_code(), common::exit_refused);
  r.replication = nullptr;  // no E3 site configured: no replication section
  EXPECT_FALSE(r.split_brain());
}

TEST(OpsStatus, Document) {
  ops::StatusReport r;
  r.config_path = "rulectl.toml";
  r.sites = {fake_site("ipc2", true)};
  r.warnings = {"w"};
  r.open_conflicts = {{"ipc2", "c-1", "a", "2026-12-06T08:01:27.123Z"}};
  const json doc = r.to_json();
  EXPECT_EQ(doc["config"], "rulectl.toml");
  ASSERT_EQ(doc["sites"].size(), 1u);
  EXPECT_EQ(doc["sites"][0]["site"], "ipc2");
  EXPECT_TRUE(doc["replication"].is_null());
  EXPECT_EQ(doc["warnings"], json({"w"}));
  EXPECT_EQ(doc["open_conflicts"], json::parse(R"([{"site": "ipc2", "conflict_id": "c-1", "rule_key": "a",
                                                    "detected_at": "2026-12-06T08:01:27.123Z"}])"));
}

TEST(OpsStatus, ReplicationSectionOnlyWithE3Sites) {
  site::SiteState e1 = fake_site("e1", true);
  e1.environment = "e1";
  EXPECT_TRUE(ops::replication_report({e1}).is_null());
  // One E3 site, unreachable: no primary, and it says so.
  const json rep = ops::replication_report({e1, fake_site("ipc2", false)});
  ASSERT_FALSE(rep.is_null());
  EXPECT_EQ(rep["split_brain"], false);
  EXPECT_TRUE(rep["primary"].is_null());
  EXPECT_EQ(rep["unreachable_sites"], json({"ipc2"}));
  ASSERT_EQ(rep["notes"].size(), 1u);
  EXPECT_NE(rep["notes"][0].get<std::string>().find("unreachable: ipc2"), std::string::npos) << rep.dump();
}
