#include "ops/receipts.hpp"

#include <cctype>
#include <iostream>
#include <iterator>

#include <fmt/format.h>

#include "common/errors.hpp"
#include "common/files.hpp"
#include "common/json_file.hpp"
#include "common/time.hpp"

namespace rulekeeper::ops {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string file_safe(const std::string& s) {
  std::string out;
  for (unsigned char c : s) out += (std::isalnum(c) || c == '.' || c == '-' || c == '_') ? static_cast<char>(c) : '_';
  return out;
}

std::string require_string(const json& receipt, const char* key, const std::string& file) {
  if (!receipt.contains(key) || !receipt[key].is_string() || receipt[key].get<std::string>().empty())
    throw common::ExitError(common::exit_usage,
                            fmt::format("receipt {}: \"{}\" is missing or not a string", file, key));
  return receipt[key].get<std::string>();
}

}  // namespace

json make_receipt(const json& result, const site::client::HotfixRow& made, const std::string& reason) {
  return {{"format", kReceiptFormat},
          {"hotfix_id", result["hotfix_id"]},
          {"rule_key", result["rule_key"]},
          {"base_label", result["base_label"]},
          {"label", result["label"]},
          {"site", result["site"]},
          {"epoch", result["epoch"]},
          {"body", made.body},
          {"content_sha256", made.content_sha256.value_or("")},
          {"reason", reason},
          {"actor", made.actor},
          {"created_at", made.created_at},
          {"change_id", made.change_id},
          {"diff", result["diff"]}};
}

fs::path write_receipt(const std::string& state_dir, const json& receipt) {
  const fs::path dir = state_dir;
  fs::create_directories(dir);
  const std::string base = fmt::format("hotfix-{}-{}-{}-{}", file_safe(receipt["site"].get<std::string>()),
                                       file_safe(receipt["rule_key"].get<std::string>()),
                                       file_safe(receipt["label"].get<std::string>()), common::utc_now_compact());
  fs::path path = dir / (base + ".json");
  for (int n = 2; fs::exists(path); ++n) path = dir / fmt::format("{}-{}.json", base, n);
  common::write_durably(path, receipt.dump(2) + "\n");
  return fs::absolute(path);
}

Receipt read_receipt(const std::string& file) {
  const std::string what = "receipt " + file;
  json doc;
  if (file == "-")
    doc = common::parse_strict_json(std::string(std::istreambuf_iterator<char>(std::cin), {}), what);
  else
    doc = common::read_json_file(file, what);
  if (!doc.is_object()) throw common::ExitError(common::exit_usage, fmt::format("{} is not a JSON object", what));
  if (doc.value("format", std::string()) != kReceiptFormat)
    throw common::ExitError(common::exit_usage, fmt::format("{}: format is not {}", what, kReceiptFormat));
  Receipt r;
  r.file = file;
  r.rule_key = require_string(doc, "rule_key", file);
  r.base_label = require_string(doc, "base_label", file);
  r.label = require_string(doc, "label", file);
  r.content_sha256 = require_string(doc, "content_sha256", file);
  r.reason = require_string(doc, "reason", file);
  r.site = require_string(doc, "site", file);
  r.hotfix_id = require_string(doc, "hotfix_id", file);
  if (!doc.contains("body") || !doc["body"].is_object())
    throw common::ExitError(common::exit_usage, fmt::format("{}: \"body\" is missing or not a JSON object", what));
  r.body_text = doc["body"].dump();
  r.document = std::move(doc);
  return r;
}

}  // namespace rulekeeper::ops
