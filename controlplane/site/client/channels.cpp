// The channel functions through the SQL API. See channels.hpp.
#include "site/client/channels.hpp"

#include "common/json_file.hpp"

namespace rulekeeper::site::client {
namespace {

std::optional<std::string> text_or_none(const nlohmann::json& v) {
  if (!v.is_string()) return std::nullopt;
  return v.get<std::string>();
}

// text[] travels as a JSON array (NULL when empty), like export_release's keys.
std::optional<std::string> labels_param(const std::vector<std::string>& labels) {
  if (labels.empty()) return std::nullopt;
  return nlohmann::json(labels).dump();
}

std::string labels_sql(int n) {
  const std::string p = "$" + std::to_string(n) + "::jsonb";
  return "CASE WHEN " + p + " IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(" + p + ")) END";
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
                   const std::string& channel, const Acknowledgement& ack, std::optional<long long> expected_epoch) {
  return tx
      .exec_params("SELECT rulekeeper.activate($1, $2, $3, $4, $5, " + labels_sql(6) + ")", rule_key, label, channel,
                   ack.acknowledge, expected_epoch, labels_param(ack.hotfixes))[0][0]
      .as<long long>();
}

long long deactivate(pqxx::transaction_base& tx, const std::string& rule_key, const std::string& channel,
                     const Acknowledgement& ack, std::optional<long long> expected_epoch) {
  return tx
      .exec_params("SELECT rulekeeper.deactivate($1, $2, $3, $4, " + labels_sql(5) + ")", rule_key, channel,
                   ack.acknowledge, expected_epoch, labels_param(ack.hotfixes))[0][0]
      .as<long long>();
}

long long rollback(pqxx::transaction_base& tx, const std::string& rule_key, const std::string& channel,
                   const Acknowledgement& ack, std::optional<long long> expected_epoch) {
  return tx
      .exec_params("SELECT rulekeeper.rollback($1, $2, $3, $4, " + labels_sql(5) + ")", rule_key, channel,
                   ack.acknowledge, expected_epoch, labels_param(ack.hotfixes))[0][0]
      .as<long long>();
}

long long pin(pqxx::transaction_base& tx, const std::string& rule_key, const std::string& channel,
              const std::string& label, const Acknowledgement& ack) {
  return tx
      .exec_params("SELECT rulekeeper.pin($1, $2, $3, $4, " + labels_sql(5) + ")", rule_key, channel, label,
                   ack.acknowledge, labels_param(ack.hotfixes))[0][0]
      .as<long long>();
}

long long unpin(pqxx::transaction_base& tx, const std::string& rule_key, const std::string& channel) {
  return tx.exec_params("SELECT rulekeeper.unpin($1, $2)", rule_key, channel)[0][0].as<long long>();
}

std::optional<std::string> rollback_target(pqxx::transaction_base& tx, const std::string& rule_key,
                                           const std::string& channel) {
  pqxx::result r = tx.exec_params("SELECT rulekeeper.rollback_target($1, $2)", rule_key, channel);
  if (r.empty() || r[0][0].is_null()) return std::nullopt;
  return std::string(r[0][0].c_str());
}

nlohmann::json hotfix_gate(pqxx::transaction_base& tx, const std::string& rule_key,
                           const std::optional<std::string>& label) {
  return common::parse_strict_json(
      tx.exec_params("SELECT rulekeeper.hotfix_gate($1, $2)::text", rule_key, label)[0][0].c_str(),
      "the report of hotfix_gate()");
}

CutoverResult cutover(pqxx::transaction_base& tx, const Acknowledgement& ack) {
  CutoverResult out;
  out.document = common::parse_strict_json(tx.exec_params("SELECT rulekeeper.cutover($1, " + labels_sql(2) + ")::text",
                                                          ack.acknowledge, labels_param(ack.hotfixes))[0][0]
                                               .c_str(),
                                           "the report of cutover()");
  if (out.document.contains("moved") && out.document["moved"].is_array())
    for (const auto& m : out.document["moved"]) {
      CutoverMove move{m.value("rule_key", std::string()),
                       text_or_none(m.value("from", nlohmann::json())),
                       text_or_none(m.value("to", nlohmann::json())),
                       {}};
      if (m.contains("acknowledged_hotfixes") && m["acknowledged_hotfixes"].is_array())
        for (const auto& l : m["acknowledged_hotfixes"])
          if (l.is_string()) move.acknowledged_hotfixes.push_back(l.get<std::string>());
      out.moved.push_back(std::move(move));
    }
  if (out.document.contains("stays") && out.document["stays"].is_array())
    for (const auto& s : out.document["stays"])
      out.stays.push_back({s.value("rule_key", std::string()), text_or_none(s.value("prod", nlohmann::json())),
                           text_or_none(s.value("sl", nlohmann::json())), s.value("why", std::string())});
  if (out.document.contains("epoch") && out.document["epoch"].is_number_integer())
    out.epoch = out.document["epoch"].get<long long>();
  return out;
}

}  // namespace rulekeeper::site::client
