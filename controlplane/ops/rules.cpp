// See rules.hpp.
#include "ops/rules.hpp"

#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "common/errors.hpp"
#include "ops/hotfix.hpp"
#include "ops/receipts.hpp"
#include "site/connect.hpp"
#include "site/server_error.hpp"
#include "site/client/channels.hpp"
#include "site/topology.hpp"

namespace rulekeeper::ops {
namespace {

using nlohmann::json;
namespace client = site::client;

json served_json(const std::optional<client::ServedVersion>& v) {
  if (!v) return nullptr;
  return {{"label", v->label},
          {"pinned", v->pinned},
          {"epoch", v->epoch},
          {"qualification", v->qualification},
          {"origin", v->origin},
          {"hotfix", v->hotfix()},
          {"hotfix_included", v->hotfix_included ? json(*v->hotfix_included) : json(nullptr)}};
}

std::string served_key(const std::optional<client::ServedVersion>& v) {
  if (!v) return "-";
  return v->label + (v->pinned ? "@pinned" : "");
}

json opt(const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); }

}  // namespace

bool RulesReport::any_down() const {
  for (const auto& s : sites)
    if (!s.reachable) return true;
  return false;
}

int RulesReport::exit_code() const { return any_down() ? common::exit_unreachable : common::exit_ok; }

json RulesReport::to_json() const {
  json j = {{"sites", json::array()}, {"rules", json::array()}};
  for (const auto& s : sites)
    j["sites"].push_back({{"site", s.site},
                          {"reachable", s.reachable},
                          {"refused", s.refused},
                          {"error", s.error.empty() ? json(nullptr) : json(s.error)}});
  for (const auto& r : rows) {
    json cells = json::object();
    for (std::size_t i = 0; i < sites.size(); ++i) {
      const RulesCell& c = r.cells[i];
      cells[sites[i].site] =
          !sites[i].reachable ? json(nullptr)
                              : json{{"holds_rule", c.known}, {"prod", served_json(c.prod)}, {"sl", served_json(c.sl)}};
    }
    j["rules"].push_back({{"rule_key", r.rule_key},
                          {"ruleset", r.ruleset},
                          {"sites", cells},
                          {"prod_differs", r.prod_differs},
                          {"sl_differs", r.sl_differs}});
  }
  j["exit_code"] = exit_code();
  return j;
}

RulesReport rules_matrix(const config::Config& config, const RulesRequest& request) {
  std::vector<const config::SiteConfig*> targets;
  if (request.sites.empty()) {
    for (const auto& s : config.sites)
      if (s.environment == "e3") targets.push_back(&s);
  } else {
    for (const auto& name : request.sites) targets.push_back(&site::find_site(config, name));
  }
  if (targets.empty())
    throw common::ExitError(common::exit_usage,
                            fmt::format("{} names no E3 site (give the sites to show with --site)", config.path));

  RulesReport report;
  std::map<std::string, std::size_t> row_of;
  std::vector<std::vector<client::RuleServed>> per_site(targets.size());
  for (std::size_t i = 0; i < targets.size(); ++i) {
    RulesSite s;
    s.site = targets[i]->name;
    site::ConnectFailure failure;
    auto conn = site::try_connect(*targets[i], failure);
    if (!conn) {
      s.error = failure.message;
      s.refused = failure.refused();
    } else {
      try {
        pqxx::read_transaction tx(*conn);
        per_site[i] = client::rules_served(tx, request.ruleset, request.text);
        s.reachable = true;
      } catch (const pqxx::broken_connection& e) {
        s.error = e.what();
      } catch (const pqxx::sql_error& e) {
        throw site::sql_failure(fmt::format("rules at {}", s.site), e);
      }
    }
    report.sites.push_back(std::move(s));
  }
  std::set<std::string> keys;
  std::map<std::string, std::string> ruleset_of;
  for (const auto& list : per_site)
    for (const auto& r : list) keys.insert(r.rule_key), ruleset_of.emplace(r.rule_key, r.ruleset);
  for (const auto& key : keys) {
    RulesRow row;
    row.rule_key = key;
    row.ruleset = ruleset_of[key];
    row.cells.resize(targets.size());
    row_of[key] = report.rows.size();
    report.rows.push_back(std::move(row));
  }
  for (std::size_t i = 0; i < targets.size(); ++i)
    for (const auto& r : per_site[i]) {
      RulesCell& c = report.rows[row_of[r.rule_key]].cells[i];
      c.known = true;
      c.prod = r.prod;
      c.sl = r.sl;
    }
  // A difference among the sites that answered: one serves another label
  // (or pin) than another, or one lacks the rule.
  for (auto& row : report.rows) {
    std::set<std::string> prod, sl;
    for (std::size_t i = 0; i < targets.size(); ++i) {
      if (!report.sites[i].reachable) continue;
      const RulesCell& c = row.cells[i];
      prod.insert(c.known ? served_key(c.prod) : "(no rule)");
      sl.insert(c.known ? served_key(c.sl) : "(no rule)");
    }
    row.prod_differs = prod.size() > 1;
    row.sl_differs = sl.size() > 1;
  }
  return report;
}

json RulePage::to_json() const {
  json versions = json::array();
  for (const auto& v : detail.versions)
    versions.push_back({{"label", v.label},
                        {"qualification", v.qualification},
                        {"lifecycle", v.lifecycle},
                        {"pinned_in", v.pinned_in},
                        {"annotations", v.annotations},
                        {"origin", v.origin},
                        {"parent_label", opt(v.parent_label)},
                        {"content_sha256", v.content_sha256},
                        {"created_at", v.created_at},
                        {"created_by", v.created_by}});
  json history = json::array();
  for (const auto& h : detail.history)
    history.push_back({{"kind", h.kind},
                       {"recorded_at", h.recorded_at},
                       {"actor", h.actor},
                       {"channel", opt(h.channel)},
                       {"label", opt(h.label)},
                       {"previous", opt(h.previous)},
                       {"what", h.what},
                       {"reason", opt(h.reason)},
                       {"acknowledged", h.acknowledged}});
  return {{"site", site},
          {"rule_key", detail.rule_key},
          {"ruleset", detail.ruleset},
          {"description", detail.description},
          {"versions", versions},
          {"history", history}};
}

RulePage rule_page(const config::Config& config, const std::string& site_name, const std::string& rule_key) {
  site::Site site = open_for_read(config, site_name, "read a rule");
  RulePage page;
  page.site = site.name();
  std::optional<client::RuleDetail> d;
  try {
    pqxx::read_transaction tx(*site.conn);
    d = client::rule_detail(tx, rule_key);
  } catch (const pqxx::sql_error& e) {
    throw site::sql_failure(fmt::format("rule {} at {}", rule_key, site.name()), e);
  }
  if (!d) throw common::ExitError(common::exit_usage, fmt::format("no rule {} at {}", rule_key, site.name()));
  page.detail = std::move(*d);
  return page;
}

json version_body(const config::Config& config, const std::string& site_name, const std::string& rule_key,
                  const std::string& label) {
  site::Site site = open_for_read(config, site_name, "read a version");
  std::optional<json> body;
  try {
    pqxx::read_transaction tx(*site.conn);
    body = client::version_body(tx, rule_key, label);
  } catch (const pqxx::sql_error& e) {
    throw site::sql_failure(fmt::format("version {} of rule {} at {}", label, rule_key, site.name()), e);
  }
  if (!body)
    throw common::ExitError(common::exit_usage,
                            fmt::format("no version {} of rule {} at {}", label, rule_key, site.name()));
  return *body;
}

json HotfixOverview::to_json() const {
  json rows_json = json::array();
  for (const auto& r : rows) {
    const auto& h = r.hotfix;
    json applied = json::object();
    for (const auto& [s, a] : r.applied_at) applied[s] = a ? json(*a) : json(nullptr);
    rows_json.push_back({{"hotfix_id", h.hotfix_id},
                         {"rule_key", h.rule_key},
                         {"base_label", h.base_label},
                         {"label", h.label},
                         {"site", h.site},
                         {"reason", h.reason},
                         {"actor", h.actor},
                         {"created_at", h.created_at},
                         {"diff", h.diff},
                         {"prod_now", opt(h.prod_now)},
                         {"sl_now", opt(h.sl_now)},
                         {"applied_at", applied},
                         {"receipt_file", opt(r.receipt_file)}});
  }
  return {{"site", site}, {"hotfixes", rows_json}};
}

HotfixOverview hotfix_overview(const config::Config& config) {
  HotfixList list = list_hotfixes(config, site::kE3Primary, false);
  HotfixOverview out;
  out.site = list.site;
  // Which hotfixes each other E3 site holds (down: unknown).
  std::vector<std::pair<std::string, std::optional<std::set<std::string>>>> others;
  for (const auto& s : config.sites) {
    if (s.environment != "e3" || s.name == list.site) continue;
    std::optional<std::set<std::string>> ids;
    std::string error;
    if (auto conn = site::try_connect(s, error)) {
      try {
        pqxx::read_transaction tx(*conn);
        std::set<std::string> held;
        for (const auto& h : client::hotfixes(tx, std::nullopt, false)) held.insert(h.hotfix_id);
        ids = std::move(held);
      } catch (const pqxx::failure&) {
        // Unknown: shown as such.
      }
    }
    others.emplace_back(s.name, std::move(ids));
  }
  // The receipts this host wrote: hotfix-*.json in state_dir, by hotfix id.
  std::map<std::string, std::string> receipts;
  std::error_code ec;
  if (std::filesystem::is_directory(config.state_dir, ec))
    for (const auto& entry : std::filesystem::directory_iterator(config.state_dir, ec)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("hotfix-", 0) != 0 || entry.path().extension() != ".json") continue;
      try {
        receipts.emplace(read_receipt(entry.path().string()).hotfix_id, entry.path().string());
      } catch (const std::exception&) {
        // Not a receipt: not ours to judge here (hotfix replay says why).
      }
    }
  for (auto it = list.hotfixes.rbegin(); it != list.hotfixes.rend(); ++it) {
    HotfixOverviewRow row;
    row.hotfix = *it;
    for (const auto& [name, ids] : others)
      row.applied_at.emplace_back(name, ids ? std::optional<bool>(ids->count(it->hotfix_id) > 0) : std::nullopt);
    if (receipts.count(it->hotfix_id)) row.receipt_file = receipts[it->hotfix_id];
    out.rows.push_back(std::move(row));
  }
  return out;
}

json gate_preview(const config::Config& config, const std::string& rule_key, const std::optional<std::string>& label) {
  site::Site site = open_for_read(config, site::kE3Primary, "read the hotfix gate");
  try {
    pqxx::read_transaction tx(*site.conn);
    return client::hotfix_gate(tx, rule_key, label);
  } catch (const pqxx::sql_error& e) {
    throw site::sql_failure(fmt::format("hotfix gate of rule {} at {}", rule_key, site.name()), e);
  }
}

std::optional<std::string> rollback_target(const config::Config& config, const std::string& rule_key,
                                           const std::string& channel) {
  site::Site site = open_for_read(config, site::kE3Primary, "read the rollback target");
  try {
    pqxx::read_transaction tx(*site.conn);
    return client::rollback_target(tx, rule_key, channel);
  } catch (const pqxx::sql_error& e) {
    throw site::sql_failure(fmt::format("rollback target of rule {} at {}", rule_key, site.name()), e);
  }
}

json cutover_gate(const config::Config& config) {
  site::Site site = open_for_read(config, site::kE3Primary, "read the cutover's hotfix gate");
  json out = json::array();
  try {
    pqxx::read_transaction tx(*site.conn);
    for (const auto& r : client::rules_served(tx, "", "")) {
      if (!r.sl || (r.prod && r.prod->label == r.sl->label)) continue;
      for (auto g : client::hotfix_gate(tx, r.rule_key, r.sl->label)) {
        g["rule_key"] = r.rule_key;
        g["ack"] = r.rule_key + "@" + g.value("label", std::string());
        out.push_back(std::move(g));
      }
    }
  } catch (const pqxx::sql_error& e) {
    throw site::sql_failure(fmt::format("the cutover's hotfix gate at {}", site.name()), e);
  }
  return out;
}

}  // namespace rulekeeper::ops
