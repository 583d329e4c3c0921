// See portal.hpp.
#include "sandbox/portal.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "common/errors.hpp"
#include "common/files.hpp"
#include "common/poll.hpp"
#include "http/client.hpp"
#include "pgnode/process.hpp"
#include "sandbox/detached.hpp"
#include "site/config.hpp"
#include "site/connect.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace rulekeeper::sandbox::portal {
namespace {

fs::path dir(const fs::path& base) { return base / "portal"; }
fs::path pid_file(const fs::path& base) { return dir(base) / "portal.pid"; }
fs::path log_file(const fs::path& base) { return dir(base) / "portal.log"; }
fs::path url_file(const fs::path& base) { return dir(base) / "url"; }

// Alive and a rulectl portal (not a process that got the recycled id).
bool is_portal(int p) {
  if (p <= 0) return false;
  std::ifstream stat("/proc/" + std::to_string(p) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return false;
  const auto close = text.rfind(')');
  if (close == std::string::npos || close + 2 >= text.size() || text[close + 2] == 'Z') return false;
  std::ifstream cmdline("/proc/" + std::to_string(p) + "/cmdline");
  std::string args((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
  return args.find(std::string("portal") + '\0') != std::string::npos;
}

int pid(const fs::path& base) {
  if (!fs::exists(pid_file(base))) return 0;
  try {
    const int p = std::stoi(common::read_file(pid_file(base)));
    return is_portal(p) ? p : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

// At the writable E3 site: the logins, idempotently (a second `up`, a
// sandbox after a failover).
void create_logins(const config::Config& config, const common::ProgressSink& progress) {
  for (const auto& s : config.sites) {
    if (s.environment != "e3") continue;
    std::string error;
    auto conn = site::try_connect(s, error);
    if (!conn) continue;
    pqxx::nontransaction tx(*conn);
    if (tx.exec("SELECT pg_is_in_recovery()")[0][0].as<bool>()) continue;
    progress.step(fmt::format("portal logins at {}: {}", s.name, [] {
      std::string names;
      for (const auto& l : logins()) names += (names.empty() ? "" : ", ") + std::string(l.user);
      return names;
    }()));
    tx.exec(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sandbox_password_login') "
        "THEN CREATE ROLE sandbox_password_login NOLOGIN; END IF; END $$");
    for (const auto& l : logins())
      tx.exec(
          fmt::format("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {0}) THEN "
                      "CREATE ROLE {1} LOGIN PASSWORD {2} IN ROLE {3}, sandbox_password_login; END IF; END $$",
                      tx.quote(l.user), tx.quote_name(l.user), tx.quote(l.password), tx.quote_name(l.role)));
    return;
  }
  throw std::runtime_error("no writable E3 site answered: the portal's logins were not created");
}

void stop_pid(const fs::path& base, int p, const common::ProgressSink& progress) {
  progress.step(fmt::format("stopping the portal (pid {})", p));
  ::kill(p, SIGTERM);
  if (!common::poll_until(10s, 20ms, [&] { return !is_portal(p); })) {
    ::kill(p, SIGKILL);
    common::poll_until(5s, 20ms, [&] { return !is_portal(p); });
  }
  fs::remove(pid_file(base));
  fs::remove(url_file(base));
}

}  // namespace

const std::vector<Login>& logins() {
  static const std::vector<Login> l = {{"portal_reader", "portal_reader", "rulekeeper_reader"},
                                       {"portal_releaser", "portal_releaser", "rulekeeper_releaser"},
                                       {"portal_hotfix", "portal_hotfix", "rulekeeper_hotfix"}};
  return l;
}

std::string start(const fs::path& base, const fs::path& config, int port_base, bool under_patroni,
                  const common::ProgressSink& progress) {
  const std::string address = fmt::format("127.0.0.1:{}", port_base + port_offset(under_patroni));
  const std::string url = "http://" + address;
  create_logins(config::load(config.string()), progress);
  fs::create_directories(dir(base));
  if (pid(base) != 0) return portal::url(base);
  progress.step(fmt::format("start the admin portal at {} (log {})", url, log_file(base).string()));
  const int p =
      spawn_detached({rulectl_binary(), "portal", "--config", config.string(), "--listen", address}, log_file(base));
  common::write_durably(pid_file(base), std::to_string(p) + "\n");
  std::string last;
  bool exited = false;
  const bool up = common::poll_until(
      30s, 50ms,
      [&] {
        // Our child: waitpid says whether it exited. Not is_portal(): between
        // fork and exec its cmdline is still ours (no "portal"), and under
        // load the first poll came before the exec (portal_browser failed so).
        int st = 0;
        if (::waitpid(p, &st, WNOHANG) == p) return exited = true;
        return http::get(url, "/login", 2s).status == 200;
      },
      &last);
  if (!up || exited) {
    stop_pid(base, p, progress);
    throw common::ExitError(common::exit_failed,
                            fmt::format("the portal {} at {}{}; end of {}:\n{}", exited ? "exited" : "did not answer",
                                        url, last.empty() ? "" : " (" + last + ")", log_file(base).string(),
                                        process::tail_of_file(log_file(base), 1500)));
  }
  common::write_durably(url_file(base), url + "\n");
  return url;
}

void stop(const fs::path& base, const common::ProgressSink& progress) {
  const int p = pid(base);
  if (p != 0) stop_pid(base, p, progress);
}

std::string url(const fs::path& base) {
  if (pid(base) == 0 || !fs::exists(url_file(base))) return {};
  std::string u = common::read_file(url_file(base));
  while (!u.empty() && (u.back() == '\n' || u.back() == ' ')) u.pop_back();
  return u;
}

std::string hint(const fs::path& base) {
  const std::string u = url(base);
  if (u.empty()) return {};
  std::string out = fmt::format("  the admin portal: {}   (sandbox-only logins, password = user name:", u);
  for (const auto& l : logins()) out += fmt::format(" {}", l.user);
  out += ")\n";
  out += fmt::format(
      "    pages: {0}/ (overview)  {0}/rules  {0}/rules/pricing.discount  {0}/hotfixes  {0}/sites  "
      "{0}/pods\n",
      u);
  return out;
}

}  // namespace rulekeeper::sandbox::portal
