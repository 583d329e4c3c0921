// Driving one E3 node from rulectl.toml (failover, rejoin): its start and
// stop commands, pg_controldata and pg_rewind from its bindir, its settings
// file (conf_file, else PGDATA/postgresql.auto.conf) and standby.signal —
// the things PostgreSQL 15 offers no SQL for (POSTGRES-NOTES.md "Planned
// switchover", "Rewind after failover", "Per-node settings"). Also the bits
// failover, rejoin and watch share: conninfo parsing and matching an upstream
// to a configured site, the lock that keeps two of them from running at
// once, LSN arithmetic, and the timed list of steps they report.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "site/config.hpp"

namespace rulekeeper::node_control {

// ---- conninfo ----------------------------------------------------------

// Keywords of a conninfo string or URI with a value (PQconninfoParse).
// Throws common::ExitError(common::exit_usage) naming the site if it does not parse.
std::map<std::string, std::string> parse_conninfo(const std::string& conninfo, const std::string& site);
// key='value' pairs, quoted for libpq.
std::string build_conninfo(const std::map<std::string, std::string>& keywords);
// What a standby of `upstream` puts in primary_conninfo: upstream's
// conninfo without database and session options, with
// application_name=<standby> (what synchronous_standby_names and
// pg_stat_replication name it by).
std::string replication_conninfo(const config::SiteConfig& upstream, const std::string& standby_site);
// The configured E3 site (other than `except`) that host:port names, or
// nullptr. Loopback names (localhost, 127.0.0.1, ::1, a socket directory)
// count as one host.
const config::SiteConfig* site_at(const config::Config& config, const std::string& host, const std::string& port,
                                  const std::string& except);

// ---- LSNs --------------------------------------------------------------

// "16/B374D848" -> 0x16B374D848; nullopt for "" or garbage.
std::optional<unsigned long long> parse_lsn(const std::string& text);

// ---- the lock ------------------------------------------------------------

// flock(2) on <state_dir>/e3-control.lock, taken without waiting: a second
// failover or rejoin while one runs is refused (exit 3) naming the holder.
class ControlLock {
public:
  ControlLock(const config::Config& config, const std::string& action);
  ~ControlLock();
  ControlLock(const ControlLock&) = delete;
  ControlLock& operator=(const ControlLock&) = delete;

private:
  int fd_ = -1;
};

// ---- steps ---------------------------------------------------------------

// The timed steps of a failover or rejoin: each printed on stderr as it
// ends ("[  0.41s] stop ipc2 (-m fast): 0.38s — ..."), all in the report.
class Steps {
public:
  Steps();
  // Starts a step (ends the previous one if still open).
  void begin(const std::string& name);
  // Ends the open step with a detail line.
  void end(const std::string& detail = "");
  // A step of no duration (a decision, a note).
  void note(const std::string& name, const std::string& detail);
  double elapsed() const;  // seconds since construction
  nlohmann::json to_json() const;
  void print(std::ostream& out) const;  // aligned table

private:
  struct Step {
    std::string name;
    std::string detail;
    double started = 0;  // seconds since construction
    double seconds = 0;
    std::string at;      // wall-clock time it ended (UTC, ms)
  };
  std::chrono::steady_clock::time_point start_;
  std::vector<Step> steps_;
  bool open_ = false;
};

// ---- the node ------------------------------------------------------------

// "" when the site has pgdata, start_command and stop_command; else which of
// those keys rulectl.toml lacks ("pgdata, stop_command").
std::string missing_control(const config::SiteConfig& site);
bool controllable(const config::SiteConfig& site);

// Where the tool output of an action at a site goes: <state_dir>/logs/<action>-<site>.log.
std::filesystem::path log_file(const config::Config& config, const std::string& action, const std::string& site);

// PID of a live postmaster in PGDATA/postmaster.pid (0 if none, or a zombie).
int postmaster_pid(const config::SiteConfig& site);

// The site's stop_command / start_command through /bin/sh, output appended
// to `log`; throws common::ExitError(common::exit_failed) with the log's tail if it fails.
// start() first waits (bounded) until a killed postmaster's zombie is reaped
// (POSTGRES-NOTES "kill -9": its PID in the lock file counts as alive).
void stop(const config::SiteConfig& site, const std::filesystem::path& log,
          std::chrono::seconds timeout = std::chrono::seconds(120));
void start(const config::SiteConfig& site, const std::filesystem::path& log,
           std::chrono::seconds timeout = std::chrono::seconds(120));

struct ControlData {
  std::string state;             // "shut down", "shut down in recovery", "in production", ...
  std::string checkpoint_lsn;    // Latest checkpoint location
  std::string redo_lsn;          // Latest checkpoint's REDO location
  long long timeline = 0;        // Latest checkpoint's TimeLineID
  long long min_recovery_timeline = 0;  // Min recovery ending loc's timeline (0: none)
};
// pg_controldata -D <pgdata> from the site's bindir.
ControlData controldata(const config::SiteConfig& site, const std::filesystem::path& log);

// pg_rewind -D <pgdata> --source-server=<source_conninfo> (as postgres when
// root). Returns its output ("no rewind required" or "Done!").
std::string rewind(const config::SiteConfig& site, const std::string& source_conninfo,
                   const std::filesystem::path& log);
// The exact pg_rewind command line rewind() runs (for the runbook print).
std::string rewind_command(const config::SiteConfig& site, const std::string& source_conninfo);

// The file that carries the node's primary_conninfo/primary_slot_name.
std::filesystem::path settings_file(const config::SiteConfig& site);
// Rewrites primary_conninfo and primary_slot_name in settings_file() (empty
// values: the lines are removed, i.e. no upstream), and removes both from
// PGDATA/postgresql.auto.conf when that is not the settings file (pg_rewind
// copies the source's there). Other lines are kept as they are.
void set_upstream(const config::SiteConfig& site, const std::string& primary_conninfo,
                  const std::string& primary_slot_name);
// PGDATA/standby.signal (empty, owned by postgres when root).
void write_standby_signal(const config::SiteConfig& site);

// ---- what a node is now ----------------------------------------------------

struct NodeState {
  const config::SiteConfig* config = nullptr;
  std::unique_ptr<pqxx::connection> conn;  // kept open; null if unreachable
  bool reachable = false;
  std::string error;        // why not reachable
  bool in_recovery = false;
  long long timeline = 0;   // rulekeeper.timeline() (else the checkpoint's)
  std::string wal_receiver; // pg_stat_wal_receiver.status, "" if none
  // The upstream it streams from (wal receiver) or is set to follow
  // (primary_conninfo); empty when it has none (or we may not read it).
  std::string upstream_host, upstream_port, upstream_from;
  const std::string& name() const { return config->name; }
};
NodeState probe_node(const config::SiteConfig& site, int connect_timeout_seconds = 3);
// Every E3 site at once, config order.
std::vector<NodeState> probe_e3(const config::Config& config);

// ---- SQL helpers -----------------------------------------------------------

// One value (first row, first column) of a statement in autocommit; "" for NULL.
std::string value(pqxx::connection& c, const std::string& sql);

// Opens a connection with a short connect timeout; nullptr (and `error`) if
// the site does not answer.
std::unique_ptr<pqxx::connection> try_connect(const config::SiteConfig& site, std::string& error,
                                              int connect_timeout_seconds = 3);

// Polls `ready` every `every` until true or `timeout` passes. Returns
// whether it became true. Exceptions from `ready` count as "not yet".
template <class F>
bool wait_for(std::chrono::milliseconds timeout, std::chrono::milliseconds every, F ready);

}  // namespace rulekeeper::node_control

#include <thread>

namespace rulekeeper::node_control {
template <class F>
bool wait_for(std::chrono::milliseconds timeout, std::chrono::milliseconds every, F ready) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    try {
      if (ready()) return true;
    } catch (const std::exception&) {
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(every);
  }
}
}  // namespace rulekeeper::node_control
