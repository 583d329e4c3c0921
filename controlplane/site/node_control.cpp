// See node_control.hpp.
#include "common/text.hpp"
#include "site/node_control.hpp"

#include <fcntl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <future>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "sandbox/cluster.hpp"
#include "common/errors.hpp"
#include "common/output.hpp"
#include "common/time.hpp"
#include "pgnode/process.hpp"
#include "site/probe.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace rulekeeper::node_control {
namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void append_log(const fs::path& log, const std::string& text) {
  std::ofstream out(log, std::ios::app);
  out << text;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

bool loopback(const std::string& host) {
  return host.empty() || host == "localhost" || host == "127.0.0.1" || host == "::1" || host[0] == '/';
}

char proc_state(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!in || !std::getline(in, line)) return '\0';
  auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return '\0';
  return line[close + 2];
}

std::string proc_comm(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string s;
  std::getline(in, s);
  return s;
}

int pid_in_lock_file(const config::SiteConfig& site) {
  if (!site.pgdata) return 0;
  std::ifstream in(fs::path(*site.pgdata) / "postmaster.pid");
  int pid = 0;
  if (!in || !(in >> pid) || pid <= 0) return 0;
  return pid;
}

// Runs a configured shell command (start_command / stop_command).
void run_site_command(const config::SiteConfig& site, const std::string& key, const std::string& command,
                      const fs::path& log, std::chrono::seconds timeout) {
  append_log(log, fmt::format("\n--- {} rulectl runs {} of site {}: {}\n", common::utc_now_text(), key, site.name, command));
  process::RunOptions opts;
  opts.stdout_file = log;
  opts.timeout = timeout;
  process::RunResult r = process::run({"/bin/sh", "-c", command}, opts);
  if (!r.ok())
    throw common::ExitError(common::exit_failed,
                     fmt::format("{} of site {} failed ({}): {}; end of {}: {}", key, site.name, r.describe(),
                                 command, log.string(), common::one_line(process::tail_of_file(log, 800))));
}

// A PostgreSQL tool from the site's bindir, output captured (and logged).
std::string run_tool(const config::SiteConfig& site, const std::string& tool, const std::vector<std::string>& args,
                     const fs::path& log, std::chrono::seconds timeout, bool& ok, std::string& describe) {
  std::vector<std::string> argv{(fs::path(site.bindir) / tool).string()};
  argv.insert(argv.end(), args.begin(), args.end());
  const fs::path capture = log.string() + ".out";
  std::error_code ec;
  fs::remove(capture, ec);
  append_log(log, fmt::format("\n--- {} rulectl runs: {}\n", common::utc_now_text(), process::quote_command(argv)));
  ::setenv("LC_ALL", "C", 1);  // pg_controldata's labels are translated otherwise
  process::RunOptions opts;
  opts.stdout_file = capture;
  opts.timeout = timeout;
  opts.as_postgres_if_root = true;
  process::RunResult r = process::run(argv, opts);
  std::string out = read_file(capture);
  fs::remove(capture, ec);
  append_log(log, out);
  ok = r.ok();
  describe = r.describe();
  return out;
}

void write_owned(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".rulectl-tmp";
  {
    std::ofstream out(tmp, std::ios::trunc | std::ios::binary);
    if (!out) throw common::ExitError(common::exit_failed, "cannot write " + tmp.string());
    out << text;
    if (!out.flush()) throw common::ExitError(common::exit_failed, "cannot write " + tmp.string());
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    ::chmod(tmp.c_str(), st.st_mode & 07777);
    if (process::running_as_root() && ::chown(tmp.c_str(), st.st_uid, st.st_gid) != 0)
      throw common::ExitError(common::exit_failed, fmt::format("cannot chown {}: {}", tmp.string(), std::strerror(errno)));
  } else {
    ::chmod(tmp.c_str(), 0600);
    process::chown_to_postgres(tmp, false);
  }
  fs::rename(tmp, path);
}

// The setting name a postgresql.conf line sets ("" for comments/blank).
std::string setting_of(const std::string& line) {
  std::string t = trim(line);
  if (t.empty() || t[0] == '#') return "";
  std::size_t end = t.find_first_of(" \t=");
  std::string name = t.substr(0, end);
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

using cluster::conf_quote;  // one quoting rule for every settings file we write

// Rewrites `file` without lines setting `names`, then appends `add`.
void rewrite_settings(const fs::path& file, const std::vector<std::string>& names,
                      const std::vector<std::pair<std::string, std::string>>& add) {
  std::string text = fs::exists(file) ? read_file(file) : std::string();
  std::istringstream in(text);
  std::string line, out;
  bool changed = false;
  while (std::getline(in, line)) {
    const std::string s = setting_of(line);
    bool drop = false;
    for (const auto& n : names) drop = drop || s == n;
    if (drop) {
      changed = true;
      continue;
    }
    out += line + "\n";
  }
  if (!add.empty()) {
    out += "# written by rulectl (failover/rejoin) " + common::utc_now_text() + "\n";
    for (const auto& [k, v] : add) out += k + " = " + conf_quote(v) + "\n";
    changed = true;
  }
  if (changed || !fs::exists(file)) write_owned(file, out);
}

}  // namespace

// ---- conninfo --------------------------------------------------------------

std::map<std::string, std::string> parse_conninfo(const std::string& conninfo, const std::string& site) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (opts == nullptr) {
    std::string msg = err ? common::one_line(err) : "out of memory";
    if (err) PQfreemem(err);
    throw common::ExitError(common::exit_usage, fmt::format("sites.{}.conninfo does not parse: {}", site, msg));
  }
  std::map<std::string, std::string> out;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o)
    if (o->val != nullptr && *o->val != '\0') out[o->keyword] = o->val;
  PQconninfoFree(opts);
  return out;
}

std::string build_conninfo(const std::map<std::string, std::string>& keywords) {
  std::string out;
  for (const auto& [k, v] : keywords) {
    std::string q = "'";
    for (char c : v) {
      if (c == '\'' || c == '\\') q += '\\';
      q += c;
    }
    q += "'";
    if (!out.empty()) out += ' ';
    out += k + "=" + q;
  }
  return out;
}

std::string replication_conninfo(const config::SiteConfig& upstream, const std::string& standby_site) {
  auto kw = parse_conninfo(upstream.conninfo, upstream.name);
  for (const char* drop : {"dbname", "application_name", "fallback_application_name", "options", "replication",
                           "target_session_attrs"})
    kw.erase(drop);
  kw["application_name"] = standby_site;
  return build_conninfo(kw);
}

const config::SiteConfig* site_at(const config::Config& config, const std::string& host, const std::string& port,
                                  const std::string& except) {
  const std::string want_port = port.empty() ? "5432" : port;
  for (const auto& s : config.sites) {
    if (s.environment != "e3" || s.name == except) continue;
    std::map<std::string, std::string> kw;
    try {
      kw = parse_conninfo(s.conninfo, s.name);
    } catch (const std::exception&) {
      continue;
    }
    std::string h = kw.count("hostaddr") ? kw["hostaddr"] : kw.count("host") ? kw["host"] : "";
    std::string p = kw.count("port") ? kw["port"] : "5432";
    if (p != want_port) continue;
    if (h == host || (loopback(h) && loopback(host))) return &s;
  }
  return nullptr;
}

// ---- LSNs --------------------------------------------------------------------

std::optional<unsigned long long> parse_lsn(const std::string& text) {
  auto slash = text.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 >= text.size()) return std::nullopt;
  try {
    std::size_t a = 0, b = 0;
    unsigned long long hi = std::stoull(text.substr(0, slash), &a, 16);
    unsigned long long lo = std::stoull(text.substr(slash + 1), &b, 16);
    if (a != slash || b != text.size() - slash - 1) return std::nullopt;
    return (hi << 32) | lo;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// ---- the lock ----------------------------------------------------------------

ControlLock::ControlLock(const config::Config& config, const std::string& action) {
  fs::create_directories(config.state_dir);
  const fs::path path = fs::path(config.state_dir) / "e3-control.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw common::ExitError(common::exit_failed, fmt::format("cannot open {}: {}", path.string(), std::strerror(errno)));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    std::string holder = trim(read_file(path));
    ::close(fd_);
    fd_ = -1;
    throw common::ExitError(common::exit_refused,
                     fmt::format("another failover or rejoin is running ({}); refusing to {} meanwhile (lock {})",
                                 holder.empty() ? "holder unknown" : holder, action, path.string()));
  }
  std::string me = fmt::format("rulectl {} pid {} since {}\n", action, ::getpid(), common::utc_now_text());
  if (::ftruncate(fd_, 0) == 0) {
    ssize_t n = ::pwrite(fd_, me.data(), me.size(), 0);
    (void)n;
  }
}

ControlLock::~ControlLock() {
  if (fd_ >= 0) {
    if (::ftruncate(fd_, 0) != 0) {
      // nothing to do: the lock goes with the descriptor anyway
    }
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
}

// ---- steps -------------------------------------------------------------------

Steps::Steps() : start_(std::chrono::steady_clock::now()) {}

double Steps::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Steps::begin(const std::string& name) {
  if (open_) end();
  Step s;
  s.name = name;
  s.started = elapsed();
  steps_.push_back(s);
  open_ = true;
}

void Steps::end(const std::string& detail) {
  if (!open_) return;
  Step& s = steps_.back();
  s.seconds = elapsed() - s.started;
  s.detail = detail;
  s.at = common::utc_now_text();
  open_ = false;
  std::cerr << fmt::format("[{:7.3f}s] {} ({:.3f}s){}{}", elapsed(), s.name, s.seconds, detail.empty() ? "" : ": ",
                           detail)
            << std::endl;
}

void Steps::note(const std::string& name, const std::string& detail) {
  if (open_) end();
  Step s;
  s.name = name;
  s.detail = detail;
  s.started = elapsed();
  s.at = common::utc_now_text();
  steps_.push_back(s);
  std::cerr << fmt::format("[{:7.3f}s] {}: {}", s.started, name, detail) << std::endl;
}

json Steps::to_json() const {
  json a = json::array();
  for (const auto& s : steps_)
    a.push_back({{"step", s.name}, {"started_s", s.started}, {"seconds", s.seconds}, {"at", s.at},
                 {"detail", s.detail}});
  return a;
}

void Steps::print(std::ostream& out) const {
  common::Table t({"at (s)", "took (s)", "step", "detail"});
  for (const auto& s : steps_)
    t.add_row({fmt::format("{:.3f}", s.started), fmt::format("{:.3f}", s.seconds), s.name, s.detail});
  t.print(out);
}

// ---- the node ----------------------------------------------------------------

std::string missing_control(const config::SiteConfig& site) {
  std::vector<std::string> missing;
  if (!site.pgdata) missing.push_back("pgdata");
  if (!site.start_command) missing.push_back("start_command");
  if (!site.stop_command) missing.push_back("stop_command");
  return fmt::format("{}", fmt::join(missing, ", "));
}

bool controllable(const config::SiteConfig& site) { return missing_control(site).empty(); }

fs::path log_file(const config::Config& config, const std::string& action, const std::string& site) {
  fs::path dir = fs::path(config.state_dir) / "logs";
  fs::create_directories(dir);
  return dir / (action + "-" + site + ".log");
}

int postmaster_pid(const config::SiteConfig& site) {
  int pid = pid_in_lock_file(site);
  if (pid == 0) return 0;
  char st = proc_state(pid);
  if (st == '\0' || st == 'Z') return 0;
  if (proc_comm(pid).rfind("postgres", 0) != 0) return 0;
  return pid;
}

void stop(const config::SiteConfig& site, const fs::path& log, std::chrono::seconds timeout) {
  if (!site.stop_command)
    throw common::ExitError(common::exit_usage, fmt::format("sites.{}.stop_command is not set in rulectl.toml", site.name));
  run_site_command(site, "stop_command", *site.stop_command, log, timeout);
  if (site.pgdata && postmaster_pid(site) != 0) {
    bool gone = wait_for(std::chrono::seconds(30), std::chrono::milliseconds(50),
                         [&] { return postmaster_pid(site) == 0; });
    if (!gone)
      throw common::ExitError(common::exit_failed,
                       fmt::format("stop_command of site {} returned but its postmaster (PID {}) still runs",
                                   site.name, postmaster_pid(site)));
  }
}

void start(const config::SiteConfig& site, const fs::path& log, std::chrono::seconds timeout) {
  if (!site.start_command)
    throw common::ExitError(common::exit_usage, fmt::format("sites.{}.start_command is not set in rulectl.toml", site.name));
  if (int pid = pid_in_lock_file(site); pid > 0 && proc_state(pid) == 'Z') {
    bool reaped = wait_for(std::chrono::seconds(30), std::chrono::milliseconds(50),
                           [&] { return proc_state(pid) == '\0'; });
    if (!reaped)
      throw common::ExitError(common::exit_failed,
                       fmt::format("the dead postmaster (PID {}) of site {} is still a zombie: its lock file "
                                   "counts as alive and the server cannot start yet",
                                   pid, site.name));
  }
  run_site_command(site, "start_command", *site.start_command, log, timeout);
}

ControlData controldata(const config::SiteConfig& site, const fs::path& log) {
  if (!site.pgdata)
    throw common::ExitError(common::exit_usage, fmt::format("sites.{}.pgdata is not set in rulectl.toml", site.name));
  bool ok = false;
  std::string how;
  std::string out = run_tool(site, "pg_controldata", {"-D", *site.pgdata}, log, std::chrono::seconds(30), ok, how);
  if (!ok)
    throw common::ExitError(common::exit_failed, fmt::format("pg_controldata of site {} failed ({}): {}", site.name, how,
                                                   common::one_line(out)));
  ControlData cd;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = trim(line.substr(0, colon)), val = trim(line.substr(colon + 1));
    if (key == "Database cluster state") cd.state = val;
    else if (key == "Latest checkpoint location") cd.checkpoint_lsn = val;
    else if (key == "Latest checkpoint's REDO location") cd.redo_lsn = val;
    else if (key == "Latest checkpoint's TimeLineID") cd.timeline = std::atoll(val.c_str());
    else if (key == "Min recovery ending loc's timeline") cd.min_recovery_timeline = std::atoll(val.c_str());
  }
  if (cd.state.empty() || cd.checkpoint_lsn.empty())
    throw common::ExitError(common::exit_failed,
                     fmt::format("pg_controldata of site {}: no cluster state or checkpoint location in its output",
                                 site.name));
  return cd;
}

std::string rewind_command(const config::SiteConfig& site, const std::string& source_conninfo) {
  std::vector<std::string> argv;
  if (process::running_as_root()) argv = {"runuser", "-u", "postgres", "--"};
  argv.push_back((fs::path(site.bindir) / "pg_rewind").string());
  argv.insert(argv.end(), {"-D", site.pgdata.value_or("<pgdata>"), "--source-server=" + source_conninfo});
  return process::quote_command(argv);
}

std::string rewind(const config::SiteConfig& site, const std::string& source_conninfo, const fs::path& log) {
  if (!site.pgdata)
    throw common::ExitError(common::exit_usage, fmt::format("sites.{}.pgdata is not set in rulectl.toml", site.name));
  bool ok = false;
  std::string how;
  std::string out = run_tool(site, "pg_rewind", {"-D", *site.pgdata, "--source-server=" + source_conninfo}, log,
                             std::chrono::seconds(600), ok, how);
  if (!ok)
    throw common::ExitError(common::exit_failed, fmt::format("pg_rewind of site {} failed ({}): {} (log: {})", site.name, how,
                                                   common::one_line(out), log.string()));
  return out;
}

fs::path settings_file(const config::SiteConfig& site) {
  if (site.conf_file) return *site.conf_file;
  if (!site.pgdata)
    throw common::ExitError(common::exit_usage,
                     fmt::format("site {}: neither conf_file nor pgdata is set in rulectl.toml", site.name));
  return fs::path(*site.pgdata) / "postgresql.auto.conf";
}

void set_upstream(const config::SiteConfig& site, const std::string& primary_conninfo,
                  const std::string& primary_slot_name) {
  const std::vector<std::string> names{"primary_conninfo", "primary_slot_name"};
  std::vector<std::pair<std::string, std::string>> add;
  if (!primary_conninfo.empty()) add.push_back({"primary_conninfo", primary_conninfo});
  if (!primary_slot_name.empty()) add.push_back({"primary_slot_name", primary_slot_name});
  const fs::path file = settings_file(site);
  rewrite_settings(file, names, add);
  if (site.pgdata) {
    const fs::path auto_conf = fs::path(*site.pgdata) / "postgresql.auto.conf";
    if (auto_conf != file && fs::exists(auto_conf)) rewrite_settings(auto_conf, names, {});
  }
}

void write_standby_signal(const config::SiteConfig& site) {
  if (!site.pgdata)
    throw common::ExitError(common::exit_usage, fmt::format("sites.{}.pgdata is not set in rulectl.toml", site.name));
  const fs::path p = fs::path(*site.pgdata) / "standby.signal";
  if (fs::exists(p)) return;
  {
    std::ofstream out(p);
    if (!out) throw common::ExitError(common::exit_failed, "cannot write " + p.string());
  }
  ::chmod(p.c_str(), 0600);
  process::chown_to_postgres(p, false);
}

// ---- SQL helpers -----------------------------------------------------------------

std::string value(pqxx::connection& c, const std::string& sql) {
  pqxx::nontransaction tx(c);
  pqxx::result r = tx.exec(sql);
  if (r.empty() || r[0].empty() || r[0][0].is_null()) return "";
  return r[0][0].c_str();
}

std::unique_ptr<pqxx::connection> try_connect(const config::SiteConfig& site, std::string& error,
                                              int connect_timeout_seconds) {
  try {
    auto kw = parse_conninfo(site.conninfo, site.name);
    if (!kw.count("connect_timeout")) kw["connect_timeout"] = std::to_string(connect_timeout_seconds);
    return std::make_unique<pqxx::connection>(build_conninfo(kw));
  } catch (const common::ExitError&) {
    throw;
  } catch (const std::exception& e) {
    error = common::one_line(e.what());
    return nullptr;
  }
}

NodeState probe_node(const config::SiteConfig& site, int connect_timeout_seconds) {
  NodeState n;
  n.config = &site;
  n.conn = try_connect(site, n.error, connect_timeout_seconds);
  if (!n.conn) return n;
  try {
    pqxx::nontransaction tx(*n.conn);
    pqxx::result r = tx.exec(
        "SELECT pg_is_in_recovery(), (SELECT status FROM pg_stat_wal_receiver), "
        "(SELECT sender_host FROM pg_stat_wal_receiver), (SELECT sender_port::text FROM pg_stat_wal_receiver)");
    n.in_recovery = r[0][0].as<bool>();
    n.wal_receiver = r[0][1].is_null() ? "" : r[0][1].c_str();
    if (!r[0][2].is_null() && !r[0][3].is_null()) {
      n.upstream_host = r[0][2].c_str();
      n.upstream_port = r[0][3].c_str();
      n.upstream_from = "wal receiver";
    }
  } catch (const pqxx::broken_connection& e) {
    n.error = common::one_line(e.what());
    n.conn.reset();
    return n;
  } catch (const std::exception& e) {
    n.error = "connected, but could not read its role: " + common::one_line(e.what());
    n.conn.reset();
    return n;
  }
  n.reachable = true;
  try {
    n.timeline = std::atoll(value(*n.conn, "SELECT rulekeeper.timeline()").c_str());
  } catch (const pqxx::broken_connection&) {
    throw;
  } catch (const std::exception&) {
    try {
      n.timeline = std::atoll(value(*n.conn, "SELECT timeline_id FROM pg_control_checkpoint()").c_str());
    } catch (const std::exception&) {
    }
  }
  if (n.in_recovery && n.upstream_from.empty()) {
    try {  // superusers (and pg_read_all_settings) only
      std::string pc = value(*n.conn, "SELECT current_setting('primary_conninfo')");
      if (!pc.empty()) {
        auto kw = parse_conninfo(pc, site.name + " (its primary_conninfo)");
        n.upstream_host = kw.count("hostaddr") ? kw["hostaddr"] : kw.count("host") ? kw["host"] : "";
        n.upstream_port = kw.count("port") ? kw["port"] : "5432";
        n.upstream_from = "primary_conninfo";
      }
    } catch (const std::exception&) {
    }
  }
  return n;
}

std::vector<NodeState> probe_e3(const config::Config& config) {
  ::setenv("PGCONNECT_TIMEOUT", "3", 0);
  std::vector<std::future<NodeState>> futures;
  for (const auto& s : config.sites)
    if (s.environment == "e3") futures.push_back(std::async(std::launch::async, [&s] { return probe_node(s); }));
  std::vector<NodeState> out;
  for (auto& f : futures) out.push_back(f.get());
  return out;
}

}  // namespace rulekeeper::node_control
