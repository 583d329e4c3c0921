// The SQL of the hotfix verbs (hotfix, hotfix list|show|replay, receipts,
// the --sync wait): rulekeeper.hotfix() and the read functions that stand in
// for the tables (docs/design/architecture.md "The control plane").
// Timestamps come back in RFC 3339 UTC with milliseconds (sql_time.hpp).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

namespace rulekeeper::site::client {

// rulekeeper.hotfix(rule, body, reason, acknowledge_sl_failed): the
// function's report (hotfix_id, rule_key, base_label, label, site, epoch,
// diff, sl_moved, annotated, acknowledged_sl_failed …). In the caller's
// transaction: the receipt is read back in the same one, before COMMIT (a dry
// run rolls it back).
nlohmann::json hotfix(pqxx::transaction_base& tx, const std::string& rule, const std::string& body_text,
                      const std::string& reason, const std::optional<std::string>& acknowledge_sl_failed);

// One row of rulekeeper.hotfixes().
struct HotfixRow {
  std::string hotfix_id;
  std::string rule_key;
  std::string base_label;
  std::string label;
  std::string site;
  std::string reason;
  std::string actor;
  std::string created_at;
  nlohmann::json diff;
  std::string change_id;
  std::optional<std::string> content_sha256;  // of the version it made (nullopt: not readable here)
  nlohmann::json body;                        // that version's body (null: not readable here)
  std::optional<std::string> prod_now;        // what prod / sl serve now
  std::optional<std::string> sl_now;
};

// Every hotfix (id_prefix nullopt) or those whose id starts with id_prefix;
// oldest first. since_last_release: made after the newest release import.
std::vector<HotfixRow> hotfixes(pqxx::transaction_base& tx, const std::optional<std::string>& id_prefix,
                                bool since_last_release);

// When the newest release was imported here (nullopt: none yet).
std::optional<std::string> last_release_at(pqxx::transaction_base& tx);

// A planned version classified against a hotfix.
struct HotfixClassification {
  std::string label;
  std::optional<std::string> classification;   // of this hotfix
  std::optional<std::string> hotfix_included;  // the version's overall one
  std::string qualification;
};
std::vector<HotfixClassification> hotfix_classifications(pqxx::transaction_base& tx, const std::string& hotfix_id);

// A journaled acknowledgement that named a hotfix.
struct HotfixAcknowledgement {
  std::string label;
  std::string actor;
  std::string recorded_at;
  std::optional<std::string> action;
  std::optional<std::string> channel;
  std::string change_id;
  std::optional<std::string> what;
};
std::vector<HotfixAcknowledgement> hotfix_acknowledgements(pqxx::transaction_base& tx, const std::string& hotfix_id);

// rulekeeper.content_sha256(body) as the site computes it.
std::string content_sha256(pqxx::transaction_base& tx, const std::string& body_text);

// The first version of `rule` holding content `sha256` (nullopt: none).
struct HeldVersion {
  std::string label;
  std::string qualification;
};
std::optional<HeldVersion> version_with_content(pqxx::transaction_base& tx, const std::string& rule,
                                                const std::string& sha256);

// The version `channel` serves for `rule` (nullopt: none).
std::optional<std::string> channel_label(pqxx::transaction_base& tx, const std::string& rule,
                                         const std::string& channel);

// pg_current_wal_insert_lsn() in a statement of its own (after a COMMIT: at
// or past the end of its commit record whatever synchronous_commit says).
std::string wal_insert_lsn(pqxx::connection& conn);

}  // namespace rulekeeper::site::client
