// See gateways.hpp.
#include "sandbox/gateways.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>

#include <fstream>
#include <stdexcept>

#include "common/errors.hpp"
#include "common/files.hpp"
#include "common/poll.hpp"
#include "http/client.hpp"
#include "pgnode/process.hpp"
#include "sandbox/detached.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace rulekeeper::sandbox::gateways {
namespace {

struct Gateway {
  const char* site;
  int port_offset;  // plain; with Patroni +5
};
constexpr Gateway kGateways[] = {{"ipc2", 5}, {"ipc2b", 6}, {"ipc1", 7}};

fs::path dir(const fs::path& base) { return base / "gateways"; }
fs::path pid_file(const fs::path& base, const std::string& site) { return dir(base) / (site + ".pid"); }
fs::path log_file(const fs::path& base, const std::string& site) { return dir(base) / (site + ".log"); }

const Gateway& find(const std::string& site) {
  for (const auto& g : kGateways)
    if (site == g.site) return g;
  throw std::invalid_argument("the sandbox has no gateway for " + site + " (only its E3 nodes have one)");
}

// Alive and a rulectl gateway (not a process that got the recycled id).
bool is_gateway(int p) {
  if (p <= 0) return false;
  std::ifstream stat("/proc/" + std::to_string(p) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return false;
  const auto close = text.rfind(')');
  if (close == std::string::npos || close + 2 >= text.size() || text[close + 2] == 'Z') return false;
  std::ifstream cmdline("/proc/" + std::to_string(p) + "/cmdline");
  std::string args((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
  return args.find(std::string("gateway") + '\0') != std::string::npos;
}

void stop_one(const fs::path& base, const std::string& site, const common::ProgressSink& progress) {
  const int p = pid(base, site);
  if (p == 0) {
    fs::remove(pid_file(base, site));
    return;
  }
  progress.step(fmt::format("stopping the gateway of {} (pid {})", site, p));
  ::kill(p, SIGTERM);
  if (!common::poll_until(10s, 20ms, [&] { return !is_gateway(p); })) {
    ::kill(p, SIGKILL);
    common::poll_until(5s, 20ms, [&] { return !is_gateway(p); });
  }
  fs::remove(pid_file(base, site));
}

}  // namespace

bool has_gateway(const std::string& site) {
  for (const auto& g : kGateways)
    if (site == g.site) return true;
  return false;
}

int port(int port_base, bool under_patroni, const std::string& site) {
  return port_base + find(site).port_offset + (under_patroni ? 5 : 0);
}
std::string url(int port_base, bool under_patroni, const std::string& site) {
  return fmt::format("http://127.0.0.1:{}", port(port_base, under_patroni, site));
}

int pid(const fs::path& base, const std::string& site) {
  const fs::path f = pid_file(base, site);
  if (!fs::exists(f)) return 0;
  int p = 0;
  try {
    p = std::stoi(common::read_file(f));
  } catch (const std::exception&) {
    return 0;
  }
  return is_gateway(p) ? p : 0;
}

void start(const fs::path& base, const fs::path& config, int port_base, bool under_patroni,
           const std::vector<std::string>& sites, const common::ProgressSink& progress) {
  auto url = [&](const std::string& site) { return gateways::url(port_base, under_patroni, site); };
  fs::create_directories(dir(base));
  std::vector<std::string> started;
  try {
    for (const auto& site : sites) {
      if (!has_gateway(site) || pid(base, site) != 0) continue;
      const std::vector<std::string> argv{rulectl_binary(), "gateway", "--node", site, "--config", config.string()};
      progress.step(
          fmt::format("start the pod gateway of {} at {} (log {})", site, url(site), log_file(base, site).string()));
      const int p = spawn_detached(argv, log_file(base, site));
      common::write_durably(pid_file(base, site), std::to_string(p) + "\n");
      started.push_back(site);
    }
    for (const auto& site : started) {
      // Listening is enough: /healthz says 503 until its node answers (a
      // standby catching up, say), and the gateway serves once it does.
      std::string last;
      const bool up = common::poll_until(
          30s, 50ms,
          [&] {
            if (pid(base, site) == 0) throw std::runtime_error("the gateway exited");
            const auto r = http::get(url(site), "/healthz", 2s);
            return r.status == 200 || r.status == 503;
          },
          &last);
      if (!up)
        throw common::ExitError(common::exit_failed,
                                fmt::format("the gateway of {} did not answer at {}{}; end of {}:\n{}", site, url(site),
                                            last.empty() ? "" : " (" + last + ")", log_file(base, site).string(),
                                            process::tail_of_file(log_file(base, site), 1500)));
    }
  } catch (...) {
    for (const auto& site : started) stop_one(base, site, progress);
    throw;
  }
}

void stop(const fs::path& base, const common::ProgressSink& progress) {
  if (!fs::exists(dir(base))) return;
  for (auto it = std::rbegin(kGateways); it != std::rend(kGateways); ++it) stop_one(base, it->site, progress);
}

}  // namespace rulekeeper::sandbox::gateways
