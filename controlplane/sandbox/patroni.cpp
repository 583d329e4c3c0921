// See patroni.hpp.
#include "sandbox/patroni.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/files.hpp"
#include "common/poll.hpp"
#include "http/client.hpp"
#include "pgnode/postmaster.hpp"
#include "pgnode/process.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace rulekeeper::sandbox::patroni {
namespace {

fs::path dir(const fs::path& base) { return base / "patroni"; }
fs::path pid_file(const fs::path& base, const std::string& name) { return dir(base) / (name + ".pid"); }
fs::path argv_file(const fs::path& base, const std::string& name) { return dir(base) / (name + ".argv"); }
fs::path log_file(const fs::path& base, const std::string& name) { return dir(base) / (name + ".log"); }

// A YAML scalar: a JSON string is one.
std::string y(const std::string& s) { return nlohmann::json(s).dump(); }

bool alive(int pid) {
  if (pid <= 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return false;
  const auto close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] != 'Z';
}

// fork + exec detached (own session, output appended to the log), as the
// postgres OS user when we are root: Patroni runs initdb and postgres,
// which refuse root (docs/design/postgres-traps.md "Root").
int spawn(const std::vector<std::string>& argv, const fs::path& log) {
  uid_t uid = ::geteuid();
  gid_t gid = ::getegid();
  std::string home = "/tmp";
  const bool drop = process::running_as_root();
  if (drop) {
    const passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) throw std::runtime_error("no postgres OS user to run Patroni as");
    uid = pw->pw_uid;
    gid = pw->pw_gid;
    home = pw->pw_dir;
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::setsid();
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    const int in = ::open("/dev/null", O_RDONLY);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
    if (in >= 0) ::dup2(in, 0);
    for (int fd = 3; fd < 1024; ++fd) ::close(fd);
    if (drop) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) ::_exit(126);
    }
    ::setenv("HOME", home.c_str(), 1);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

void start(const fs::path& base, const std::string& name, const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& a : argv) text += a + "\n";
  common::write_durably(argv_file(base, name), text);
  const int pid = spawn(argv, log_file(base, name));
  common::write_durably(pid_file(base, name), std::to_string(pid) + "\n");
}

template <class F>
void wait_for(const std::string& what, const fs::path& log, std::chrono::seconds timeout, F ready) {
  std::string last;
  if (common::poll_until(timeout, 100ms, ready, &last)) return;
  throw std::runtime_error(fmt::format("timed out after {}s waiting for {}{}; end of {}:\n{}", timeout.count(), what,
                                       last.empty() ? "" : " (last error: " + last + ")", log.string(),
                                       process::tail_of_file(log, 1500)));
}

void terminate(const fs::path& base, const std::string& name, int sig) {
  const int pid = daemon_pid(base, name);
  if (pid > 0) ::kill(pid, sig);
}

bool wait_gone(const fs::path& base, const std::string& name, std::chrono::seconds timeout) {
  return common::poll_until(timeout, 50ms, [&] { return daemon_pid(base, name) == 0; });
}

std::string patroni_yaml(const fs::path& base, int port_base, const Member& m, const cluster::Node& node,
                         const std::string& rulectl) {
  const Member& ipc2 = members()[0];
  const Member& ipc2b = members()[1];
  std::string dcs =
      "    ttl: 5\n"
      "    loop_wait: 1\n"
      "    retry_timeout: 2\n"
      "    master_start_timeout: 0\n"
      "    postgresql:\n"
      "      use_pg_rewind: true\n"
      "      use_slots: true\n"
      "      parameters:\n"
      "        wal_log_hints: 'on'\n"
      "        hot_standby_feedback: 'on'\n"
      "        wal_keep_size: 256MB\n"
      "        max_wal_senders: 10\n"
      "        max_replication_slots: 10\n";
  if (m.dr)
    dcs += fmt::format(
        "    standby_cluster:\n"
        "      host: {}\n"
        "      port: {}\n"
        "      primary_slot_name: {}\n",
        y("127.0.0.1,127.0.0.1"),
        y(fmt::format("{},{}", port_base + ipc2.pg_port_offset, port_base + ipc2b.pg_port_offset)), y(m.site));
  else
    dcs += "    synchronous_mode: true\n    slots:\n      ipc1: {type: physical}\n";
  const std::string callback =
      fmt::format("{} patroni-callback --member {} --state-dir {}", process::shell_quote(rulectl),
                  process::shell_quote(m.site), process::shell_quote((dir(base) / "state").string()));
  return fmt::format(
      "# Patroni member {site} of cluster {cluster} (rulectl sandbox up --ha patroni)\n"
      "scope: {cluster}\n"
      "name: {site}\n"
      "restapi:\n"
      "  listen: 127.0.0.1:{rest}\n"
      "  connect_address: 127.0.0.1:{rest}\n"
      "etcd:\n"
      "  host: 127.0.0.1:{etcd}\n"
      "bootstrap:\n"
      "  dcs:\n"
      "{dcs}"
      "  initdb:\n"
      "  - encoding: UTF8\n"
      "  - locale: C.UTF-8\n"
      "postgresql:\n"
      "  listen: 127.0.0.1:{pg}\n"
      "  connect_address: 127.0.0.1:{pg}\n"
      "  data_dir: {data}\n"
      "  bin_dir: {bindir}\n"
      "  custom_conf: {conf}\n"
      "  basebackup:\n"
      "  - checkpoint: fast\n"
      "  pg_hba:\n"
      "  - local all +sandbox_password_login scram-sha-256\n"
      "  - host all +sandbox_password_login 127.0.0.1/32 scram-sha-256\n"
      "  - local all all trust\n"
      "  - local replication all trust\n"
      "  - host all all 127.0.0.1/32 trust\n"
      "  - host replication all 127.0.0.1/32 trust\n"
      "  authentication:\n"
      "    superuser: {{username: postgres}}\n"
      "    replication: {{username: postgres}}\n"
      "    rewind: {{username: postgres}}\n"
      "  parameters:\n"
      "    unix_socket_directories: {sock}\n"
      "  callbacks:\n"
      "    on_role_change: {callback}\n",
      fmt::arg("site", m.site), fmt::arg("cluster", m.cluster), fmt::arg("rest", rest_port(port_base, m)),
      fmt::arg("etcd", etcd_port(port_base)), fmt::arg("dcs", dcs), fmt::arg("pg", node.port()),
      fmt::arg("data", y(node.data_dir().string())), fmt::arg("bindir", y(node.cluster_options().bindir)),
      fmt::arg("conf", y(node.conf_file().string())), fmt::arg("sock", y(node.socket_dir().string())),
      fmt::arg("callback", y(callback)));
}

}  // namespace

const std::vector<Member>& members() {
  static const std::vector<Member> all = {
      {"ipc2", "ipc2", 2, 5, false},
      {"ipc2b", "ipc2", 4, 7, false},
      {"ipc1", "ipc1", 3, 6, true},
  };
  return all;
}

int rest_port(int port_base, const Member& m) { return port_base + m.rest_port_offset; }
int etcd_port(int port_base) { return port_base + 8; }
std::string rest_url(int port_base, const Member& m) {
  return fmt::format("http://127.0.0.1:{}", rest_port(port_base, m));
}

int daemon_pid(const fs::path& base, const std::string& name) {
  const fs::path f = pid_file(base, name);
  if (!fs::exists(f)) return 0;
  int pid = 0;
  try {
    pid = std::stoi(common::read_file(f));
  } catch (const std::exception&) {
    return 0;
  }
  return alive(pid) ? pid : 0;
}

void start_daemon(const fs::path& base, const std::string& name) {
  if (daemon_pid(base, name) != 0) return;
  std::istringstream in(common::read_file(argv_file(base, name)));
  std::vector<std::string> argv;
  for (std::string line; std::getline(in, line);) argv.push_back(line);
  start(base, name, argv);
}

void patch_config(const fs::path& base, const std::string& site, const std::string& patch) {
  const std::string url = common::read_file(dir(base) / (site + ".url"));
  const http::Response r = http::request("PATCH", url, "/config", patch);
  if (!r.ok()) throw std::runtime_error(fmt::format("PATCH {}/config {}: HTTP {}: {}", url, patch, r.status, r.body));
}

void kill_member(const fs::path& base, const std::string& site) {
  terminate(base, site, SIGKILL);
  wait_gone(base, site, 30s);
  const fs::path data = base / site / "data";
  if (pgnode::postmaster_pid(data) != 0) pgnode::kill_postmaster(data, site, 30s);
}

void stop_all(const fs::path& base) {
  if (!fs::exists(dir(base))) return;
  const auto& ms = members();
  for (auto it = ms.rbegin(); it != ms.rend(); ++it) terminate(base, it->site, SIGTERM);
  for (auto it = ms.rbegin(); it != ms.rend(); ++it) {
    if (!wait_gone(base, it->site, 30s)) {
      terminate(base, it->site, SIGKILL);
      wait_gone(base, it->site, 10s);
    }
    // Patroni stops its PostgreSQL on SIGTERM; after a SIGKILL it cannot.
    const fs::path data = base / it->site / "data";
    if (pgnode::postmaster_pid(data) != 0) {
      try {
        pgnode::kill_postmaster(data, it->site, 30s);
      } catch (const std::exception&) {
        // Reported by whoever finds it still running; nothing more here.
      }
    }
  }
  terminate(base, "etcd", SIGTERM);
  if (!wait_gone(base, "etcd", 30s)) {
    terminate(base, "etcd", SIGKILL);
    wait_gone(base, "etcd", 10s);
  }
}

Guard::~Guard() {
  if (released_) return;
  try {
    stop_all(base_);
  } catch (...) {
    // A destructor must not throw.
  }
}

void up(cluster::ClusterSet& set, int port_base, const std::string& rulectl, const common::ProgressSink& progress) {
  const cluster::ClusterOptions& co = set.options();
  const fs::path base = co.base;
  fs::create_directories(dir(base) / "state");
  process::chown_to_postgres(dir(base), true);

  const int etcd = etcd_port(port_base);
  progress.step(fmt::format("start etcd on 127.0.0.1:{} (v2 API for Patroni's python3-etcd)", etcd));
  start(base, "etcd",
        {"etcd", "--name", "sandbox", "--data-dir", (dir(base) / "etcd-data").string(), "--listen-client-urls",
         fmt::format("http://127.0.0.1:{}", etcd), "--advertise-client-urls", fmt::format("http://127.0.0.1:{}", etcd),
         "--listen-peer-urls", fmt::format("http://127.0.0.1:{}", etcd + 1), "--initial-advertise-peer-urls",
         fmt::format("http://127.0.0.1:{}", etcd + 1), "--initial-cluster",
         fmt::format("sandbox=http://127.0.0.1:{}", etcd + 1), "--enable-v2=true"});
  wait_for("etcd to answer", log_file(base, "etcd"), 30s,
           [&] { return http::get(fmt::format("http://127.0.0.1:{}", etcd), "/version", 1s).ok(); });

  cluster::Node* ipc2 = nullptr;
  for (const Member& m : members()) {
    cluster::Node& n = set.add(cluster::NodeOptions(m.site, "e3", port_base + m.pg_port_offset));
    // A standby signs with its primary's key (cluster.hpp init_standby_of).
    if (ipc2 != nullptr && !fs::exists(n.signing_key_file())) {
      fs::create_directories(n.signing_key_file().parent_path());
      common::write_durably(n.signing_key_file(), common::read_file(ipc2->signing_key_file()), {0600, true});
    }
    n.write_config();
    const fs::path yml = dir(base) / (m.site + ".yml");
    common::write_durably(yml, patroni_yaml(base, port_base, m, n, rulectl), {0644, true});
    progress.step(fmt::format("start Patroni {} of cluster {} (PostgreSQL {}, REST {}){}", m.site, m.cluster, n.port(),
                              rest_port(port_base, m),
                              m.site == "ipc2" ? ": bootstrap (initdb)"
                              : m.dr           ? ": standby cluster of ipc2 (base backup)"
                                               : ": replica (base backup)"));
    common::write_durably(dir(base) / (m.site + ".url"), rest_url(port_base, m), {0644, true});
    start(base, m.site, {"patroni", yml.string()});
    const fs::path log = log_file(base, m.site);
    wait_for(fmt::format("{} to accept connections", m.site), log, 180s,
             [&] { return n.connect("postgres")->is_open(); });
    if (ipc2 == nullptr) {
      wait_for("ipc2 to be Patroni's leader", log, 60s, [&] { return !n.in_recovery(); });
      progress.step(fmt::format("create database {} and extension rulekeeper on ipc2", co.database));
      n.create_database();
      ipc2 = &n;
    } else {
      wait_for(fmt::format("{} to replay ipc2's WAL", m.site), log, 60s, [&] {
        return n.query_value(fmt::format("SELECT pg_last_wal_replay_lsn() >= '{}'::pg_lsn", ipc2->current_lsn()),
                             "postgres") == "t";
      });
      n.wait_ready();
    }
    if (m.site == "ipc2b") {
      progress.step("wait until Patroni made ipc2b ipc2's synchronous standby (synchronous_mode)");
      wait_for("ipc2b to be synchronous", log, 60s, [&] {
        return ipc2->query_value("SELECT sync_state FROM pg_stat_replication WHERE application_name = 'ipc2b'",
                                 "postgres") == "sync";
      });
      // PostgreSQL calls ipc2b synchronous a moment before Patroni writes it
      // into the DCS's sync key, and only a member named there is a failover
      // candidate in synchronous_mode: a leader killed in between is
      // restarted, not failed over ("manual failover: members list is empty").
      wait_for("Patroni to name ipc2b its sync_standby", log, 60s, [&] {
        try {
          const http::Response r = http::get(rest_url(port_base, members()[0]), "/cluster", 2s);
          if (!r.ok()) return false;
          for (const auto& mem : nlohmann::json::parse(r.body).value("members", nlohmann::json::array()))
            if (mem.value("name", "") == "ipc2b" &&
                (mem.value("role", "") == "sync_standby" || mem.value("role", "") == "sync standby"))
              return true;
        } catch (const std::exception&) {
        }
        return false;
      });
    }
  }
}

}  // namespace rulekeeper::sandbox::patroni
