// The pod gateway (issue #18 item 2, docs/gateway.md, the protocol in
// docs/pods.md) on real clusters (pipeline.hpp: ipc2 the E3 primary, ipc1 its
// streaming standby) with real `rulectl gateway` processes, one per node, and
// pods played by raw HTTP clients:
//
// - the rules of a channel with ETag / If-None-Match, the pod header (400),
//   an unknown channel (404 with the list), the bearer token (401);
// - per channel: an sl activation changes neither prod's epoch nor wakes a
//   prod long poll or SSE stream;
// - ipc1's replay paused while ipc2 activates in prod: ipc2's gateway serves
//   the new set (LISTEN), ipc1's keeps the old one; resumed → the waiting
//   long poll at ipc1 gets the new set;
// - hold/release of (ipc1, prod) while ipc2 moves on (when the database has
//   hold_notifications);
// - /v1/pods and `rulectl pods`;
// - ipc1 stopped: the last set served, marked stale, /healthz 503, the SSE
//   stream told; ipc1 back: fresh;
// - the gateway restarted: a following pod reconnects and gets the next set;
// - ipc1 promoted: its gateway says primary and LISTENs.
//
// Every gateway is a Daemon (stopped by its destructor, also when an
// assertion fails); every wait is a bounded poll. Ports: integration_gateway.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include <boost/asio.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "daemon.hpp"
#include "pipeline.hpp"

using namespace rulekeeper;
using rulekeeper::testing::Pipeline;
using rulekeeper::testing::sql_value;
namespace ports = rulekeeper::testing::ports;
namespace fs = std::filesystem;
namespace net = boost::asio;
using nlohmann::json;

extern char** environ;

namespace {

constexpr int kNodes = ports::integration_gateway[0];  // e1, e2, ipc2, ipc1: [0..3]
constexpr int kGatewayIpc2 = ports::integration_gateway[4];
constexpr int kGatewayIpc1 = ports::integration_gateway[5];
const std::string kToken = "test-token-0123456789abcdef";

using rulekeeper::testing::Daemon;

struct Reply {
  int status = 0;                              // 0: no answer (connection refused or closed)
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  json doc() const { return json::parse(body, nullptr, false); }
  std::string header(const std::string& n) const {
    auto it = headers.find(n);
    return it == headers.end() ? "" : it->second;
  }
};

using Headers = std::vector<std::pair<std::string, std::string>>;

Headers pod(const std::string& id, const std::string& labels = "") {
  Headers h{{"Rulekeeper-Pod", id}, {"Authorization", "Bearer " + kToken}};
  if (!labels.empty()) h.emplace_back("Rulekeeper-Pod-Labels", labels);
  return h;
}

// GET over HTTP/1.0 (the server answers and closes), read to EOF.
Reply get(int port, const std::string& path, const Headers& headers = {}) {
  Reply r;
  try {
    net::io_context ctx;
    net::ip::tcp::socket s(ctx);
    s.connect({net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
    std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n";
    for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
    req += "\r\n";
    net::write(s, net::buffer(req));
    std::string all;
    char buf[8192];
    boost::system::error_code ec;
    for (std::size_t n; (n = s.read_some(net::buffer(buf), ec)) > 0 && !ec;) all.append(buf, n);
    const std::size_t end = all.find("\r\n\r\n");
    if (all.size() < 12 || end == std::string::npos) return r;
    r.status = std::stoi(all.substr(9, 3));
    std::istringstream head(all.substr(0, end));
    std::string line;
    std::getline(head, line);
    while (std::getline(head, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const std::size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = line.substr(colon + 2);
    }
    r.body = all.substr(end + 4);
  } catch (const std::exception&) {
    r.status = 0;
  }
  return r;
}

// An SSE stream read in the background; closed by the destructor.
class Sse {
public:
  Sse(int port, const std::string& path, const Headers& headers) : socket_(ctx_) {
    try {
      socket_.connect({net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
      std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n";
      for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
      req += "\r\n";
      net::write(socket_, net::buffer(req));
    } catch (const std::exception&) {
      std::lock_guard<std::mutex> lock(mu_);
      ended_ = true;
      return;
    }
    reader_ = std::thread([this] {
      char buf[4096];
      boost::system::error_code ec;
      for (;;) {
        const std::size_t n = socket_.read_some(net::buffer(buf), ec);
        std::lock_guard<std::mutex> lock(mu_);
        if (ec || n == 0) {
          ended_ = true;
          return;
        }
        text_.append(buf, n);
      }
    });
  }
  ~Sse() {
    boost::system::error_code ec;
    socket_.shutdown(net::ip::tcp::socket::shutdown_both, ec);
    if (reader_.joinable()) reader_.join();
    socket_.close(ec);
  }
  std::string text() {
    std::lock_guard<std::mutex> lock(mu_);
    return text_;
  }
  bool ended() {
    std::lock_guard<std::mutex> lock(mu_);
    return ended_;
  }
  std::size_t count(const std::string& needle) {
    const std::string t = text();
    std::size_t n = 0;
    for (std::size_t at = 0; (at = t.find(needle, at)) != std::string::npos; at += needle.size()) ++n;
    return n;
  }

private:
  net::io_context ctx_;
  net::ip::tcp::socket socket_;
  std::mutex mu_;
  std::string text_;
  bool ended_ = false;
  std::thread reader_;
};

template <typename Pred>
bool wait_until(Pred pred, std::chrono::seconds limit = std::chrono::seconds(30)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

long long channel_epoch(const cluster::Node& n, const std::string& channel) {
  return std::stoll(sql_value(n, "SELECT rulekeeper.activation_epoch($1)", channel));
}

std::string labels_of(const json& doc) {
  std::string out;
  if (!doc.is_object() || !doc.contains("rules")) return "?";
  for (const auto& r : doc["rules"])
    out += (out.empty() ? "" : ",") + r["rule_key"].get<std::string>() + "=" + r["label"].get<std::string>();
  return out;
}

std::vector<std::string> gateway_argv(const Pipeline& p, const std::string& node) {
  return {RULECTL_BINARY, "--config", p.config, "gateway", "--node", node};
}

}  // namespace

TEST(Gateway, ServesPodsFromEachNode) {
  Pipeline p(kNodes);
  p.create_rule("gw.a", "gw");
  const std::string v1 = p.create_version("gw.a", R"({"rate": 1})");
  const std::string v2 = p.create_version("gw.a", R"({"rate": 2})");
  p.ship();
  p.to_prod("gw.a", v1);
  // The gateways log in as a reader: what a pod may read is all they need.
  sql_value(*p.ipc2, "CREATE ROLE gw_reader LOGIN IN ROLE rulekeeper_reader");
  p.ipc1->wait_replayed(*p.ipc2, std::chrono::seconds(60));
  std::ofstream(p.config, std::ios::app) << fmt::format(
      "[sites.ipc2.gateway]\nlisten = \"127.0.0.1:{}\"\n"
      "conninfo = \"host=127.0.0.1 port={} user=gw_reader dbname=rules\"\ntoken = \"{}\"\n\n"
      "[sites.ipc1.gateway]\nlisten = \"127.0.0.1:{}\"\n"
      "conninfo = \"host=127.0.0.1 port={} user=gw_reader dbname=rules\"\ntoken = \"{}\"\npoll_interval_ms = 50\n",
      kGatewayIpc2, p.ipc2->port(), kToken, kGatewayIpc1, p.ipc1->port(), kToken);

  auto g2 = std::make_unique<Daemon>("gateway-ipc2", gateway_argv(p, "ipc2"));
  auto g1 = std::make_unique<Daemon>("gateway-ipc1", gateway_argv(p, "ipc1"));
  ASSERT_TRUE(wait_until([&] { return get(kGatewayIpc2, "/healthz").status == 200; })) << g2->log();
  ASSERT_TRUE(wait_until([&] { return get(kGatewayIpc1, "/healthz").status == 200; })) << g1->log();
  json health1 = get(kGatewayIpc1, "/healthz").doc();
  EXPECT_EQ(health1["role"], "standby") << health1;
  EXPECT_EQ(get(kGatewayIpc2, "/healthz").doc()["role"], "primary");
  EXPECT_EQ(health1["node_reachable"], true);
  EXPECT_EQ(health1["epochs"]["prod"], channel_epoch(*p.ipc1, "prod")) << health1;

  std::cout << "GET rules: the set, the epoch as ETag, If-None-Match → 304" << std::endl;
  const long long prod1 = channel_epoch(*p.ipc1, "prod");
  Reply r = get(kGatewayIpc1, "/v1/channels/prod/rules", pod("pod-a", "zone=a,app=pricing"));
  ASSERT_EQ(r.status, 200) << r.body;
  json doc = r.doc();
  EXPECT_EQ(doc["site"], "ipc1");
  EXPECT_EQ(doc["node"], "ipc1");
  EXPECT_EQ(doc["channel"], "prod");
  EXPECT_EQ(doc["epoch"], prod1);
  EXPECT_EQ(doc["held"], false);
  EXPECT_TRUE(doc["stale_seconds"].is_null());
  EXPECT_EQ(labels_of(doc), "gw.a=" + v1);
  EXPECT_EQ(doc["rules"][0]["body"], json::parse(R"({"rate": 1})"));
  EXPECT_EQ(doc["rules"][0]["content_sha256"],
            sql_value(*p.ipc1, "SELECT content_sha256 FROM rulekeeper.effective_rules('prod')"));
  EXPECT_EQ(r.header("etag"), fmt::format("\"{}\"", prod1));
  EXPECT_EQ(r.header("rulekeeper-epoch"), std::to_string(prod1));
  EXPECT_EQ(r.header("rulekeeper-stale-seconds"), "");
  Headers inm = pod("pod-a");
  inm.emplace_back("If-None-Match", fmt::format("\"{}\"", prod1));
  EXPECT_EQ(get(kGatewayIpc1, "/v1/channels/prod/rules", inm).status, 304);

  std::cout << "refusals: no pod (400), unknown channel (404 with the list), token (401)" << std::endl;
  r = get(kGatewayIpc1, "/v1/channels/prod/rules", {{"Authorization", "Bearer " + kToken}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.doc().value("error", "").find("Rulekeeper-Pod"), std::string::npos) << r.body;
  EXPECT_EQ(get(kGatewayIpc1, "/v1/channels/prod/rules", pod("bad pod!")).status, 400);
  r = get(kGatewayIpc1, "/v1/channels/green/rules", pod("pod-a"));
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(r.doc()["error"], "unknown channel \"green\"; the channels are sl and prod") << r.body;
  EXPECT_EQ(r.doc()["channels"], json::parse(R"(["sl","prod"])")) << r.body;
  EXPECT_EQ(get(kGatewayIpc1, "/v1/channels/prod/rules", {{"Rulekeeper-Pod", "pod-a"}}).status, 401);
  EXPECT_EQ(get(kGatewayIpc1, "/v1/channels/prod/rules",
                {{"Rulekeeper-Pod", "pod-a"}, {"Authorization", "Bearer wrong-token-0123456789"}})
                .status,
            401);
  EXPECT_EQ(get(kGatewayIpc1, "/v1/pods").status, 401);
  EXPECT_EQ(get(kGatewayIpc1, "/healthz").status, 200);  // health and metrics need no token
  EXPECT_EQ(get(kGatewayIpc1, "/v1/channels/prod/rules?after=x", pod("pod-a")).status, 400);
  EXPECT_EQ(get(kGatewayIpc1, "/v1/channels/prod/rules?after=1&wait=61s", pod("pod-a")).status, 400);
  EXPECT_EQ(get(kGatewayIpc1, fmt::format("/v1/channels/prod/rules?after={}&wait=0s", prod1), pod("pod-a")).status,
            304);

  std::cout << "an sl activation: sl's epoch moves at both gateways; prod's does not, no prod pod wakes" << std::endl;
  auto prod_poll = std::async(std::launch::async, [&] {
    return get(kGatewayIpc1, fmt::format("/v1/channels/prod/rules?after={}&wait=50s", prod1), pod("pod-poll"));
  });
  Sse prod_stream(kGatewayIpc2, fmt::format("/v1/channels/prod/events?after={}", channel_epoch(*p.ipc2, "prod")),
                  pod("pod-stream"));
  Sse sl_stream(kGatewayIpc1, "/v1/channels/sl/events", pod("pod-sl"));
  ASSERT_TRUE(wait_until([&] { return sl_stream.count("event: rules") == 1; })) << sl_stream.text();
  ASSERT_TRUE(wait_until([&] { return prod_stream.text().find(": waiting") != std::string::npos; }))
      << prod_stream.text();
  const long long sl_before = channel_epoch(*p.ipc2, "sl");
  p.ok({"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "gw.a", "--version", v2});
  const long long sl_after = channel_epoch(*p.ipc2, "sl");
  ASSERT_GT(sl_after, sl_before);
  EXPECT_EQ(channel_epoch(*p.ipc2, "prod"), prod1);
  ASSERT_TRUE(wait_until([&] { return sl_stream.count("event: rules") == 2; })) << sl_stream.text();
  EXPECT_NE(sl_stream.text().find(fmt::format("id: {}\n", sl_after)), std::string::npos) << sl_stream.text();
  ASSERT_TRUE(wait_until([&] { return get(kGatewayIpc2, "/healthz").doc()["served_epochs"]["sl"] == sl_after; }));
  EXPECT_EQ(get(kGatewayIpc1, "/v1/channels/prod/rules", pod("pod-a")).doc()["epoch"], prod1);
  EXPECT_EQ(prod_poll.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout)
      << "a prod long poll woke on an sl activation";
  EXPECT_EQ(prod_stream.count("event: rules"), 0u) << prod_stream.text();

  std::cout << "ipc1 paused while ipc2 activates in prod: ipc2's pods get it, ipc1's keep the old set" << std::endl;
  sql_value(*p.ipc1, "SELECT pg_wal_replay_pause()");
  ASSERT_TRUE(wait_until([&] { return sql_value(*p.ipc1, "SELECT pg_get_wal_replay_pause_state()") == "paused"; }));
  p.ok({"validate", "--yes", "--site", "e3", "--rule", "gw.a", "--version", v2, "--result", "passed", "--reason",
        "soft launch clean"});
  p.ok({"activate", "--yes", "--site", "e3", "--channel", "prod", "--rule", "gw.a", "--version", v2});
  const long long prod2 = channel_epoch(*p.ipc2, "prod");
  ASSERT_GT(prod2, prod1);
  ASSERT_TRUE(wait_until([&] { return prod_stream.count("event: rules") == 1; })) << prod_stream.text();
  EXPECT_NE(prod_stream.text().find(fmt::format("id: {}\nevent: rules\ndata: {{", prod2)), std::string::npos)
      << prod_stream.text();
  EXPECT_NE(prod_stream.text().find("\"label\":\"" + v2 + "\""), std::string::npos) << prod_stream.text();
  EXPECT_EQ(channel_epoch(*p.ipc1, "prod"), prod1);
  r = get(kGatewayIpc1, "/v1/channels/prod/rules", pod("pod-a"));
  EXPECT_EQ(r.doc()["epoch"], prod1);
  EXPECT_EQ(labels_of(r.doc()), "gw.a=" + v1);
  EXPECT_EQ(prod_poll.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout)
      << "ipc1's gateway answered with a set ipc1 does not hold";
  sql_value(*p.ipc1, "SELECT pg_wal_replay_resume()");
  ASSERT_EQ(prod_poll.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  r = prod_poll.get();
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.doc()["epoch"], prod2) << r.body;
  EXPECT_EQ(labels_of(r.doc()), "gw.a=" + v2);
  EXPECT_EQ(channel_epoch(*p.ipc1, "prod"), prod2);

  std::cout << "/v1/pods and rulectl pods: the pods, their channels, the epochs they were served" << std::endl;
  r = get(kGatewayIpc1, "/v1/pods", {{"Authorization", "Bearer " + kToken}});
  ASSERT_EQ(r.status, 200) << r.body;
  doc = r.doc();
  EXPECT_EQ(doc["site"], "ipc1");
  std::map<std::string, json> pods;
  for (const auto& x : doc["pods"]) pods[x["pod"].get<std::string>()] = x;
  ASSERT_TRUE(pods.count("pod-poll") && pods.count("pod-a") && pods.count("pod-sl")) << doc;
  EXPECT_EQ(pods["pod-poll"]["served_epoch"], prod2);
  EXPECT_EQ(pods["pod-poll"]["current_epoch"], prod2);
  EXPECT_EQ(pods["pod-poll"]["behind"], false);
  EXPECT_EQ(pods["pod-poll"]["connected"], false);
  EXPECT_EQ(pods["pod-a"]["served_epoch"], prod1);
  EXPECT_EQ(pods["pod-a"]["behind"], true);
  EXPECT_EQ(pods["pod-a"]["labels"], json::parse(R"({"zone":"a","app":"pricing"})"));
  EXPECT_EQ(pods["pod-sl"]["channel"], "sl");
  EXPECT_EQ(pods["pod-sl"]["connected"], true);
  EXPECT_EQ(pods["pod-sl"]["served_epoch"], sl_after);
  EXPECT_EQ(pods["pod-a"]["remote"].get<std::string>().rfind("127.0.0.1:", 0), 0u);
  auto cli = p.rulectl({"--json", "pods"});
  ASSERT_EQ(cli.exit_code, 0) << cli.out << cli.err;
  json cj = json::parse(cli.out);
  ASSERT_EQ(cj["gateways"].size(), 2u) << cli.out;
  for (const auto& g : cj["gateways"]) EXPECT_EQ(g["reachable"], true) << g;
  cli = p.rulectl({"pods"});
  EXPECT_EQ(cli.exit_code, 0) << cli.out << cli.err;
  EXPECT_NE(cli.out.find("pod-poll"), std::string::npos) << cli.out;
  const std::string metrics = get(kGatewayIpc1, "/metrics").body;
  EXPECT_NE(metrics.find(fmt::format("rulekeeper_gateway_served_epoch{{channel=\"prod\"}} {}", prod2)),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("rulekeeper_gateway_node_connections{node=\"ipc1\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("rulekeeper_gateway_pods{channel=\"sl\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("rulekeeper_gateway_notifications_total{channel=\"prod\"} 1"), std::string::npos) << metrics;

  std::cout << "ipc1 stopped: the last set served, marked stale; /healthz 503; the stream told" << std::endl;
  p.ipc1->stop();
  ASSERT_TRUE(wait_until([&] { return get(kGatewayIpc1, "/healthz").status == 503; })) << g1->log();
  health1 = get(kGatewayIpc1, "/healthz").doc();
  EXPECT_EQ(health1["node_reachable"], false) << health1;
  EXPECT_TRUE(health1["stale_seconds"].is_number()) << health1;
  r = get(kGatewayIpc1, "/v1/channels/prod/rules", pod("pod-a"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.doc()["epoch"], prod2);
  EXPECT_EQ(labels_of(r.doc()), "gw.a=" + v2);
  EXPECT_TRUE(r.doc()["stale_seconds"].is_number()) << r.body;
  EXPECT_NE(r.header("rulekeeper-stale-seconds"), "") << r.body;
  ASSERT_TRUE(wait_until([&] {
    return sl_stream.text().find("event: stale\ndata: {\"stale_seconds\":") != std::string::npos;
  })) << sl_stream.text();
  cli = p.rulectl({"pods"});
  EXPECT_EQ(cli.exit_code, 0) << "a gateway with its node down still answers /v1/pods: " << cli.out << cli.err;
  p.ipc1->start();
  ASSERT_TRUE(wait_until([&] { return get(kGatewayIpc1, "/healthz").status == 200; })) << g1->log();
  r = get(kGatewayIpc1, "/v1/channels/prod/rules", pod("pod-a"));
  EXPECT_TRUE(r.doc()["stale_seconds"].is_null()) << r.body;
  EXPECT_EQ(r.header("rulekeeper-stale-seconds"), "");

  std::cout << "ipc2's gateway down: rulectl pods reports it (exit 4), still lists ipc1's" << std::endl;
  EXPECT_EQ(g2->stop(), 0) << g2->log();
  EXPECT_TRUE(prod_stream.ended() || wait_until([&] { return prod_stream.ended(); }, std::chrono::seconds(10)));
  cli = p.rulectl({"pods"});
  EXPECT_EQ(cli.exit_code, 4) << cli.out << cli.err;
  EXPECT_NE(cli.out.find("DOWN"), std::string::npos) << cli.out;
  EXPECT_NE(cli.out.find("pod-poll"), std::string::npos) << cli.out;

  std::cout << "ipc1's gateway restarted: a following pod reconnects and gets the next set" << std::endl;
  // The pod: long polls after the epoch it holds, reconnecting on failure.
  std::atomic<bool> follow{true};
  auto follower = std::async(std::launch::async, [&] {
    long long have = prod2;
    int reconnects = 0;
    while (follow.load()) {
      Reply x = get(kGatewayIpc1, fmt::format("/v1/channels/prod/rules?after={}&wait=5s", have), pod("pod-follow"));
      if (x.status == 200) return std::make_pair(x, reconnects);
      if (x.status == 0 || x.status >= 500) {
        ++reconnects;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    return std::make_pair(Reply{}, reconnects);
  });
  ASSERT_TRUE(wait_until([&] {
    const std::string pods_now = get(kGatewayIpc1, "/v1/pods", {{"Authorization", "Bearer " + kToken}}).body;
    return pods_now.find("pod-follow") != std::string::npos;
  }));
  EXPECT_EQ(g1->stop(), 0) << g1->log();
  g1 = std::make_unique<Daemon>("gateway-ipc1-again", gateway_argv(p, "ipc1"));
  ASSERT_TRUE(wait_until([&] { return get(kGatewayIpc1, "/healthz").status == 200; })) << g1->log();
  const std::string v3 = p.create_version("gw.a", R"({"rate": 3})");
  p.ship();
  p.to_prod("gw.a", v3);
  const long long prod3 = channel_epoch(*p.ipc2, "prod");
  ASSERT_EQ(follower.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  follow = false;
  auto [got, reconnects] = follower.get();
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.doc()["epoch"], prod3) << got.body;
  EXPECT_EQ(labels_of(got.doc()), "gw.a=" + v3);
  EXPECT_GE(reconnects, 1);

  std::cout << "ipc1's prod held at ipc2: ipc1's gateway serves the held set while prod moves on; released → new"
            << std::endl;
  p.ok({"--yes", "notify", "hold", "--site", "ipc1", "--channel", "prod", "--reason", "ipc1 an hour later"});
  ASSERT_TRUE(wait_until([&] { return get(kGatewayIpc1, "/healthz").doc()["held"]["prod"] == true; })) << g1->log();
  auto held_poll = std::async(std::launch::async, [&] {
    return get(kGatewayIpc1, fmt::format("/v1/channels/prod/rules?after={}&wait=50s", prod3), pod("pod-held"));
  });
  const std::string v4 = p.create_version("gw.a", R"({"rate": 4})");
  p.ship();
  p.to_prod("gw.a", v4);
  const long long prod4 = channel_epoch(*p.ipc2, "prod");
  ASSERT_TRUE(wait_until([&] { return get(kGatewayIpc1, "/healthz").doc()["epochs"]["prod"] == prod4; }))
      << get(kGatewayIpc1, "/healthz").body;
  json held = get(kGatewayIpc1, "/healthz").doc();
  EXPECT_EQ(held["served_epochs"]["prod"], prod3) << held;
  r = get(kGatewayIpc1, "/v1/channels/prod/rules", pod("pod-a"));
  EXPECT_EQ(r.doc()["epoch"], prod3) << r.body;
  EXPECT_EQ(r.doc()["held"], true) << r.body;
  EXPECT_EQ(labels_of(r.doc()), "gw.a=" + v3);
  EXPECT_EQ(held_poll.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout)
      << "a pod of a held channel was woken";
  EXPECT_NE(get(kGatewayIpc1, "/metrics").body.find("rulekeeper_gateway_held{channel=\"prod\"} 1"), std::string::npos);
  p.ok({"--yes", "notify", "release", "--site", "ipc1", "--channel", "prod", "--reason", "go"});
  ASSERT_EQ(held_poll.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  r = held_poll.get();
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.doc()["epoch"], prod4) << r.body;
  EXPECT_EQ(r.doc()["held"], false) << r.body;
  EXPECT_EQ(labels_of(r.doc()), "gw.a=" + v4);

  std::cout << "ipc1 promoted: its gateway says primary and waits on LISTEN" << std::endl;
  p.ipc1->promote();
  ASSERT_TRUE(wait_until([&] { return get(kGatewayIpc1, "/healthz").doc()["role"] == "primary"; })) << g1->log();
  EXPECT_NE(g1->log().find("primary: waiting on LISTEN rulekeeper_activation"), std::string::npos) << g1->log();
  EXPECT_EQ(g1->stop(), 0) << g1->log();
}

TEST(Gateway, ConfigErrorsExit2) {
  const fs::path dir = rulekeeper::testing::write_temp_file("gw.toml", "").parent_path();
  auto run = [&](const std::string& toml, const std::vector<std::string>& args) {
    const fs::path f = dir / "gw.toml";
    std::ofstream(f) << toml;
    std::vector<std::string> a{"--config", f.string()};
    a.insert(a.end(), args.begin(), args.end());
    return rulekeeper::testing::run_rulectl(a);
  };
  const std::string site = "[sites.ipc1]\nconninfo = \"host=127.0.0.1 port=1 dbname=rules\"\nenvironment = \"e3\"\n";
  auto r = run(site + "[sites.ipc1.gateway]\nlisten = \"localhost\"\n", {"gateway", "--node", "ipc1"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("sites.ipc1.gateway.listen"), std::string::npos) << r.err;
  r = run(site + "[sites.ipc1.gateway]\nlisten = \"127.0.0.1:1\"\npoll_intervall_ms = 5\n",
          {"gateway", "--node", "ipc1"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("poll_intervall_ms: unknown key"), std::string::npos) << r.err;
  r = run(site + "[sites.ipc1.gateway]\nlisten = \"127.0.0.1:1\"\ntls_certificate = \"/x.crt\"\n",
          {"gateway", "--node", "ipc1"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("go together"), std::string::npos) << r.err;
  r = run(site + "[sites.ipc1.gateway]\nlisten = \"127.0.0.1:" + std::to_string(kGatewayIpc1) +
              "\"\ntls_certificate = \"/nonexistent/gw.crt\"\ntls_private_key = \"/nonexistent/gw.key\"\n",
          {"gateway", "--node", "ipc1"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("/nonexistent/gw.crt"), std::string::npos) << r.err;
  r = run(site, {"gateway", "--node", "ipc1"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("[sites.ipc1.gateway]"), std::string::npos) << r.err;
  r = run(site, {"pods"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
}
