// Monitoring (issue #17 item 4) against real clusters (pipeline.hpp: e1, e2,
// ipc2 the E3 primary, ipc1 its streaming standby) and the real tools:
//
// - Debian's prometheus-postgres-exporter with monitoring/postgres_exporter.yaml
//   scraping ipc2 and ipc1 as a login granted only rulekeeper_monitor: every
//   rulekeeper_* metric equals what SQL says, before and after an activation
//   and a hotfix; the login can read no rule and write nothing.
// - `rulectl watch --metrics-listen`: the cross-node metrics follow a
//   standby whose replay is paused (lag in changes, at risk), its resume, and
//   the primary's death; SIGTERM ends the run with its exit code.
//
// Every daemon the tests start (exporters, watch) is a Daemon: stopped by its
// destructor also when an assertion fails. Every wait is a bounded poll.
// Ports: integration_monitoring in tests/ports.txt.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include <boost/asio.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "daemon.hpp"
#include "pipeline.hpp"

using namespace rulekeeper;
using rulekeeper::testing::Pipeline;
using rulekeeper::testing::sql_value;
namespace ports = rulekeeper::testing::ports;
namespace fs = std::filesystem;
namespace net = boost::asio;

extern char** environ;

namespace {

constexpr int kExporterNodes = ports::integration_monitoring[0];  // e1, e2, ipc2, ipc1: [0..3]
constexpr int kExporterIpc2 = ports::integration_monitoring[4];
constexpr int kExporterIpc1 = ports::integration_monitoring[5];
constexpr int kWatchNodes = ports::integration_monitoring[6];  // [6..9]
constexpr int kWatchMetrics = ports::integration_monitoring[10];

using rulekeeper::testing::Daemon;

struct HttpReply {
  int status = 0;  // 0: nothing answered
  std::string body;
};

// GET over HTTP/1.0 (no chunked encoding; the server closes), read to EOF.
HttpReply http_get(int port, const std::string& path) {
  HttpReply r;
  try {
    net::io_context ctx;
    net::ip::tcp::socket s(ctx);
    s.connect({net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
    const std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    net::write(s, net::buffer(req));
    std::string all;
    char buf[8192];
    boost::system::error_code ec;
    for (std::size_t n; (n = s.read_some(net::buffer(buf), ec)) > 0 && !ec;) all.append(buf, n);
    const std::size_t end = all.find("\r\n\r\n");
    if (all.size() < 12 || end == std::string::npos) return r;
    r.status = std::stoi(all.substr(9, 3));
    r.body = all.substr(end + 4);
  } catch (const std::exception&) {
    r.status = 0;
  }
  return r;
}

// The value of the first sample `name` whose labels include `labels`
// (nullopt: no such sample; NaN stays NaN).
std::optional<double> metric(const std::string& text, const std::string& name,
                             const std::map<std::string, std::string>& labels = {}) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const std::size_t brace = line.find('{');
    const std::size_t space = line.rfind(' ');
    const std::string n = line.substr(0, std::min(brace, line.find(' ')));
    if (n != name) continue;
    bool all = true;
    for (const auto& [k, v] : labels) all &= line.find(k + "=\"" + v + "\"") != std::string::npos;
    if (!all) continue;
    const std::string value = line.substr(space + 1);
    if (value == "NaN") return std::nan("");
    return std::stod(value);
  }
  return std::nullopt;
}

// Scrapes until `pred(text)` holds (polled every 200 ms, at most `limit`);
// returns the last text scraped.
template <typename Pred>
std::string scrape_until(int port, Pred pred, std::chrono::seconds limit = std::chrono::seconds(60)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  std::string text;
  for (;;) {
    const HttpReply r = http_get(port, "/metrics");
    if (r.status == 200) text = r.body;
    if (r.status == 200 && pred(text)) return text;
    if (std::chrono::steady_clock::now() >= end) return text;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

template <typename... Args>
double sql_number(const cluster::Node& n, const std::string& sql, Args&&... args) {
  return std::stod(sql_value(n, sql, std::forward<Args>(args)...));
}

// Until `pred` holds (polled every 100 ms), at most `limit`.
template <typename Pred>
bool wait_until(Pred pred, std::chrono::seconds limit = std::chrono::seconds(60)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return true;
}

std::vector<std::string> exporter_argv(int port) {
  return {"/usr/bin/prometheus-postgres-exporter",
          "--extend.query-path=" + std::string(RULEKEEPER_SOURCE_DIR) + "/monitoring/postgres_exporter.yaml",
          fmt::format("--web.listen-address=127.0.0.1:{}", port), "--log.level=warn"};
}

std::string exporter_dsn(const cluster::Node& n) {
  return fmt::format("DATA_SOURCE_NAME=host=127.0.0.1 port={} user=rk_exporter dbname=rules sslmode=disable", n.port());
}

// What SQL says and what the exporter says about `node`, side by side.
void expect_exporter_matches_sql(const std::string& text, const cluster::Node& node, const std::string& role) {
  const std::map<std::string, std::string> me{{"site", node.site()}, {"role", role}, {"environment", "e3"}};
  SCOPED_TRACE(node.site() + ":\n" + text);
  EXPECT_EQ(metric(text, "rulekeeper_node_up", me), 1.0);
  EXPECT_EQ(metric(text, "rulekeeper_node_activation_epoch", me),
            sql_number(node, "SELECT rulekeeper.activation_epoch()"));
  EXPECT_EQ(metric(text, "rulekeeper_node_epoch_incarnation", me),
            sql_number(node, "SELECT rulekeeper.activation_epoch() >> 32"));
  for (const char* ch : {"prod", "sl"})
    EXPECT_EQ(metric(text, "rulekeeper_channel_activation_epoch", {{"channel", ch}}),
              sql_number(node, fmt::format("SELECT coalesce(max(epoch), 0) FROM rulekeeper.activation_history "
                                           "WHERE channel = '{}'",
                                           ch)))
        << ch;
  for (const char* ch : {"prod", "sl"})
    EXPECT_EQ(metric(text, "rulekeeper_channel_active_rules", {{"channel", ch}}),
              sql_number(node, fmt::format("SELECT count(*) FROM rulekeeper.activation WHERE channel = '{}'", ch)));
  for (const char* q : {"awaiting_sl", "sl_validated", "sl_failed", "hotfix", "recovered"})
    EXPECT_EQ(metric(text, "rulekeeper_qualification_versions", {{"qualification", q}}),
              sql_number(node,
                         fmt::format("SELECT count(*) FROM rulekeeper.rule_version WHERE qualification = '{}'", q)))
        << q;
  EXPECT_EQ(metric(text, "rulekeeper_node_open_conflicts", me),
            sql_number(node, "SELECT count(*) FROM rulekeeper.conflict WHERE status = 'open'"));
  EXPECT_EQ(metric(text, "rulekeeper_node_last_release_timestamp_seconds", me),
            sql_number(node, "SELECT extract(epoch FROM rulekeeper.last_release_at())"));
  const std::optional<double> age = metric(text, "rulekeeper_node_heartbeat_age_seconds", me);
  ASSERT_TRUE(age.has_value());
  EXPECT_TRUE(std::isfinite(*age) && *age >= 0 && *age < 60) << *age;
  const std::optional<double> lag = metric(text, "rulekeeper_node_replay_lag_upper_bound_seconds", me);
  ASSERT_TRUE(lag.has_value());
  if (role == "primary")
    EXPECT_EQ(*lag, 0.0);
  else
    EXPECT_TRUE(std::isfinite(*lag) && *lag >= 0 && *lag < 60) << *lag;
  EXPECT_EQ(metric(text, "pg_exporter_last_scrape_error"), 0.0);
}

}  // namespace

TEST(Monitoring, ExporterScrapesNodesAsMonitorRole) {
  Pipeline p(kExporterNodes);
  p.create_rule("mon.a", "mon");
  p.create_version("mon.a", R"({"rate": 1})");
  p.ship();
  p.to_prod("mon.a", "1");
  sql_value(*p.ipc2, "CREATE ROLE rk_exporter LOGIN IN ROLE rulekeeper_monitor");
  sql_value(*p.ipc2, "INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES ('mon', ARRAY['/rate'])");
  p.ipc1->wait_replayed(*p.ipc2, std::chrono::seconds(60));

  Daemon exp2("exporter-ipc2", exporter_argv(kExporterIpc2), {exporter_dsn(*p.ipc2)});
  Daemon exp1("exporter-ipc1", exporter_argv(kExporterIpc1), {exporter_dsn(*p.ipc1)});
  auto has_node = [](const std::string& t) { return metric(t, "rulekeeper_node_up").has_value(); };
  auto has_heartbeat = [](const std::string& t) {
    const auto a = metric(t, "rulekeeper_node_heartbeat_age_seconds");
    return a && std::isfinite(*a);
  };
  std::string t2 = scrape_until(kExporterIpc2, has_heartbeat);
  ASSERT_TRUE(has_node(t2)) << "no rulekeeper metric from the exporter of ipc2:\n" << t2 << "\n" << exp2.log();
  std::string t1 = scrape_until(kExporterIpc1, has_heartbeat);
  ASSERT_TRUE(has_node(t1)) << "no rulekeeper metric from the exporter of ipc1:\n" << t1 << "\n" << exp1.log();
  std::cout << "checking the exporter's metrics of ipc2 (primary) and ipc1 (standby) against SQL" << std::endl;
  expect_exporter_matches_sql(t2, *p.ipc2, "primary");
  expect_exporter_matches_sql(t1, *p.ipc1, "standby");
  const double epoch_before = sql_number(*p.ipc2, "SELECT rulekeeper.activation_epoch()");
  EXPECT_GT(epoch_before, 0);
  EXPECT_EQ(metric(t2, "rulekeeper_node_drift_since_last_release"), 0.0);
  EXPECT_EQ(metric(t2, "rulekeeper_node_hotfixes_since_last_release"), 0.0);

  // An activation: both nodes' epochs move once ipc1 replayed it.
  std::cout << "after an activation in prod and a hotfix: epochs, drift, versions by qualification" << std::endl;
  p.create_version("mon.a", R"({"rate": 2})");
  p.ship();
  p.to_prod("mon.a", "2");
  sql_value(*p.ipc2, "SELECT rulekeeper.hotfix('mon.a', '{\"rate\": 3}'::jsonb, 'monitoring test')");
  p.ipc1->wait_replayed(*p.ipc2, std::chrono::seconds(60));
  const double epoch_after = sql_number(*p.ipc2, "SELECT rulekeeper.activation_epoch()");
  EXPECT_GT(epoch_after, epoch_before);
  auto at_epoch = [&](const std::string& t) {
    return metric(t, "rulekeeper_node_activation_epoch") == epoch_after && has_heartbeat(t);
  };
  t2 = scrape_until(kExporterIpc2, at_epoch);
  t1 = scrape_until(kExporterIpc1, at_epoch);
  expect_exporter_matches_sql(t2, *p.ipc2, "primary");
  expect_exporter_matches_sql(t1, *p.ipc1, "standby");
  for (const std::string* t : {&t2, &t1}) {
    EXPECT_EQ(metric(*t, "rulekeeper_node_drift_since_last_release"), 1.0) << *t;
    EXPECT_EQ(metric(*t, "rulekeeper_node_hotfixes_since_last_release"), 1.0) << *t;
    EXPECT_EQ(metric(*t, "rulekeeper_qualification_versions", {{"qualification", "hotfix"}}), 1.0) << *t;
  }

  // Least privilege: the exporter's login may call the three monitor_*
  // functions and nothing else of the extension — no table, no view, no
  // other function — so it reads no rule and writes nothing.
  std::cout << "rk_exporter (rulekeeper_monitor only) can call monitor_* and nothing else" << std::endl;
  EXPECT_EQ(sql_value(*p.ipc2,
                      "SELECT string_agg(p.oid::regprocedure::text, ', ' ORDER BY 1) FROM pg_proc p "
                      "WHERE p.pronamespace = 'rulekeeper'::regnamespace "
                      "AND has_function_privilege('rk_exporter', p.oid, 'EXECUTE')"),
            "rulekeeper.monitor_channels(), rulekeeper.monitor_node(), rulekeeper.monitor_versions()");
  EXPECT_EQ(sql_value(*p.ipc2,
                      "SELECT count(*) FROM pg_class c WHERE c.relnamespace = 'rulekeeper'::regnamespace "
                      "AND c.relkind IN ('r', 'v', 'm', 'p', 'f') AND (has_table_privilege('rk_exporter', c.oid, "
                      "'SELECT') OR has_table_privilege('rk_exporter', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE'))"),
            "0");
  const std::string as_exporter =
      fmt::format("host=127.0.0.1 port={} user=rk_exporter dbname=rules connect_timeout=5", p.ipc2->port());
  for (const char* sql : {
           "SELECT count(*) FROM rulekeeper.rule_version",
           "SELECT count(*) FROM rulekeeper.effective_rules('prod')",
           "SELECT rulekeeper.activation_epoch()",
           "SELECT rulekeeper.activate('mon.a', '1', 'sl')",
           "SELECT rulekeeper.hotfix('mon.a', '{\"rate\": 4}'::jsonb, 'as the exporter')",
           "INSERT INTO rulekeeper.heartbeat (site, beat_at, beat_seq) VALUES ('x', now(), 1)",
           "UPDATE rulekeeper.conflict SET status = status",
       }) {
    pqxx::connection c(as_exporter);
    pqxx::nontransaction tx(c);
    try {
      tx.exec(sql);
      ADD_FAILURE() << "rk_exporter could run: " << sql;
    } catch (const pqxx::insufficient_privilege& e) {
      // SQLSTATE 42501: the privilege check, before anything ran.
      EXPECT_NE(std::string(e.what()).find("permission denied for"), std::string::npos) << sql << ": " << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << sql << ": not a permission error: " << e.what();
    }
  }

  // The exporters stop (SIGTERM) and nothing listens on their ports.
  exp2.stop();
  exp1.stop();
  EXPECT_FALSE(exp2.running());
  EXPECT_EQ(http_get(kExporterIpc2, "/metrics").status, 0);
  EXPECT_EQ(http_get(kExporterIpc1, "/metrics").status, 0);
}

TEST(Monitoring, WatchServesCrossNodeMetrics) {
  Pipeline p(kWatchNodes);
  p.create_rule("mon.w", "mon");
  p.create_version("mon.w", R"({"rate": 1})");
  p.ship();
  p.to_prod("mon.w", "1");
  sql_value(*p.ipc2, "INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES ('mon', ARRAY['/rate'])");
  p.ipc1->wait_replayed(*p.ipc2, std::chrono::seconds(60));

  Daemon watch("watch", {RULECTL_BINARY, "--config", p.config, "watch", "--interval", "200", "--fail-after", "3",
                         "--metrics-listen", fmt::format("127.0.0.1:{}", kWatchMetrics)});
  const std::map<std::string, std::string> ipc1{{"standby", "ipc1"}};
  std::cout << "watch --metrics-listen: the pipeline in sync" << std::endl;
  std::string t = scrape_until(kWatchMetrics, [&](const std::string& x) {
    return metric(x, "rulekeeper_watch_standby_lag_changes", ipc1) == 0.0 &&
           metric(x, "rulekeeper_watch_standby_at_risk_changes", ipc1) == 0.0;
  });
  ASSERT_EQ(metric(t, "rulekeeper_watch_standby_lag_changes", ipc1), 0.0) << t << "\n" << watch.log();
  EXPECT_EQ(metric(t, "rulekeeper_watch_primary", {{"site", "ipc2"}}), 1.0) << t;
  EXPECT_EQ(metric(t, "rulekeeper_watch_primary_reachable"), 1.0) << t;
  EXPECT_EQ(metric(t, "rulekeeper_watch_split_brain"), 0.0) << t;
  EXPECT_EQ(metric(t, "rulekeeper_watch_writable_e3_sites"), 1.0) << t;
  EXPECT_EQ(metric(t, "rulekeeper_watch_verdict", {{"verdict", "ok"}}), 1.0) << t;
  EXPECT_EQ(metric(t, "rulekeeper_watch_verdict", {{"verdict", "split_brain"}}), 0.0) << t;
  EXPECT_EQ(metric(t, "rulekeeper_watch_standby_oldest_at_risk_age_seconds", ipc1), 0.0) << t;
  for (const char* s : {"e1", "e2", "ipc2", "ipc1"})
    EXPECT_EQ(metric(t, "rulekeeper_watch_site_up", {{"site", s}}), 1.0);
  EXPECT_EQ(metric(t, "rulekeeper_watch_site_writable", {{"site", "ipc1"}}), 0.0) << t;
  EXPECT_GT(metric(t, "rulekeeper_watch_checks_total").value_or(0), 0.0) << t;
  EXPECT_GT(metric(t, "rulekeeper_watch_last_check_timestamp_seconds").value_or(0), 1.7e9) << t;
  EXPECT_EQ(http_get(kWatchMetrics, "/nothing").status, 404);

  // ipc1 stops replaying; a hotfix at ipc2: ipc1 lags by exactly the entries
  // the primary holds that ipc1's version vector lacks.
  std::cout << "ipc1's replay paused, a hotfix at ipc2: lag in changes and at risk" << std::endl;
  sql_value(*p.ipc1, "SELECT pg_wal_replay_pause()");
  ASSERT_TRUE(wait_until([&] { return sql_value(*p.ipc1, "SELECT pg_get_wal_replay_pause_state()") == "paused"; }));
  const std::string vector = sql_value(*p.ipc1, "SELECT rulekeeper.version_vector()::text");
  sql_value(*p.ipc2, "SELECT rulekeeper.hotfix('mon.w', '{\"rate\": 2}'::jsonb, 'lag test')");
  const double missing = sql_number(*p.ipc2, "SELECT count(*) FROM rulekeeper.journal_since($1::jsonb)", vector);
  ASSERT_GT(missing, 0);
  t = scrape_until(kWatchMetrics, [&](const std::string& x) {
    return metric(x, "rulekeeper_watch_standby_lag_changes", ipc1) == missing;
  });
  EXPECT_EQ(metric(t, "rulekeeper_watch_standby_lag_changes", ipc1), missing) << t;
  const double at_risk = metric(t, "rulekeeper_watch_standby_at_risk_changes", ipc1).value_or(-1);
  EXPECT_TRUE(at_risk >= 0 && at_risk <= missing) << t;
  EXPECT_GE(metric(t, "rulekeeper_watch_standby_oldest_at_risk_age_seconds", ipc1).value_or(-1), 0.0) << t;

  sql_value(*p.ipc1, "SELECT pg_wal_replay_resume()");
  t = scrape_until(kWatchMetrics, [&](const std::string& x) {
    return metric(x, "rulekeeper_watch_standby_lag_changes", ipc1) == 0.0 &&
           metric(x, "rulekeeper_watch_standby_at_risk_changes", ipc1) == 0.0;
  });
  EXPECT_EQ(metric(t, "rulekeeper_watch_standby_lag_changes", ipc1), 0.0) << t;
  EXPECT_EQ(metric(t, "rulekeeper_watch_standby_at_risk_changes", ipc1), 0.0) << t;

  // The primary dies: watch says so after --fail-after checks, keeps serving
  // metrics, and ipc1's lag is unknown (NaN) with no primary to ask.
  std::cout << "ipc2 killed: primary unreachable, FAILED, lag unknown; watch keeps serving" << std::endl;
  p.ipc2->kill9();
  t = scrape_until(kWatchMetrics,
                   [&](const std::string& x) { return metric(x, "rulekeeper_watch_primary_failed") == 1.0; });
  EXPECT_EQ(metric(t, "rulekeeper_watch_primary_failed"), 1.0) << t << "\n" << watch.log();
  EXPECT_EQ(metric(t, "rulekeeper_watch_primary_reachable"), 0.0) << t;
  EXPECT_EQ(metric(t, "rulekeeper_watch_verdict", {{"verdict", "primary_failed"}}), 1.0) << t;
  EXPECT_EQ(metric(t, "rulekeeper_watch_verdict", {{"verdict", "ok"}}), 0.0) << t;
  EXPECT_EQ(metric(t, "rulekeeper_watch_site_up", {{"site", "ipc2"}}), 0.0) << t;
  EXPECT_EQ(metric(t, "rulekeeper_watch_outages_total"), 1.0) << t;
  EXPECT_TRUE(std::isnan(metric(t, "rulekeeper_watch_standby_lag_changes", ipc1).value_or(0))) << t;
  EXPECT_TRUE(watch.running()) << watch.log();

  // SIGTERM: the run ends as its last check would — an outage was seen: exit 3.
  EXPECT_EQ(watch.stop(), 3) << watch.log();
  const std::string log = watch.log();
  EXPECT_NE(log.find("E3 PRIMARY ipc2 FAILED 3 consecutive checks"), std::string::npos) << log;
  EXPECT_NE(log.find("1 outage(s) of the E3 primary during this run (exit 3)"), std::string::npos) << log;
  EXPECT_EQ(http_get(kWatchMetrics, "/metrics").status, 0);
}

// A mistyped address or a port in use: exit 2 naming the flag, before any
// site is checked (the address is checked before the configuration is read).
TEST(Monitoring, MetricsListenRefusesABadAddressOrAPortInUse) {
  const std::map<std::string, std::string> cases{
      {"9500", "--metrics-listen '9500' is not HOST:PORT (e.g. 127.0.0.1:9500)"},
      {"localhost:9500", "--metrics-listen 'localhost:9500': 'localhost' is not an IP address"},
      {"127.0.0.1:99999", "--metrics-listen '127.0.0.1:99999': the port must be a number from 0 to 65535"}};
  for (const auto& [bad, message] : cases) {
    const auto r =
        rulekeeper::testing::run_rulectl({"--config", "/nonexistent.toml", "watch", "--metrics-listen", bad});
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.out << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
  }
  net::io_context ctx;
  net::ip::tcp::acceptor taken(ctx, {net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(kWatchMetrics)});
  const auto r = rulekeeper::testing::run_rulectl(
      {"--config", "/nonexistent.toml", "watch", "--metrics-listen", fmt::format("127.0.0.1:{}", kWatchMetrics)});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find(
                fmt::format("--metrics-listen: cannot listen on 127.0.0.1:{}: Address already in use", kWatchMetrics)),
            std::string::npos)
      << r.err;
}
