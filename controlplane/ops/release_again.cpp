// See release_again.hpp.
#include "ops/release_again.hpp"

#include "common/terminal.hpp"

#include <fmt/format.h>

#include "site/client/release_again.hpp"
#include "site/server_error.hpp"

namespace rulekeeper::ops {

using nlohmann::json;

json ReleaseAgain::to_json() const {
  json list = json::array();
  for (const auto& v : lacked) list.push_back({{"rule_key", v.rule_key}, {"label", v.label}});
  return {{"bundle_sha256", bundle_sha256}, {"imported", list}, {"already_there", already_there}};
}

std::optional<ReleaseAgain> release_again(pqxx::connection& source, const std::string& source_name,
                                          pqxx::connection& target, const std::string& target_name,
                                          const std::vector<std::string>& rules, bool dry_run,
                                          const ConfirmHook& confirm, const common::ProgressSink& progress) {
  site::client::ReleaseBundle bundle;
  try {
    bundle = site::client::export_release_again(source, rules, source_name);
  } catch (const pqxx::broken_connection&) {
    throw;
  } catch (const pqxx::failure& e) {
    throw site::sql_failure(fmt::format("export_release_again at {}", source_name), e);
  }
  if (bundle.versions.empty()) return std::nullopt;
  ReleaseAgain again;
  again.bundle_sha256 = bundle.bundle_sha256;
  try {
    pqxx::work tx(target);
    const auto present = site::client::versions_present(tx, bundle.text);
    for (const auto& v : bundle.versions)
      if (!present.count({v.rule_key, v.label})) again.lacked.push_back(v);
    again.already_there = bundle.versions.size() - again.lacked.size();
    if (!again.lacked.empty() && !dry_run) {
      if (confirm) {
        ProductionPlan plan{fmt::format("send again {} version(s) released earlier from {} that {} lacks (production)",
                                        again.lacked.size(), source_name, target_name),
                            {}};
        for (const auto& v : again.lacked)
          plan.lines.push_back(fmt::format("{} {}: import (awaiting_sl)", common::escape_controls(v.rule_key),
                                           common::escape_controls(v.label)));
        confirm(plan);
      }
      (void)site::client::import_release(tx, bundle.text, std::nullopt);
      tx.commit();
    }
  } catch (const pqxx::broken_connection&) {
    throw;
  } catch (const pqxx::failure& e) {
    throw site::sql_failure(fmt::format("import_release at {} refused the bundle exported again at {}", target_name,
                                        source_name),
                            e);
  }
  progress.step(fmt::format("{} from {}: {} version(s) released earlier that {} lacked",
                            dry_run ? "dry run: would send again" : "sent again", source_name, again.lacked.size(),
                            target_name));
  return again;
}

}  // namespace rulekeeper::ops
