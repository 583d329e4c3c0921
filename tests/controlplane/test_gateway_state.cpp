// controlplane/ops/gateway.*: the pod gateway's state without HTTP or a
// node (issue #18 item 2): a set published for one channel wakes only that
// channel's waiters and only when its epoch moved past theirs; a hold makes
// the follower read the held epoch; a lost node marks answers stale, tells
// streams and fails /healthz while the last set is still served; the pod
// registry (behind, connected, labels); the request helpers (wait, pod ids,
// labels) and the Timers.
#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "ops/gateway.hpp"

namespace {

using namespace rulekeeper::ops::gateway;

NodeReport report(long long prod, long long sl, bool held = false, std::optional<long long> held_epoch = {}) {
  NodeReport r;
  r.primary = false;
  r.channels = {{"prod", prod, held, held_epoch}, {"sl", sl, false, std::nullopt}};
  return r;
}

std::vector<RuleRow> rules(const std::string& label) { return {{"r.a", label, R"({"x": 1})", "abc"}}; }

TEST(GatewayState, NothingServedBeforeTheNodeIsRead) {
  GatewayState s("ipc1", "ipc1");
  EXPECT_FALSE(s.lookup("prod").loaded);
  EXPECT_FALSE(s.health().first);
  s.reached(report(5, 3));
  const Lookup l = s.lookup("prod");
  EXPECT_TRUE(l.loaded && l.known_channel);
  EXPECT_EQ(l.set, nullptr);  // the channel's set is not read yet
  EXPECT_FALSE(s.health().first);
  EXPECT_EQ(s.to_read().size(), 2u);
  EXPECT_FALSE(s.lookup("green").known_channel);
  EXPECT_EQ(s.lookup("green").channels, (std::vector<std::string>{"sl", "prod"}));
}

TEST(GatewayState, OnlyTheChannelThatMovedWakesItsWaiters) {
  GatewayState s("ipc1", "ipc1");
  s.reached(report(5, 3));
  s.publish("prod", 5, false, rules("1"));
  s.publish("sl", 3, false, rules("1"));
  EXPECT_TRUE(s.health().first);
  EXPECT_TRUE(s.to_read().empty());
  std::vector<long long> woken;
  EXPECT_EQ(s.wait("prod", 5, [&](auto set) { woken.push_back(set->epoch); }) > 0, true);
  EXPECT_EQ(s.wait("prod", 4, [&](auto) { ADD_FAILURE() << "registered though the set is past"; }), 0u);
  std::vector<long long> streamed;
  s.subscribe("prod", [&](auto set) { streamed.push_back(set ? set->epoch : -1); });
  // sl moves: no prod waiter wakes.
  s.reached(report(5, 7));
  ASSERT_EQ(s.to_read().size(), 1u);
  EXPECT_EQ(s.to_read()[0].channel, "sl");
  s.publish("sl", 7, false, rules("2"));
  EXPECT_TRUE(woken.empty());
  EXPECT_TRUE(streamed.empty());
  // The same prod epoch read again: nobody either.
  s.publish("prod", 5, false, rules("1"));
  EXPECT_TRUE(woken.empty());
  // prod moves.
  s.reached(report(8, 7));
  s.publish("prod", 8, false, rules("2"));
  EXPECT_EQ(woken, std::vector<long long>{8});
  EXPECT_EQ(streamed, std::vector<long long>{8});
  // A long poll is answered once; the stream stays.
  s.reached(report(9, 7));
  s.publish("prod", 9, false, rules("3"));
  EXPECT_EQ(woken, std::vector<long long>{8});
  EXPECT_EQ(streamed, (std::vector<long long>{8, 9}));
  const Lookup l = s.lookup("prod");
  EXPECT_EQ(l.set->epoch, 9);
  EXPECT_EQ(l.set->body(std::nullopt),
            R"({"site":"ipc1","node":"ipc1","channel":"prod","epoch":9,"held":false,"stale_seconds":null,)"
            R"("rules":[{"body":{"x":1},"content_sha256":"abc","label":"3","rule_key":"r.a"}]})");
}

TEST(GatewayState, AHoldIsReadAtItsEpochAndReleaseWakes) {
  GatewayState s("ipc1", "ipc1");
  s.reached(report(5, 3));
  s.publish("prod", 5, false, rules("1"));
  s.publish("sl", 3, false, rules("1"));
  int woken = 0;
  s.wait("prod", 5, [&](auto) { ++woken; });
  s.reached(report(5, 3, true, 5));  // held at the current epoch: read again, held
  ASSERT_EQ(s.to_read().size(), 1u);
  EXPECT_EQ(s.to_read()[0].target(), 5);
  s.publish("prod", 5, true, rules("1"));
  EXPECT_EQ(woken, 0);
  s.reached(report(8, 3, true, 5));  // prod moves at the node: still held at 5
  EXPECT_TRUE(s.to_read().empty());
  EXPECT_EQ(s.health().second["epochs"]["prod"], 8);
  EXPECT_EQ(s.health().second["served_epochs"]["prod"], 5);
  s.reached(report(8, 3));  // released
  ASSERT_EQ(s.to_read().size(), 1u);
  EXPECT_EQ(s.to_read()[0].target(), 8);
  s.publish("prod", 8, false, rules("2"));
  EXPECT_EQ(woken, 1);
}

TEST(GatewayState, ANodeLostServesTheLastSetMarkedStale) {
  GatewayState s("ipc1", "ipc1");
  s.reached(report(5, 3));
  s.publish("prod", 5, false, rules("1"));
  s.publish("sl", 3, false, rules("1"));
  int stale_events = 0;
  s.subscribe("prod", [&](auto set) { stale_events += set ? 0 : 1; });
  EXPECT_FALSE(s.lookup("prod").stale_seconds);
  s.unreachable("connection refused");
  s.unreachable("connection refused");  // told once per loss
  EXPECT_EQ(stale_events, 1);
  const Lookup l = s.lookup("prod");
  ASSERT_TRUE(l.stale_seconds.has_value());
  EXPECT_GE(*l.stale_seconds, 0.0);
  EXPECT_EQ(l.set->epoch, 5);
  const auto [healthy, body] = s.health();
  EXPECT_FALSE(healthy);
  EXPECT_EQ(body["node_reachable"], false);
  EXPECT_EQ(body["error"], "connection refused");
  EXPECT_NE(s.metrics_text().find("rulekeeper_gateway_node_up{node=\"ipc1\"} 0"), std::string::npos);
  s.reached(report(5, 3));
  EXPECT_FALSE(s.lookup("prod").stale_seconds);
  EXPECT_TRUE(s.health().first);
}

TEST(GatewayState, PodRegistry) {
  GatewayState s("ipc1", "ipc1");
  s.reached(report(5, 3));
  s.publish("prod", 5, false, rules("1"));
  s.publish("sl", 3, false, rules("1"));
  s.pod_seen({"pod-1", "prod", {{"zone", "a"}}, true, "127.0.0.1:1"});
  s.pod_served("pod-1", 5);
  s.pod_seen({"pod-2", "prod", {}, false, "127.0.0.1:2"});
  s.pod_served("pod-2", 4);
  s.pod_open("pod-2", +1);
  s.pod_seen({"pod-1", "prod", {}, false, "127.0.0.1:3"});  // no labels header: labels kept
  const auto doc = s.pods_json(std::chrono::system_clock::now());
  ASSERT_EQ(doc["pods"].size(), 2u);
  EXPECT_EQ(doc["pods"][0]["pod"], "pod-1");
  EXPECT_EQ(doc["pods"][0]["labels"]["zone"], "a");
  EXPECT_EQ(doc["pods"][0]["behind"], false);
  EXPECT_EQ(doc["pods"][0]["connected"], false);
  EXPECT_EQ(doc["pods"][0]["remote"], "127.0.0.1:3");
  EXPECT_EQ(doc["pods"][1]["behind"], true);
  EXPECT_EQ(doc["pods"][1]["connected"], true);
  const std::string m = s.metrics_text();
  EXPECT_NE(m.find("rulekeeper_gateway_pods{channel=\"prod\"} 1"), std::string::npos) << m;
  EXPECT_NE(m.find("rulekeeper_gateway_stale_pods{channel=\"prod\"} 1"), std::string::npos) << m;
  // Forgotten after 10 minutes unseen (unless connected).
  const auto later = std::chrono::system_clock::now() + GatewayState::kForgetAfter + std::chrono::seconds(1);
  const auto after = s.pods_json(later);
  ASSERT_EQ(after["pods"].size(), 1u);
  EXPECT_EQ(after["pods"][0]["pod"], "pod-2");
}

TEST(GatewayHelpers, WaitPodIdsAndLabels) {
  EXPECT_EQ(parse_wait("30s"), std::chrono::milliseconds(30000));
  EXPECT_EQ(parse_wait("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(parse_wait("7"), std::chrono::milliseconds(7000));
  EXPECT_FALSE(parse_wait(""));
  EXPECT_FALSE(parse_wait("-1s"));
  EXPECT_FALSE(parse_wait("1m"));
  EXPECT_TRUE(valid_pod_id("pricing-7f9c:0_a.b"));
  EXPECT_FALSE(valid_pod_id(""));
  EXPECT_FALSE(valid_pod_id("a b"));
  EXPECT_FALSE(valid_pod_id(std::string(129, 'a')));
  EXPECT_TRUE(valid_pod_id(std::string(128, 'a')));
  const auto labels = parse_pod_labels("zone=a, app=pricing");
  ASSERT_TRUE(labels);
  EXPECT_EQ(labels->at("zone"), "a");
  EXPECT_EQ(labels->at("app"), "pricing");
  EXPECT_TRUE(parse_pod_labels("")->empty());
  EXPECT_FALSE(parse_pod_labels("zone"));
  EXPECT_FALSE(parse_pod_labels("=a"));
}

TEST(GatewayTimers, RunInOrderAndCancel) {
  Timers t;
  std::promise<void> done;
  std::atomic<int> order{0};
  std::atomic<int> first{0}, second{0};
  const auto now = SteadyClock::now();
  t.at(now + std::chrono::milliseconds(40), [&] {
    second = ++order;
    done.set_value();
  });
  t.at(now + std::chrono::milliseconds(10), [&] { first = ++order; });
  const auto cancelled = t.at(now + std::chrono::milliseconds(20), [&] { ADD_FAILURE() << "a cancelled timer ran"; });
  t.cancel(cancelled);
  ASSERT_EQ(done.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 2);
}

}  // namespace
