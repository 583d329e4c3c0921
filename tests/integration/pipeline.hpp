// Shared setup of the release/channel integration tests: real clusters e1, e2,
// ipc2 (E3 primary) and, when a test needs it, ipc1 (streaming standby of
// ipc2, marked dr), a rulectl.toml naming them, authoring at e1 through SQL,
// and the operator steps through the built rulectl. Helpers throw
// std::runtime_error with the command's output when a step fails, so GoogleTest
// reports the failing step.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "sandbox/cluster.hpp"
#include "test_support.hpp"

namespace rulekeeper::testing {

class Pipeline {
public:
  // Ports: e1 = port_base, e2 = +1, ipc2 = +2, ipc1 = +3.
  // extension_version: what CREATE EXTENSION installs (empty: the default).
  explicit Pipeline(int port_base, bool with_ipc1 = true, const std::string& extension_version = "");

  cluster::ClusterSet set;
  cluster::Node* e1 = nullptr;
  cluster::Node* e2 = nullptr;
  cluster::Node* ipc2 = nullptr;
  cluster::Node* ipc1 = nullptr;  // nullptr without it
  std::string config;             // rulectl.toml

  // rulectl --config <config> args...
  CommandResult rulectl(std::vector<std::string> args) const;
  // The same, and throws unless it exited 0.
  CommandResult ok(std::vector<std::string> args) const;

  // At e1, through SQL: a rule, and a version of it (returns its label).
  void create_rule(const std::string& rule_key, const std::string& ruleset = "");
  std::string create_version(const std::string& rule_key, const std::string& body_json);

  // Through rulectl: release e1 -> e2, `validate --result passed` at e2 for
  // every version that arrived, release e2 -> e3 (the E3 primary).
  void ship();
  // Through rulectl: make `label` validated in sl and active in prod
  // (activate sl, validate passed, activate prod).
  void to_prod(const std::string& rule_key, const std::string& label);
};

// One value (first column, first row; "" for NULL/no rows) of a statement
// with parameters, in autocommit on `node`'s rules database.
template <typename... Args>
std::string sql_value(const cluster::Node& node, const std::string& sql, Args&&... args) {
  auto c = node.connect();
  pqxx::nontransaction tx(*c);
  pqxx::result r = tx.exec_params(sql, std::forward<Args>(args)...);
  if (r.empty() || r[0][0].is_null()) return "";
  return r[0][0].c_str();
}

// Trusts `node`'s own signing key for bundles from `environment` at `node`:
// a single-node test then signs its hand-built bundles with
// rulekeeper.sign_bundle() (as the superuser) and they verify.
void trust_own_key(const cluster::Node& node, const std::string& environment);

// What `channel`'s pods read at `node`, as "rule=label,…" (effective_rules).
std::string effective(const cluster::Node& node, const std::string& channel);

// A snapshot of what an import/activation refusal must leave unchanged:
// snapshot checksum, journal count, release_log count, activation epoch.
std::string state_fingerprint(const cluster::Node& node);

}  // namespace rulekeeper::testing
