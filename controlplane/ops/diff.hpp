// `diff`: what changes from one version of a rule to another, as
// the SQL API's diff() computes it at the site (RFC 6901 paths). Reading only:
// any site will do, a standby too; `e3` is the E3 primary.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "site/client/diff.hpp"
#include "site/config.hpp"

namespace rulekeeper::ops {

struct DiffRequest {
  std::string site;  // site name, or e3 for the E3 primary
  std::string rule;
  std::string from;
  std::string to;
};

struct DiffReport {
  std::string site;
  std::string rule_key;
  std::string from;
  std::string to;
  std::vector<site::client::DiffEntry> entries;
  int exit_code = 0;  // shown, also when they differ

  // [{path, op, old_value?, new_value?}]: the form rulekeeper.hotfix.diff
  // stores and the renderer takes.
  nlohmann::json diff_json() const;
  nlohmann::json to_json() const;
};

DiffReport diff(const config::Config& config, const DiffRequest& request);

}  // namespace rulekeeper::ops
