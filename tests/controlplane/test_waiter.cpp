// site::wait_for with fake predicates: the loop ends when every site is done
// or final, or at the timeout; the report shape names its verdict key.
#include <gtest/gtest.h>

#include "site/waiter.hpp"

namespace rulekeeper::site {
namespace {

TEST(Waiter, NoPeersIsDoneAtOnce) {
  WaitRequest r;
  r.primary = "ipc2";
  r.timeout_seconds = 5;
  r.done_key = "applied";
  r.predicate = [](pqxx::connection&) { return Verdict{}; };
  const WaitReport report = wait_for(r, common::NoProgress());
  EXPECT_TRUE(report.done);
  EXPECT_FALSE(report.timed_out);
  const nlohmann::json j = report.to_json();
  EXPECT_EQ(j["applied"], true);
  EXPECT_TRUE(j["sites"].empty());
}

TEST(Waiter, AnUnreachablePeerTimesOutAndSaysSo) {
  config::SiteConfig down;
  down.name = "ipc1";
  down.environment = "e3";
  down.conninfo = "host=127.0.0.1 port=1 dbname=none";  // nothing listens on port 1
  WaitRequest r;
  r.primary = "ipc2";
  r.sites = {&down};
  r.timeout_seconds = 0.3;
  r.predicate = [](pqxx::connection&) { return Verdict{true, false, "never asked", {}}; };
  const WaitReport report = wait_for(r, common::NoProgress());
  EXPECT_FALSE(report.done);
  EXPECT_TRUE(report.timed_out);
  ASSERT_EQ(report.sites.size(), 1u);
  EXPECT_EQ(report.sites[0].verdict.why, "unreachable");
  EXPECT_FALSE(report.sites[0].error.empty());
  const nlohmann::json j = report.to_json();
  EXPECT_EQ(j["replicated"], false);
  EXPECT_EQ(j["sites"][0]["site"], "ipc1");
  EXPECT_EQ(j["sites"][0]["replicated"], false);
  EXPECT_EQ(report.unsatisfied(), std::vector<std::string>{"ipc1 (unreachable)"});
}

}  // namespace
}  // namespace rulekeeper::site
