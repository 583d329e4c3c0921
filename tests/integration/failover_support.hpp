// Shared by the failover, reconcile and two-AZ tests (issue #6): a
// rulectl.toml whose E3 sites carry pgdata, start_command, stop_command,
// bindir and conf_file (what `rulectl sandbox up` writes), a transcript of
// every rulectl run (RULEKEEPER_FAILOVER_TRANSCRIPT=FILE: docs/failover.md
// quotes one), and small SQL helpers.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pipeline.hpp"
#include "pgnode/process.hpp"

namespace rulekeeper::testing::fo {

inline std::string pg_ctl(const cluster::Node& n, bool start) {
  std::vector<std::string> argv;
  if (process::running_as_root()) argv = {"runuser", "-u", "postgres", "--"};
  argv.push_back((std::filesystem::path(n.cluster_options().bindir) / "pg_ctl").string());
  argv.insert(argv.end(), {"-D", n.data_dir().string()});
  if (start)
    argv.insert(argv.end(), {"-l", n.log_file().string(), "-w", "-t", "120", "-o",
                             "-c config_file=" + process::shell_quote(n.conf_file().string()), "start"});
  else
    argv.insert(argv.end(), {"-m", "fast", "-w", "-t", "120", "stop"});
  return process::quote_command(argv);
}

inline std::string toml_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// Rewrites p.config: every node of the set, E3 nodes with the keys rulectl
// needs to stop, start, rewind and reconfigure them.
inline void write_control_toml(Pipeline& p) {
  std::string toml =
      fmt::format("[rulectl]\nstate_dir = {}\n\n", toml_string((p.set.options().base / "state").string()));
  for (const auto& np : p.set.nodes()) {
    const cluster::Node& n = *np;
    toml += fmt::format(
        "[sites.{}]\nconninfo = \"host=127.0.0.1 port={} user=postgres dbname=rules connect_timeout=3\"\n"
        "environment = \"{}\"\n",
        n.site(), n.port(), n.environment());
    if (n.site() == "ipc1") toml += "dr = true\n";
    if (n.environment() == "e3") {
      toml +=
          fmt::format("pgdata = {}\nstart_command = {}\nstop_command = {}\nbindir = {}\nconf_file = {}\n",
                      toml_string(n.data_dir().string()), toml_string(pg_ctl(n, true)), toml_string(pg_ctl(n, false)),
                      toml_string(n.cluster_options().bindir), toml_string(n.conf_file().string()));
    }
    toml += "\n";
  }
  std::ofstream(p.config) << toml;
}

inline CommandResult run(const Pipeline& p, std::vector<std::string> args) {
  args.insert(args.begin(), {"--config", p.config});
  CommandResult r = run_rulectl(args);
  append_transcript("RULEKEEPER_FAILOVER_TRANSCRIPT", args, r);
  return r;
}

inline std::string describe(const CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\n--- stdout:\n" + r.out + "--- stderr:\n" + r.err;
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Every change_id in a node's journal.
inline std::set<std::string> journal_ids(const cluster::Node& n) {
  std::set<std::string> out;
  auto c = n.connect();
  pqxx::nontransaction tx(*c);
  for (const auto& row : tx.exec("SELECT change_id::text FROM rulekeeper.journal")) out.insert(row[0].c_str());
  return out;
}

// change_ids of the journal entries about `rule_key` recorded after `after_ids`.
inline std::set<std::string> new_ids(const cluster::Node& n, const std::set<std::string>& before) {
  std::set<std::string> out;
  for (const auto& id : journal_ids(n))
    if (!before.count(id)) out.insert(id);
  return out;
}

inline bool streams_from(const cluster::Node& primary, const std::string& standby) {
  return sql_value(primary,
                   "SELECT count(*) FROM pg_stat_replication WHERE application_name = $1 AND state = 'streaming'",
                   standby) == "1";
}

// Until `standby` is `primary`'s synchronous standby (bounded: 60 s).
inline bool wait_sync(const cluster::Node& primary, const std::string& standby) {
  for (int i = 0; i < 600; ++i) {
    if (sql_value(primary,
                  "SELECT count(*) FROM pg_stat_replication WHERE application_name = $1 AND sync_state = 'sync'",
                  standby) == "1")
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// A hotfix through rulectl at the E3 primary; returns its label.
inline std::string hotfix(const Pipeline& p, const std::string& rule, const std::string& body,
                          const std::string& reason) {
  auto file = write_temp_file(rule + "-" + std::to_string(std::hash<std::string>{}(body)) + ".json", body);
  CommandResult r = run(p, {"--json", "hotfix", "--yes", "--site", "e3", "--rule", rule, "--body-file", file.string(),
                            "--reason", reason});
  if (r.exit_code != 0) throw std::runtime_error("hotfix failed: " + describe(r));
  auto j = nlohmann::json::parse(r.out);
  if (j.contains("label")) return j["label"].get<std::string>();
  if (j.contains("hotfix") && j["hotfix"].contains("label")) return j["hotfix"]["label"].get<std::string>();
  return "";
}

// Rule versions and prod activation of a rule at a node: "label:qualification,..."
inline std::string versions_of(const cluster::Node& n, const std::string& rule) {
  return sql_value(n,
                   "SELECT string_agg(label || ':' || qualification, ',' ORDER BY version, hotfix) "
                   "FROM rulekeeper.rule_version WHERE rule_key = $1",
                   rule);
}

inline std::string prod_of(const cluster::Node& n, const std::string& rule) {
  return sql_value(n, "SELECT label FROM rulekeeper.activation WHERE channel = 'prod' AND rule_key = $1", rule);
}

// Makes a stopped node a standby with no upstream (what an operator does with
// a crashed old primary before `rulectl rejoin`), and starts it.
inline void start_without_upstream(cluster::Node& n) {
  n.options().primary_conninfo.clear();
  n.options().primary_slot_name.clear();
  n.write_config();
  { std::ofstream(n.data_dir() / "standby.signal"); }
  process::chown_to_postgres(n.data_dir() / "standby.signal", false);
  n.start();
}

}  // namespace rulekeeper::testing::fo
