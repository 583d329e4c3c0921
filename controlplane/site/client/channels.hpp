// The channel functions of the SQL API (docs/design/contract.md "SQL
// interface"): activate, deactivate, rollback, pin, unpin, cutover, and a
// rule's activation in a channel. Each takes the caller's transaction, so a
// verb reads the activation before and after its change in the same one.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

namespace rulekeeper::site::client {

struct Activation {
  std::string label;
  bool pinned = false;
  long long epoch = 0;

  bool operator==(const Activation& o) const { return label == o.label && pinned == o.pinned && epoch == o.epoch; }
  bool operator!=(const Activation& o) const { return !(*this == o); }
};

// rulekeeper.channel_activation(): nullopt when the rule is not active there.
std::optional<Activation> activation(pqxx::transaction_base& tx, const std::string& rule_key,
                                     const std::string& channel);

// What a change acknowledges (docs/hotfix.md "Acknowledging exactly what
// was shown"): `acknowledge` a recovered version or a change no hotfix
// record explains; `hotfixes` exactly the labels the hotfix gate lists (for
// cutover: rule@label).
struct Acknowledgement {
  bool acknowledge = false;
  std::vector<std::string> hotfixes;
};

// Each returns the epoch the extension reports.
long long activate(pqxx::transaction_base& tx, const std::string& rule_key, const std::string& label,
                   const std::string& channel, const Acknowledgement& ack, std::optional<long long> expected_epoch);
long long deactivate(pqxx::transaction_base& tx, const std::string& rule_key, const std::string& channel,
                     const Acknowledgement& ack, std::optional<long long> expected_epoch);
long long rollback(pqxx::transaction_base& tx, const std::string& rule_key, const std::string& channel,
                   const Acknowledgement& ack, std::optional<long long> expected_epoch);
long long pin(pqxx::transaction_base& tx, const std::string& rule_key, const std::string& channel,
              const std::string& label, const Acknowledgement& ack);
long long unpin(pqxx::transaction_base& tx, const std::string& rule_key, const std::string& channel);

// rulekeeper.rollback_target(): the version a rollback would re-activate.
std::optional<std::string> rollback_target(pqxx::transaction_base& tx, const std::string& rule_key,
                                           const std::string& channel);

// rulekeeper.hotfix_gate(): every hotfix moving prod of the rule to `label`
// (nullopt: deactivating) would undo, each {hotfix_id, label, diff,
// classification, paths}.
nlohmann::json hotfix_gate(pqxx::transaction_base& tx, const std::string& rule_key,
                           const std::optional<std::string>& label);

// rulekeeper.cutover()'s report: what moved from sl to prod, what stays and why.
struct CutoverMove {
  std::string rule_key;
  std::optional<std::string> from;  // prod's label before (none: not active in prod)
  std::optional<std::string> to;
  std::vector<std::string> acknowledged_hotfixes;
};
struct CutoverStay {
  std::string rule_key;
  std::optional<std::string> prod;
  std::optional<std::string> sl;
  std::string why;
};
struct CutoverResult {
  nlohmann::json document;  // the report as the server returned it
  std::vector<CutoverMove> moved;
  std::vector<CutoverStay> stays;
  std::optional<long long> epoch;
};
CutoverResult cutover(pqxx::transaction_base& tx, const Acknowledgement& ack);

}  // namespace rulekeeper::site::client
