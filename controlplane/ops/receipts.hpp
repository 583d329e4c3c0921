// Hotfix receipts: what `rulectl hotfix` writes to state_dir after a commit
// so that a hotfix that never reached the E3 standbys can be re-applied at
// the new primary after a failover (`hotfix replay RECEIPT`). They exist for
// crash recovery, so they are written durably (common::write_durably) and
// read strictly (common/json_file.hpp: a duplicated key is refused, named).
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "site/client/hotfixes.hpp"

namespace rulekeeper::ops {

inline constexpr const char* kReceiptFormat = "rulekeeper-hotfix-receipt/1";

// The receipt of a committed hotfix: `result` is the report of the
// extension's hotfix function, `made` the hotfix's row read back in the same transaction.
nlohmann::json make_receipt(const nlohmann::json& result, const site::client::HotfixRow& made,
                            const std::string& reason);

// Writes hotfix-<site>-<rule>-<label>-<UTC time>.json into state_dir
// (created if missing), never over an existing file; returns its absolute
// path. Throws std::runtime_error naming the path and the step that failed.
std::filesystem::path write_receipt(const std::string& state_dir, const nlohmann::json& receipt);

// A receipt read back, its fields checked.
struct Receipt {
  nlohmann::json document;
  std::string file;
  std::string hotfix_id;
  std::string rule_key;
  std::string base_label;
  std::string label;
  std::string site;
  std::string reason;
  std::string content_sha256;
  std::string body_text;  // the body as compact JSON, as it is replayed
};

// Reads and checks a receipt ("-": stdin). Throws common::ExitError(exit_usage)
// when it is not strict JSON, not a receipt, or lacks a field.
Receipt read_receipt(const std::string& file);

}  // namespace rulekeeper::ops
