// podclient/ (issue #18 item 4): the pod client against gateways that speak
// the protocol of docs/pods.md, built in the test on controlplane/http's
// server (the library itself knows nothing of rulectl). Real loopback
// sockets on the pod_client_unit ports: fetch, the event stream, the fallback
// to long polling, the disk cache (written atomically, served while every
// gateway is down), reconnection after a gateway restart, the move to the
// second gateway URL, a stale gateway left for another, tokens, headers and
// errors. The tests against the real gateway and PostgreSQL are in
// tests/integration/test_pod_client.cpp.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <rulekeeper/pod_client.hpp>

#include "http/server.hpp"
#include "ports.hpp"

namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using rulekeeper::http::Exchange;
using rulekeeper::http::Response;
namespace pod = rulekeeper::pod;
namespace ports = rulekeeper::testing::ports;

int port(int i) { return ports::pod_client_unit[i]; }
std::string url(int i) { return "http://127.0.0.1:" + std::to_string(port(i)); }

// A gateway of the protocol with a set the test publishes: rules (ETag,
// If-None-Match, long polls), events (SSE), the headers each pod sent.
class FakeGateway {
public:
  FakeGateway(int port, std::string site) : port_(port), site_(std::move(site)) {}
  ~FakeGateway() { stop(); }

  bool refuse_stream = false;  // /events answers 404 (a proxy that does not stream, say)
  std::string token;           // required bearer token, "" = none

  void start() {
    rulekeeper::http::ServerOptions so;
    so.port = static_cast<unsigned short>(port_);
    server_ = std::make_unique<rulekeeper::http::Server>(so);
    server_->route("GET", "/v1/channels/{channel}/rules", [this](const std::shared_ptr<Exchange>& x) { rules(x); });
    server_->route("GET", "/v1/channels/{channel}/events", [this](const std::shared_ptr<Exchange>& x) { events(x); });
    server_->start();
    ticking_ = true;
    ticker_ = std::thread([this] {
      while (ticking_) {
        expire_waits();
        std::this_thread::sleep_for(20ms);
      }
    });
  }

  void stop() {
    if (!server_) return;
    ticking_ = false;
    if (ticker_.joinable()) ticker_.join();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      waits_.clear();
      streams_.clear();
    }
    server_->stop(200ms);
    server_.reset();
  }

  // A new set: every long poll and stream waiting hears of it.
  void publish(std::int64_t epoch, const std::vector<std::pair<std::string, std::string>>& rules) {
    std::vector<Wait> waits;
    std::vector<std::shared_ptr<Exchange>> streams;
    std::string body;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      epoch_ = epoch;
      rules_ = json::array();
      for (const auto& [key, label] : rules)
        rules_.push_back({{"rule_key", key},
                          {"label", label},
                          {"body", {{"rate", label}}},
                          {"content_sha256", std::string(64, 'a')}});
      body = set_json();
      waits.swap(waits_);
      streams = streams_;
    }
    for (auto& w : waits) w.x->respond(set_response(body, epoch));
    for (auto& s : streams) s->send("id: " + std::to_string(epoch) + "\nevent: rules\ndata: " + body + "\n\n");
  }

  // The gateway lost its node (stale_seconds set) or found it again.
  void set_stale(std::optional<double> seconds) {
    std::vector<std::shared_ptr<Exchange>> streams;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stale_ = seconds;
      streams = streams_;
    }
    if (seconds)
      for (auto& s : streams) s->send("event: stale\ndata: {\"stale_seconds\":" + std::to_string(*seconds) + "}\n\n");
  }

  int rules_requests() const { return rules_requests_; }
  int long_polls() const { return long_polls_; }
  int streams_opened() const { return streams_opened_; }
  std::string last_pod() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return last_pod_;
  }
  std::string last_labels() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return last_labels_;
  }
  std::string last_if_none_match() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return last_if_none_match_;
  }

private:
  struct Wait {
    std::shared_ptr<Exchange> x;
    std::chrono::steady_clock::time_point deadline;
    std::int64_t after;
  };

  std::string set_json() const {
    json j{{"site", site_},   {"node", site_}, {"channel", "prod"},
           {"epoch", epoch_}, {"held", false}, {"rules", rules_}};
    j["stale_seconds"] = stale_ ? json(*stale_) : json(nullptr);
    return j.dump();
  }

  Response set_response(const std::string& body, std::int64_t epoch) const {
    Response r;
    r.status = 200;
    r.content_type = "application/json";
    r.body = body;
    r.headers = {{"ETag", "\"" + std::to_string(epoch) + "\""}, {"Rulekeeper-Epoch", std::to_string(epoch)}};
    if (stale_) r.headers.emplace_back("Rulekeeper-Stale-Seconds", std::to_string(*stale_));
    return r;
  }

  static Response error(int status, const std::string& text) {
    Response r;
    r.status = status;
    r.content_type = "application/json";
    r.body = json{{"error", text}, {"hint", "a hint"}}.dump();
    return r;
  }

  // The checks every path makes; false when answered with an error.
  bool admit(const std::shared_ptr<Exchange>& x) {
    const auto& req = x->request();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      last_pod_ = req.header("Rulekeeper-Pod");
      last_labels_ = req.header("Rulekeeper-Pod-Labels");
      last_if_none_match_ = req.header("If-None-Match");
    }
    if (!token.empty() && req.header("Authorization") != "Bearer " + token) {
      x->respond(error(401, "a bearer token is required"));
      return false;
    }
    if (req.header("Rulekeeper-Pod").empty()) {
      x->respond(error(400, "no Rulekeeper-Pod header"));
      return false;
    }
    const std::string channel = req.params.at("channel");
    if (channel != "prod" && channel != "sl") {
      Response r = error(404, "unknown channel \"" + channel + "\"; the channels are sl and prod");
      x->respond(r);
      return false;
    }
    return true;
  }

  void rules(const std::shared_ptr<Exchange>& x) {
    ++rules_requests_;
    if (!admit(x)) return;
    const auto& req = x->request();
    std::unique_lock<std::mutex> lock(mutex_);
    const std::string after = req.query_param("after");
    if (!after.empty()) {
      ++long_polls_;
      const std::int64_t a = std::stoll(after);
      if (epoch_ <= a) {
        std::string wait = req.query_param("wait");
        long ms = std::stol(wait);
        if (wait.size() > 1 && wait.substr(wait.size() - 2) != "ms") ms *= 1000;
        waits_.push_back({x, std::chrono::steady_clock::now() + std::chrono::milliseconds(ms), a});
        return;
      }
    } else if (req.header("If-None-Match") == "\"" + std::to_string(epoch_) + "\"") {
      Response r;
      r.status = 304;
      r.headers = {{"ETag", "\"" + std::to_string(epoch_) + "\""}};
      if (stale_) r.headers.emplace_back("Rulekeeper-Stale-Seconds", std::to_string(*stale_));
      lock.unlock();
      x->respond(r);
      return;
    }
    const std::string body = set_json();
    const std::int64_t e = epoch_;
    lock.unlock();
    x->respond(set_response(body, e));
  }

  void events(const std::shared_ptr<Exchange>& x) {
    if (!admit(x)) return;
    if (refuse_stream) {
      x->respond(error(404, "no such path"));
      return;
    }
    ++streams_opened_;
    Response head;
    head.content_type = "text/event-stream";
    head.headers = {{"Cache-Control", "no-cache"}};
    std::int64_t after =
        std::stoll(x->request().query_param("after").empty() ? "0" : x->request().query_param("after"));
    std::lock_guard<std::mutex> lock(mutex_);
    if (epoch_ > after)
      head.body = "id: " + std::to_string(epoch_) + "\nevent: rules\ndata: " + set_json() + "\n\n";
    else
      head.body = ": keepalive\n\n";
    x->start_stream(head);
    streams_.push_back(x);
  }

  void expire_waits() {
    std::vector<Wait> due;
    std::optional<double> stale;
    std::int64_t epoch;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const auto now = std::chrono::steady_clock::now();
      for (auto it = waits_.begin(); it != waits_.end();) {
        if (it->deadline <= now) {
          due.push_back(*it);
          it = waits_.erase(it);
        } else {
          ++it;
        }
      }
      stale = stale_;
      epoch = epoch_;
    }
    for (auto& w : due) {
      Response r;
      r.status = 304;
      r.headers = {{"ETag", "\"" + std::to_string(epoch) + "\""}};
      if (stale) r.headers.emplace_back("Rulekeeper-Stale-Seconds", std::to_string(*stale));
      w.x->respond(r);
    }
  }

  int port_;
  std::string site_;
  std::unique_ptr<rulekeeper::http::Server> server_;
  std::thread ticker_;
  std::atomic<bool> ticking_{false};
  mutable std::mutex mutex_;
  std::int64_t epoch_ = 0;
  json rules_ = json::array();
  std::optional<double> stale_;
  std::vector<Wait> waits_;
  std::vector<std::shared_ptr<Exchange>> streams_;
  std::atomic<int> rules_requests_{0}, long_polls_{0}, streams_opened_{0};
  std::string last_pod_, last_labels_, last_if_none_match_;
};

// What the client's callback saw, for assertions from the test thread.
struct Seen {
  std::mutex mutex;
  std::vector<pod::RuleSet> sets;
  std::vector<std::string> events;
  void add(const pod::RuleSet& s) {
    std::lock_guard<std::mutex> lock(mutex);
    sets.push_back(s);
  }
  std::vector<std::int64_t> epochs() {
    std::lock_guard<std::mutex> lock(mutex);
    std::vector<std::int64_t> out;
    for (const auto& s : sets) out.push_back(s.epoch);
    return out;
  }
  std::string log() {
    std::lock_guard<std::mutex> lock(mutex);
    std::string out;
    for (const auto& e : events) out += e + "\n";
    return out;
  }
};

pod::Options options(const std::vector<std::string>& gateways, Seen& seen) {
  pod::Options o;
  o.gateways = gateways;
  o.pod_id = "pricing-7";
  o.labels = {{"app", "pricing"}, {"zone", "a"}};
  o.channel = "prod";
  o.initial_backoff = 20ms;
  o.max_backoff = 200ms;
  o.connect_timeout = 1s;
  o.on_rules = [&seen](const pod::RuleSet& s) { seen.add(s); };
  o.on_event = [&seen](const std::string& e) {
    std::lock_guard<std::mutex> lock(seen.mutex);
    seen.events.push_back(e);
  };
  return o;
}

template <class F>
bool eventually(F ready, std::chrono::milliseconds limit = 10s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (ready()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return ready();
}

std::filesystem::path temp_cache(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("rk-pod-client-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto p = dir / name;
  std::filesystem::remove(p);
  return p;
}

TEST(PodClient, FetchesThenFollowsTheStreamWithItsHeaders) {
  FakeGateway g(port(0), "ipc1");
  g.publish(5, {{"pricing.discount", "2"}});
  g.start();
  Seen seen;
  pod::PodClient c(options({url(0)}, seen));
  c.start();
  ASSERT_TRUE(c.wait_for_epoch(5, 10s)) << seen.log();
  EXPECT_EQ(g.last_pod(), "pricing-7");
  EXPECT_EQ(g.last_labels(), "app=pricing,zone=a");
  ASSERT_TRUE(eventually([&] { return c.status().streaming; })) << seen.log();
  g.publish(7, {{"pricing.discount", "2.1"}, {"risk.limit", "1"}});
  ASSERT_TRUE(c.wait_for_epoch(7, 10s)) << seen.log();
  const auto cur = c.current();
  ASSERT_NE(cur, nullptr);
  EXPECT_EQ(cur->site, "ipc1");
  EXPECT_EQ(cur->gateway, url(0));
  ASSERT_EQ(cur->rules.size(), 2u);
  ASSERT_NE(cur->find("pricing.discount"), nullptr);
  EXPECT_EQ(cur->find("pricing.discount")->label, "2.1");
  EXPECT_EQ(json::parse(cur->find("pricing.discount")->body), (json{{"rate", "2.1"}}));
  EXPECT_EQ(seen.epochs(), (std::vector<std::int64_t>{5, 7}));
  EXPECT_EQ(g.long_polls(), 0) << "a streaming client does not long poll";
  EXPECT_EQ(g.streams_opened(), 1);
  c.stop();
}

TEST(PodClient, FallsBackToLongPollingWhereTheStreamIsRefused) {
  FakeGateway g(port(0), "ipc2");
  g.refuse_stream = true;
  g.publish(3, {{"a", "1"}});
  g.start();
  Seen seen;
  auto o = options({url(0)}, seen);
  o.long_poll_wait = 300ms;
  pod::PodClient c(o);
  c.start();
  ASSERT_TRUE(c.wait_for_epoch(3, 10s));
  // Waits that end with 304 (nothing new) and the poll goes on.
  ASSERT_TRUE(eventually([&] { return g.long_polls() >= 3; })) << seen.log();
  EXPECT_FALSE(c.status().streaming);
  EXPECT_EQ(g.last_if_none_match(), "\"3\"");
  g.publish(4, {{"a", "2"}});
  ASSERT_TRUE(c.wait_for_epoch(4, 10s)) << seen.log();
  EXPECT_EQ(c.current()->rules.at(0).label, "2");
  EXPECT_EQ(seen.epochs(), (std::vector<std::int64_t>{3, 4}));
  EXPECT_NE(seen.log().find("long polling there instead"), std::string::npos) << seen.log();
}

TEST(PodClient, LongPollModeNeverOpensAStream) {
  FakeGateway g(port(0), "ipc2");
  g.publish(10, {{"a", "1"}});
  g.start();
  Seen seen;
  auto o = options({url(0)}, seen);
  o.mode = pod::Mode::long_poll;
  o.long_poll_wait = 200ms;
  pod::PodClient c(o);
  c.start();
  ASSERT_TRUE(c.wait_for_epoch(10, 10s));
  g.publish(11, {{"a", "2"}});
  ASSERT_TRUE(c.wait_for_epoch(11, 10s));
  EXPECT_EQ(g.streams_opened(), 0);
  EXPECT_GE(g.long_polls(), 1);
}

TEST(PodClient, CachesOnDiskAndServesTheCacheWhileNoGatewayAnswers) {
  const auto cache = temp_cache("prod.json");
  {
    FakeGateway g(port(0), "ipc1");
    g.publish(21, {{"pricing.discount", "2"}});
    g.start();
    Seen seen;
    auto o = options({url(0)}, seen);
    o.cache_file = cache;
    pod::PodClient c(o);
    c.start();
    ASSERT_TRUE(c.wait_for_epoch(21, 10s));
    ASSERT_TRUE(eventually([&] { return std::filesystem::exists(cache); }));
    c.stop();
  }
  // The file holds the set as served; no temporary file is left beside it.
  std::ifstream in(cache);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(json::parse(text.str())["epoch"], 21);
  for (const auto& f : std::filesystem::directory_iterator(cache.parent_path()))
    EXPECT_EQ(f.path().filename().string().find(".tmp."), std::string::npos) << f.path();

  // Every gateway down: the cached set at once, marked as from the cache.
  Seen seen;
  auto o = options({url(0), url(1)}, seen);
  o.cache_file = cache;
  pod::PodClient c(o);
  ASSERT_NE(c.current(), nullptr);
  EXPECT_TRUE(c.current()->from_cache);
  EXPECT_EQ(c.current()->epoch, 21);
  c.start();
  ASSERT_TRUE(eventually([&] { return c.status().consecutive_failures >= 3; })) << seen.log();
  ASSERT_EQ(seen.epochs(), (std::vector<std::int64_t>{21}));
  EXPECT_TRUE(seen.sets.at(0).from_cache);
  EXPECT_EQ(c.current()->epoch, 21) << "the cached set stays in use";
  EXPECT_FALSE(c.wait_for_epoch(21, 1ms)) << "a cached set is not a served one";
  // A gateway comes: its set replaces the cached one.
  FakeGateway g(port(1), "ipc1");
  g.publish(22, {{"pricing.discount", "3"}});
  g.start();
  ASSERT_TRUE(c.wait_for_epoch(22, 10s)) << seen.log();
  EXPECT_FALSE(c.current()->from_cache);
  c.stop();
  std::ifstream again(cache);
  std::stringstream text2;
  text2 << again.rdbuf();
  EXPECT_EQ(json::parse(text2.str())["epoch"], 22);
}

TEST(PodClient, ACorruptCacheIsIgnoredAndSaidSo) {
  const auto cache = temp_cache("corrupt.json");
  std::ofstream(cache) << "{\"epoch\": 3, \"rul";
  Seen seen;
  auto o = options({url(3)}, seen);  // nothing listens there
  o.cache_file = cache;
  pod::PodClient c(o);
  EXPECT_EQ(c.current(), nullptr);
  c.start();
  ASSERT_TRUE(eventually([&] { return seen.log().find("ignored") != std::string::npos; })) << seen.log();
}

TEST(PodClient, ReconnectsAfterAGatewayRestartServingItsSetMeanwhile) {
  FakeGateway g(port(0), "ipc1");
  g.publish(30, {{"a", "1"}});
  g.start();
  Seen seen;
  pod::PodClient c(options({url(0)}, seen));
  c.start();
  ASSERT_TRUE(c.wait_for_epoch(30, 10s));
  ASSERT_TRUE(eventually([&] { return c.status().streaming; }));
  g.stop();
  ASSERT_TRUE(eventually([&] { return !c.status().connected && c.status().consecutive_failures >= 2; })) << seen.log();
  EXPECT_EQ(c.current()->epoch, 30) << "the last set stays in use while the gateway is away";
  FakeGateway again(port(0), "ipc1");
  again.publish(31, {{"a", "2"}});
  again.start();
  ASSERT_TRUE(c.wait_for_epoch(31, 10s)) << seen.log();
  ASSERT_TRUE(eventually([&] { return c.status().streaming && c.status().consecutive_failures == 0; }));
  EXPECT_EQ(c.status().switches, 0) << "one URL: nowhere to switch to";
}

TEST(PodClient, SwitchesToTheNextGatewayWhenTheFirstStops) {
  FakeGateway ipc2(port(0), "ipc2");
  FakeGateway ipc1(port(1), "ipc1");
  ipc2.publish(40, {{"a", "1"}});
  ipc1.publish(40, {{"a", "1"}});
  ipc2.start();
  ipc1.start();
  Seen seen;
  pod::PodClient c(options({url(0), url(1)}, seen));
  c.start();
  ASSERT_TRUE(c.wait_for_epoch(40, 10s));
  EXPECT_EQ(c.current()->site, "ipc2");
  ipc2.stop();
  ASSERT_TRUE(eventually([&] { return c.current()->gateway == url(1); })) << seen.log();
  EXPECT_EQ(c.current()->site, "ipc1");
  EXPECT_GE(c.status().switches, 1);
  // The next activation arrives through the second gateway.
  ipc1.publish(41, {{"a", "2"}});
  ASSERT_TRUE(c.wait_for_epoch(41, 10s)) << seen.log();
  EXPECT_EQ(c.current()->gateway, url(1));
  EXPECT_NE(seen.log().find("switching to " + url(1)), std::string::npos) << seen.log();
}

TEST(PodClient, LeavesAGatewayWhoseNodeIsGoneTooLong) {
  FakeGateway ipc2(port(0), "ipc2");
  FakeGateway ipc1(port(1), "ipc1");
  ipc2.publish(50, {{"a", "1"}});
  ipc1.publish(52, {{"a", "3"}});
  ipc2.start();
  ipc1.start();
  Seen seen;
  auto o = options({url(0), url(1)}, seen);
  o.switch_when_stale_after = 1s;
  pod::PodClient c(o);
  c.start();
  ASSERT_TRUE(c.wait_for_epoch(50, 10s));
  ASSERT_TRUE(eventually([&] { return c.status().streaming; }));
  // Stale, but not yet too long: the client stays and marks its set stale.
  ipc2.set_stale(0.1);
  ASSERT_TRUE(eventually([&] { return c.status().stale; })) << seen.log();
  // Its node gone for longer than switch_when_stale_after: the other gateway.
  ipc2.set_stale(5.0);
  ASSERT_TRUE(eventually([&] { return c.current()->gateway == url(1); })) << seen.log();
  EXPECT_EQ(c.current()->epoch, 52);
  EXPECT_FALSE(c.current()->stale_seconds.has_value());
}

TEST(PodClient, UnknownChannelAndTokensAreReportedWithTheGatewaysWords) {
  FakeGateway g(port(0), "ipc2");
  g.token = "s3cret";
  g.publish(60, {{"a", "1"}});
  g.start();
  {
    Seen seen;
    auto o = options({url(0)}, seen);
    o.token = "wrong";
    pod::PodClient c(o);
    c.start();
    ASSERT_TRUE(eventually([&] { return c.status().last_error.find("401") != std::string::npos; })) << seen.log();
    EXPECT_NE(c.status().last_error.find("a bearer token is required"), std::string::npos);
    EXPECT_EQ(c.current(), nullptr);
  }
  {
    Seen seen;
    auto o = options({url(0)}, seen);
    o.token = "s3cret";
    o.channel = "green";
    pod::PodClient c(o);
    c.start();
    ASSERT_TRUE(eventually([&] { return c.status().last_error.find("404") != std::string::npos; })) << seen.log();
    EXPECT_NE(c.status().last_error.find("unknown channel \"green\"; the channels are sl and prod"), std::string::npos);
    EXPECT_EQ(c.current(), nullptr);
  }
  Seen seen;
  auto o = options({url(0)}, seen);
  o.token = "s3cret";
  pod::PodClient c(o);
  c.start();
  ASSERT_TRUE(c.wait_for_epoch(60, 10s)) << seen.log();
  // The one-shot fetch.
  const auto s = pod::fetch_rules(url(0), "prod", "probe-1", "s3cret");
  EXPECT_EQ(s.epoch, 60);
  EXPECT_THROW(pod::fetch_rules(url(0), "prod", "probe-1", "nope"), pod::ProtocolError);
  EXPECT_THROW(pod::fetch_rules(url(3), "prod", "probe-1"), std::runtime_error);
}

TEST(PodClient, RefusesOptionsThatCannotWork) {
  Seen seen;
  auto o = options({url(0)}, seen);
  o.pod_id = "no spaces";
  EXPECT_THROW(pod::PodClient{o}, std::invalid_argument);
  o.pod_id = std::string(129, 'p');
  EXPECT_THROW(pod::PodClient{o}, std::invalid_argument);
  o.pod_id = "ok";
  o.gateways = {"https://127.0.0.1:1"};
  EXPECT_THROW(pod::PodClient{o}, std::invalid_argument);
  o.gateways = {};
  EXPECT_THROW(pod::PodClient{o}, std::invalid_argument);
  o.gateways = {url(0)};
  o.long_poll_wait = 61s;
  EXPECT_THROW(pod::PodClient{o}, std::invalid_argument);
  EXPECT_TRUE(pod::valid_pod_id("pod-1.a_b:c"));
  EXPECT_FALSE(pod::valid_pod_id(""));
  EXPECT_THROW(pod::parse_rule_set("{\"epoch\": \"x\", \"rules\": []}"), pod::ProtocolError);
  EXPECT_THROW(pod::parse_rule_set("[]"), pod::ProtocolError);
}

TEST(PodClient, StopEndsAnOpenStreamPromptly) {
  FakeGateway g(port(0), "ipc1");
  g.publish(70, {{"a", "1"}});
  g.start();
  Seen seen;
  auto o = options({url(0)}, seen);
  o.stream_idle_timeout = 60s;  // stop must not wait for it
  auto c = std::make_unique<pod::PodClient>(o);
  c->start();
  ASSERT_TRUE(c->wait_for_epoch(70, 10s));
  ASSERT_TRUE(eventually([&] { return c->status().streaming; }));
  std::atomic<bool> stopped{false};
  std::thread t([&] {
    c->stop();
    stopped = true;
  });
  const bool ok = eventually([&] { return stopped.load(); }, 5s);
  t.join();
  EXPECT_TRUE(ok) << "stop() hung on an open stream";
}

}  // namespace
