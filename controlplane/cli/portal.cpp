// `rulectl portal [--listen HOST:PORT]`: runs the admin portal (portal/
// portal.hpp; issue #19) until SIGTERM or ^C. Listens at rulectl.toml's
// [portal] listen (default 127.0.0.1:8480, loopback), --listen overriding;
// prints one line with its address (--json: {"portal": URL}) once it
// accepts connections. Exit 2 when it cannot listen there.
#include <csignal>
#include <iostream>

#include <pthread.h>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "common/errors.hpp"
#include "common/output.hpp"
#include "portal/portal.hpp"

namespace rulekeeper::cli {
namespace {

int run_portal(const GlobalOptions& global, const std::string& listen) {
  config::Config config = load_config(global);
  portal::PortalOptions options;
  options.listen = listen.empty() ? config.portal.listen : listen;
  options.tls_certificate = config.portal.tls_certificate;
  options.tls_private_key = config.portal.tls_private_key;
  options.session_idle = std::chrono::milliseconds(static_cast<long long>(config.portal.session_idle_minutes * 60000));
  // SIGTERM/SIGINT are taken by sigwait below: blocked before the server's
  // threads start, so they inherit the mask and none of them is interrupted.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  portal::Portal p(std::move(config), options);
  try {
    p.start();
  } catch (const std::invalid_argument& e) {
    throw common::ExitError(common::exit_usage, fmt::format("[portal] listen: {}", e.what()));
  } catch (const std::runtime_error& e) {
    if (dynamic_cast<const common::ExitError*>(&e)) throw;
    throw common::ExitError(common::exit_usage, fmt::format("portal: {}", e.what()));
  }
  if (global.json)
    std::cout << nlohmann::json{{"portal", p.url()}}.dump() << std::endl;
  else
    std::cout << fmt::format("portal at {} (log in with a PostgreSQL user; SIGTERM or ^C stops it)", p.url())
              << std::endl;
  int sig = 0;
  sigwait(&stop, &sig);
  std::cerr << fmt::format("portal: stopping ({})", sig == SIGTERM ? "SIGTERM" : "SIGINT") << std::endl;
  p.stop();
  return common::exit_ok;
}

}  // namespace

void add_portal(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto listen = std::make_shared<std::string>();
  CLI::App* cmd =
      app.add_subcommand("portal", "Run the admin portal (web pages of every E3 site's rules; docs/portal.md)");
  cmd->add_option("--listen", *listen, "HOST:PORT to listen at (default: [portal] listen, else 127.0.0.1:8480)");
  cmd->callback([&global, &exit_code, listen] { exit_code = run_portal(global, *listen); });
}

}  // namespace rulekeeper::cli
