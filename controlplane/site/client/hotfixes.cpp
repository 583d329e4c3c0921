#include "site/client/hotfixes.hpp"

#include "common/json_file.hpp"
#include "site/client/fields.hpp"
#include "site/client/sql_time.hpp"

namespace rulekeeper::site::client {

nlohmann::json hotfix(pqxx::transaction_base& tx, const std::string& rule, const std::string& body_text,
                      const std::string& reason, const std::optional<std::string>& acknowledge_sl_failed) {
  pqxx::result r =
      tx.exec_params("SELECT rulekeeper.hotfix($1, $2::jsonb, $3, $4)::text", rule, body_text, reason,
                     acknowledge_sl_failed ? acknowledge_sl_failed->c_str() : static_cast<const char*>(nullptr));
  return common::parse_strict_json(r[0][0].c_str(), "rulekeeper.hotfix()'s report");
}

std::vector<HotfixRow> hotfixes(pqxx::transaction_base& tx, const std::optional<std::string>& id_prefix,
                                bool since_last_release) {
  pqxx::result r =
      tx.exec_params("SELECT hotfix_id::text, rule_key, base_label, label, site, reason, actor, " +
                         rfc3339("created_at") +
                         ", diff::text, change_id::text, content_sha256, body::text, prod_now, sl_now "
                         "FROM rulekeeper.hotfixes($1, $2)",
                     id_prefix ? id_prefix->c_str() : static_cast<const char*>(nullptr), since_last_release);
  std::vector<HotfixRow> rows;
  for (const auto& row : r) {
    HotfixRow h;
    h.hotfix_id = row[0].c_str();
    h.rule_key = row[1].c_str();
    h.base_label = row[2].c_str();
    h.label = row[3].c_str();
    h.site = row[4].c_str();
    h.reason = row[5].c_str();
    h.actor = row[6].c_str();
    h.created_at = row[7].c_str();
    h.diff = common::parse_strict_json(row[8].c_str(), "a hotfix's diff");
    h.change_id = row[9].c_str();
    h.content_sha256 = optional_text(row[10]);
    if (!row[11].is_null()) h.body = common::parse_strict_json(row[11].c_str(), "a hotfix's body");
    h.prod_now = optional_text(row[12]);
    h.sl_now = optional_text(row[13]);
    rows.push_back(std::move(h));
  }
  return rows;
}

std::optional<std::string> last_release_at(pqxx::transaction_base& tx) {
  return optional_text(tx.exec("SELECT " + rfc3339("rulekeeper.last_release_at()"))[0][0]);
}

std::vector<HotfixClassification> hotfix_classifications(pqxx::transaction_base& tx, const std::string& hotfix_id) {
  pqxx::result r = tx.exec_params(
      "SELECT label, classification, hotfix_included, qualification "
      "FROM rulekeeper.hotfix_classifications($1::uuid)",
      hotfix_id);
  std::vector<HotfixClassification> out;
  for (const auto& row : r)
    out.push_back({row[0].c_str(), optional_text(row[1]), optional_text(row[2]), row[3].c_str()});
  return out;
}

std::vector<HotfixAcknowledgement> hotfix_acknowledgements(pqxx::transaction_base& tx, const std::string& hotfix_id) {
  pqxx::result r = tx.exec_params("SELECT label, actor, " + rfc3339("recorded_at") +
                                      ", action, channel, change_id::text, what "
                                      "FROM rulekeeper.hotfix_acknowledgements($1::uuid)",
                                  hotfix_id);
  std::vector<HotfixAcknowledgement> out;
  for (const auto& row : r)
    out.push_back({row[0].c_str(), row[1].c_str(), row[2].c_str(), optional_text(row[3]), optional_text(row[4]),
                   row[5].c_str(), optional_text(row[6])});
  return out;
}

std::string content_sha256(pqxx::transaction_base& tx, const std::string& body_text) {
  return tx.exec_params("SELECT rulekeeper.content_sha256($1::jsonb)", body_text)[0][0].c_str();
}

std::optional<HeldVersion> version_with_content(pqxx::transaction_base& tx, const std::string& rule,
                                                const std::string& sha256) {
  pqxx::result r =
      tx.exec_params("SELECT label, qualification FROM rulekeeper.version_with_content($1, $2)", rule, sha256);
  if (r.empty()) return std::nullopt;
  return HeldVersion{r[0][0].c_str(), r[0][1].c_str()};
}

std::optional<std::string> channel_label(pqxx::transaction_base& tx, const std::string& rule,
                                         const std::string& channel) {
  pqxx::result r = tx.exec_params("SELECT label FROM rulekeeper.channel_activation($1, $2)", rule, channel);
  if (r.empty()) return std::nullopt;
  return optional_text(r[0][0]);
}

std::string wal_insert_lsn(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  return tx.exec("SELECT pg_current_wal_insert_lsn()::text")[0][0].c_str();
}

}  // namespace rulekeeper::site::client
