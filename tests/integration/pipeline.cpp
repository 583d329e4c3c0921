// The e1/e2/ipc2(/ipc1) pipeline of the release and channel tests.
#include "pipeline.hpp"

#include <fstream>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace rulekeeper::testing {
namespace {

std::string site_toml(const cluster::Node& n, bool dr) {
  return fmt::format(
      "[sites.{}]\nconninfo = \"host=127.0.0.1 port={} user=postgres dbname=rules connect_timeout=3\"\n"
      "environment = \"{}\"\n{}\n",
      n.site(), n.port(), n.environment(), dr ? "dr = true\n" : "");
}

std::string describe(const std::vector<std::string>& args, const CommandResult& r) {
  std::string cmd = "rulectl";
  for (const auto& a : args) cmd += " " + a;
  return fmt::format("{} exited {}\n--- stdout:\n{}--- stderr:\n{}", cmd, r.exit_code, r.out, r.err);
}

}  // namespace

namespace {
cluster::ClusterOptions options_with_version(const std::string& extension_version) {
  cluster::ClusterOptions o = fresh_cluster_options();
  o.extension_version = extension_version;
  return o;
}
}  // namespace

Pipeline::Pipeline(int port_base, bool with_ipc1, const std::string& extension_version)
    : set(options_with_version(extension_version)) {
  e1 = &set.add({"e1", "e1", port_base});
  e2 = &set.add({"e2", "e2", port_base + 1});
  ipc2 = &set.add({"ipc2", "e3", port_base + 2});
  for (cluster::Node* n : {e1, e2, ipc2}) {
    n->init_primary();
    n->create_database();
  }
  std::string toml = fmt::format("[rulectl]\nstate_dir = \"{}\"\n\n", (set.options().base / "state").string());
  toml += site_toml(*e1, false) + site_toml(*e2, false) + site_toml(*ipc2, false);
  if (with_ipc1) {
    ipc1 = &set.add({"ipc1", "e3", port_base + 3});
    ipc1->init_standby_of(*ipc2);
    ipc1->wait_ready();
    toml += site_toml(*ipc1, true);
  }
  // Every node signs with its key (ipc1 a copy of ipc2's); each is trusted
  // where its bundles arrive, as `rulectl sandbox up` does.
  cluster::trust_signing_keys(set);
  config = (set.options().base / "rulectl.toml").string();
  std::ofstream(config) << toml;
}

CommandResult Pipeline::rulectl(std::vector<std::string> args) const {
  args.insert(args.begin(), {"--config", config});
  return run_rulectl(args);
}

CommandResult Pipeline::ok(std::vector<std::string> args) const {
  CommandResult r = rulectl(args);
  if (r.exit_code != 0) throw std::runtime_error(describe(args, r));
  return r;
}

void Pipeline::create_rule(const std::string& rule_key, const std::string& ruleset) {
  sql_value(*e1, "SELECT rulekeeper.create_rule($1, $2)", rule_key, ruleset.empty() ? rule_key : ruleset);
}

std::string Pipeline::create_version(const std::string& rule_key, const std::string& body_json) {
  return sql_value(*e1, "SELECT rulekeeper.create_version($1, $2::jsonb)", rule_key, body_json);
}

void Pipeline::ship() {
  ok({"release", "--from", "e1", "--to", "e2"});
  auto c = e2->connect();
  pqxx::nontransaction tx(*c);
  for (const auto& row : tx.exec("SELECT rule_key, label FROM rulekeeper.rule_version "
                                 "WHERE qualification = 'in_test' ORDER BY rule_key, version"))
    ok({"validate", "--site", "e2", "--rule", row[0].c_str(), "--version", row[1].c_str(), "--result", "passed",
        "--reason", "suite green"});
  ok({"release", "--yes", "--from", "e2", "--to", "e3"});
}

void Pipeline::to_prod(const std::string& rule_key, const std::string& label) {
  ok({"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", rule_key, "--version", label});
  ok({"validate", "--yes", "--site", "e3", "--rule", rule_key, "--version", label, "--result", "passed", "--reason",
      "soft launch clean"});
  ok({"activate", "--yes", "--site", "e3", "--channel", "prod", "--rule", rule_key, "--version", label});
}

void trust_own_key(const cluster::Node& node, const std::string& environment) {
  sql_value(node,
            "SELECT rulekeeper.trust_key($1, public_key, 'test: this node signs its test bundles') FROM "
            "rulekeeper.signing_public_key()",
            environment);
}

std::string effective(const cluster::Node& node, const std::string& channel) {
  return sql_value(node,
                   "SELECT coalesce(string_agg(rule_key || '=' || label, ',' ORDER BY rule_key), '') "
                   "FROM rulekeeper.effective_rules($1)",
                   channel);
}

std::string state_fingerprint(const cluster::Node& node) {
  return sql_value(node,
                   "SELECT rulekeeper.snapshot_checksum('all') || ' journal=' || "
                   "(SELECT count(*) FROM rulekeeper.journal) || ' releases=' || "
                   "(SELECT count(*) FROM rulekeeper.release_log) || ' epoch=' || rulekeeper.activation_epoch() "
                   "|| ' versions=' || (SELECT count(*) FROM rulekeeper.rule_version)");
}

}  // namespace rulekeeper::testing
