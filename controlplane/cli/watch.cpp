// `rulectl watch [--interval MS] [--fail-after N] [--on-fail CMD]
// [--on-fail-timeout S] [--count N] [--metrics-listen HOST:PORT]`: options,
// the operation (ops/watch.hpp says what it does) and one line per event as
// it happens, flushed — with --json one JSON object per line (NDJSON, issue
// #15 item 13), the last one the summary ("kind": "summary"). With
// --metrics-listen, GET /metrics serves what watch knows after each tick as
// Prometheus metrics (ops/watch_metrics.hpp, issue #17 item 4). SIGTERM and
// ^C end the run as its last --count check would (summary, exit code).
#include <atomic>
#include <csignal>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <tuple>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "common/errors.hpp"
#include "common/output.hpp"
#include "http/prometheus.hpp"
#include "http/server.hpp"
#include "ops/watch.hpp"
#include "ops/watch_metrics.hpp"

namespace rulekeeper::cli {
namespace {

std::atomic<bool> stop_signal{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");
extern "C" void on_stop_signal(int) { stop_signal.store(true); }

struct WatchOptions {
  ops::WatchRequest request;
  std::string metrics_listen;
};

int watch(const GlobalOptions& global, WatchOptions& options) {
  ops::WatchRequest o = options.request;
  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGINT, on_stop_signal);
  o.stop_requested = [] { return stop_signal.load(); };

  // --metrics-listen: the latest view's text, served by /metrics.
  std::mutex metrics_mu;
  std::string metrics = ops::watch_metrics_text(ops::WatchView{});
  std::optional<http::Server> server;
  if (!options.metrics_listen.empty()) {
    http::ServerOptions so;
    try {
      std::tie(so.address, so.port) = http::Server::parse_listen_address(options.metrics_listen);
    } catch (const std::invalid_argument& e) {
      throw common::ExitError(common::exit_usage, fmt::format("--metrics-listen {}", e.what()));
    }
    server.emplace(so);
    server->get("/metrics", [&](const http::Request&) {
      http::Response r;
      r.content_type = http::MetricsText::kContentType;
      std::lock_guard<std::mutex> lock(metrics_mu);
      r.body = metrics;
      return r;
    });
    try {
      server->start();
    } catch (const std::runtime_error& e) {
      throw common::ExitError(common::exit_usage, fmt::format("--metrics-listen: {}", e.what()));
    }
    std::cerr << fmt::format("serving metrics at http://{}/metrics", server->endpoint()) << std::endl;
    o.measure_lag = true;
    o.keep_watching = true;
    o.on_view = [&](const ops::WatchView& view) {
      std::string text = ops::watch_metrics_text(view);
      std::lock_guard<std::mutex> lock(metrics_mu);
      metrics = std::move(text);
    };
  }
  // After the listener: a bad address or a port in use is said before any site is read.
  const config::Config config = load_config(global);
  const bool json = global.json;
  auto line = [](const nlohmann::json& j) {
    // One line, flushed: a pipe reader sees each event when it happens.
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
  };
  const ops::WatchReport report = ops::watch(config, o, [&](const ops::WatchEvent& e) {
    if (json) return line(e.to_json());
    const std::string detail = e.detail.empty() ? "" : " (" + e.detail + ")";
    if (e.kind == "site" || e.kind == "primary" || e.kind == "failed")
      std::cout << fmt::format("{}  {:<8} {} -> {}{}", e.at, e.site, e.from.empty() ? "(start)" : e.from, e.to, detail);
    else if (e.kind == "configuration")
      std::cout << fmt::format("{}  {:<8} CONFIGURATION: {}{}", e.at, e.site, e.to, detail);
    else  // split_brain, on_fail: a statement, not a change of state
      std::cout << fmt::format("{}  {:<8} {}{}", e.at, e.site, e.to, detail);
    std::cout << std::endl;
  });
  if (json) {
    nlohmann::json summary = report.to_json();
    summary.erase("events");  // each was its own line
    summary["kind"] = "summary";
    line(summary);
  } else if (report.exit_code == common::exit_refused) {
    std::cout << fmt::format("{} outage(s) of the E3 primary during this run (exit 3)", report.outages) << std::endl;
  } else if (report.exit_code == common::exit_usage) {
    std::cout << fmt::format("{} site(s) refused rulectl's login during this run: a configuration problem (exit 2)",
                             report.refused_logins)
              << std::endl;
  }
  if (server) server->stop(std::chrono::seconds(2));
  return report.exit_code;
}

}  // namespace

void add_watch(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto options = std::make_shared<WatchOptions>();
  ops::WatchRequest* o = &options->request;
  CLI::App* cmd = app.add_subcommand(
      "watch",
      "poll every site, print one line per change of health; exit 4 (or run --on-fail) after N consecutive failed "
      "checks of the E3 primary — detection only, promotion stays a human decision");
  cmd->add_option("--interval", o->interval_ms, "milliseconds between checks")->capture_default_str();
  cmd->add_option("--fail-after", o->fail_after, "consecutive failed checks of the E3 primary that count as down")
      ->capture_default_str();
  cmd->add_option("--on-fail", o->on_fail,
                  "shell command to start in the background (once per outage, RULECTL_FAILED_SITE set) instead of "
                  "exiting; watching goes on, its outcome is logged");
  cmd->add_option("--on-fail-timeout", o->on_fail_timeout_s, "seconds after which the --on-fail command is killed")
      ->capture_default_str();
  cmd->add_option("--count", o->count,
                  "stop after N checks (0: never); exit 3 if an outage was seen, 2 if a login was refused")
      ->capture_default_str();
  cmd->add_option("--metrics-listen", options->metrics_listen,
                  "serve Prometheus metrics at http://HOST:PORT/metrics (e.g. 127.0.0.1:9500; docs/monitoring.md): "
                  "adds each E3 standby's lag in changes and changes at risk to the checks, and keeps watching "
                  "after an outage (exit 3 at the end) instead of exiting 4");
  cmd->callback([&global, &exit_code, options] { exit_code = watch(global, *options); });
}

}  // namespace rulekeeper::cli
