// The channel functions through the SQL API. See channels.hpp.
#include "site/client/channels.hpp"

#include "common/json_file.hpp"

namespace rulekeeper::site::client {
namespace {

std::optional<std::string> text_or_none(const nlohmann::json& v) {
  if (!v.is_string()) return std::nullopt;
  return v.get<std::string>();
}

}  // namespace

std::optional<Activation> activation(pqxx::transaction_base& tx, const std::string& rule_key,
                                     const std::string& channel) {
  pqxx::result r =
      tx.exec_params("SELECT label, pinned, epoch FROM rulekeeper.channel_activation($1, $2)", rule_key, channel);
  if (r.empty()) return std::nullopt;
  return Activation{r[0][0].c_str(), r[0][1].as<bool>(), r[0][2].as<long long>()};
}

long long activate(pqxx::transaction_base& tx, const std::string& rule_key, const std::string& label,
                   const std::string& channel, bool acknowledge, std::optional<long long> expected_epoch) {
  return tx
      .exec_params("SELECT rulekeeper.activate($1, $2, $3, $4, $5)", rule_key, label, channel, acknowledge,
                   expected_epoch)[0][0]
      .as<long long>();
}

long long deactivate(pqxx::transaction_base& tx, const std::string& rule_key, const std::string& channel,
                     bool acknowledge, std::optional<long long> expected_epoch) {
  return tx
      .exec_params("SELECT rulekeeper.deactivate($1, $2, $3, $4)", rule_key, channel, acknowledge, expected_epoch)[0][0]
      .as<long long>();
}

long long rollback(pqxx::transaction_base& tx, const std::string& rule_key, const std::string& channel,
                   bool acknowledge, std::optional<long long> expected_epoch) {
  return tx
      .exec_params("SELECT rulekeeper.rollback($1, $2, $3, $4)", rule_key, channel, acknowledge, expected_epoch)[0][0]
      .as<long long>();
}

long long pin(pqxx::transaction_base& tx, const std::string& rule_key, const std::string& channel,
              const std::string& label) {
  return tx.exec_params("SELECT rulekeeper.pin($1, $2, $3)", rule_key, channel, label)[0][0].as<long long>();
}

long long unpin(pqxx::transaction_base& tx, const std::string& rule_key, const std::string& channel) {
  return tx.exec_params("SELECT rulekeeper.unpin($1, $2)", rule_key, channel)[0][0].as<long long>();
}

CutoverResult cutover(pqxx::transaction_base& tx, bool acknowledge) {
  CutoverResult out;
  out.document =
      common::parse_strict_json(tx.exec_params("SELECT rulekeeper.cutover($1)::text", acknowledge)[0][0].c_str(),
                                "the report of cutover()");
  if (out.document.contains("moved") && out.document["moved"].is_array())
    for (const auto& m : out.document["moved"])
      out.moved.push_back({m.value("rule_key", std::string()), text_or_none(m.value("from", nlohmann::json())),
                           text_or_none(m.value("to", nlohmann::json()))});
  if (out.document.contains("stays") && out.document["stays"].is_array())
    for (const auto& s : out.document["stays"])
      out.stays.push_back({s.value("rule_key", std::string()), text_or_none(s.value("prod", nlohmann::json())),
                           text_or_none(s.value("sl", nlohmann::json())), s.value("why", std::string())});
  if (out.document.contains("epoch") && out.document["epoch"].is_number_integer())
    out.epoch = out.document["epoch"].get<long long>();
  return out;
}

}  // namespace rulekeeper::site::client
