// `rulectl gateway --node NAME` (issue #18 item 2, docs/gateway.md): the pod
// gateway of one E3 node, configured in [sites.NAME.gateway]; runs until
// SIGTERM or ^C, then stops gracefully (open long polls and streams are
// closed after a short grace; pods reconnect to it or another gateway).
// `rulectl pods` is in pods.cpp.
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <memory>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "common/errors.hpp"
#include "common/output.hpp"
#include "common/time.hpp"
#include "http/server.hpp"
#include "ops/gateway.hpp"
#include "ops/gateway_http.hpp"

namespace rulekeeper::cli {
namespace {

std::atomic<bool> gateway_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");
extern "C" void on_gateway_signal(int) { gateway_stop.store(true); }

void log_line(const std::string& line) {
  std::cerr << fmt::format("{}  {}", common::utc_now_text(), line) << std::endl;
}

// Each pod holds a connection (a descriptor): as many as the hard limit allows.
void raise_open_files() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return;
  if (r.rlim_cur == r.rlim_max) return;
  const rlim_t before = r.rlim_cur;
  r.rlim_cur = r.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &r) == 0)
    log_line(fmt::format("open files limit raised from {} to {} (the hard limit)", before, r.rlim_max));
}

struct GatewayOptions {
  std::string node;
};

int run_gateway(const GlobalOptions& global, const GatewayOptions& options) {
  const config::Config config = load_config(global);
  const config::SiteConfig* site = config.find(options.node);
  if (site == nullptr)
    throw common::ExitError(common::exit_usage, fmt::format("{}: no site called {} (--node names a [sites.NAME])",
                                                            config.path, options.node));
  if (!site->gateway)
    throw common::ExitError(common::exit_usage,
                            fmt::format("{}: sites.{} has no gateway table: add [sites.{}.gateway] with listen = "
                                        "\"127.0.0.1:PORT\" (docs/gateway.md)",
                                        config.path, site->name, site->name));
  const config::GatewayConfig& g = *site->gateway;

  http::ServerOptions so;
  std::tie(so.address, so.port) = http::Server::parse_listen_address(g.listen);
  so.tls_certificate_file = g.tls_certificate;
  so.tls_private_key_file = g.tls_private_key;
  so.server_name = "rulectl-gateway";
  // A pod waits up to 60 s in a long poll and a stream sends a keep-alive
  // every 15 s: only a connection silent for longer is idle.
  so.idle_timeout = std::chrono::seconds(75);

  raise_open_files();
  std::signal(SIGTERM, on_gateway_signal);
  std::signal(SIGINT, on_gateway_signal);
  std::signal(SIGPIPE, SIG_IGN);

  ops::gateway::GatewayState state(site->name, site->name);
  ops::gateway::Timers timers;
  http::Server server(so);
  ops::gateway::HttpOptions ho;
  ho.token = g.token;
  ops::gateway::add_routes(server, state, timers, ho);
  try {
    server.start();
  } catch (const std::runtime_error& e) {
    throw common::ExitError(common::exit_usage, fmt::format("sites.{}.gateway: {}", site->name, e.what()));
  }

  ops::gateway::FollowerOptions fo;
  fo.node = *site;
  fo.node.conninfo = g.conninfo;
  fo.poll_interval = std::chrono::milliseconds(g.poll_interval_ms);
  fo.log = log_line;
  ops::gateway::NodeFollower follower(state, fo);
  follower.start();
  log_line(fmt::format("gateway of {} serving at {}://{}{}", site->name, so.tls() ? "https" : "http", server.endpoint(),
                       g.token.empty() ? "" : " (bearer token required)"));

  while (!gateway_stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  log_line("stopping: closing pods' connections");
  server.stop(std::chrono::seconds(1));
  timers.stop();
  follower.stop();
  log_line("stopped");
  return common::exit_ok;
}

}  // namespace

void add_gateway(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto go = std::make_shared<GatewayOptions>();
  CLI::App* gw = app.add_subcommand(
      "gateway",
      "serve the rules of an E3 node to pods over HTTP ([sites.NAME.gateway] in rulectl.toml; docs/gateway.md): one "
      "connection to the node whatever the number of pods; runs until SIGTERM");
  gw->add_option("--node", go->node, "the E3 site (node) whose gateway to run")->required();
  gw->callback([&global, &exit_code, go] { exit_code = run_gateway(global, *go); });
}

}  // namespace rulekeeper::cli
