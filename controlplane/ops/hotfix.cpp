#include "ops/hotfix.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <iostream>
#include <iterator>
#include <memory>
#include <thread>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "common/errors.hpp"
#include "site/server_error.hpp"
#include "common/files.hpp"
#include "common/json_file.hpp"
#include "common/text.hpp"
#include "ops/receipts.hpp"
#include "rulekeeper/lifecycle.hpp"
#include "rulekeeper/reason.hpp"

namespace rulekeeper::ops {
namespace {

using nlohmann::json;
namespace client = site::client;

const std::string kE3{rulekeeper::to_string(Environment::e3)};
const std::string kProd = "prod";

json optional_json(const std::optional<std::string>& v) { return v ? json(*v) : json(); }

// The E3 primary (or the named site, if it is one) for a hotfix; a site
// outside E3 is refused here, before the extension would refuse it.
site::Site open_for_hotfix(const config::Config& config, const std::string& name, const std::string& action) {
  site::Site site = site::writer(config, name, action);
  if (site.environment() != kE3)
    throw common::ExitError(common::exit_refused,
                            fmt::format("site {} is in environment {}: a hotfix is made only at the E3 primary "
                                        "(--site e3); {} refused",
                                        site.name(), site.environment(), action));
  return site;
}

// hotfix()'s refusals: the policy (and a missing grant) are SQLSTATE 42501,
// a refusal by a safety check (exit 3); the rest as every verb maps them.
// (libpqxx 6.4 throws pqxx::insufficient_privilege for 42501 without setting
// sqlstate(): test the type.)
common::ExitError hotfix_failure(const std::string& what, const pqxx::sql_error& e) {
  if (e.sqlstate() == "42501" || dynamic_cast<const pqxx::insufficient_privilege*>(&e) != nullptr) {
    std::string msg = site::server_message(e);
    if (msg.find("permission denied for function") != std::string::npos)
      msg += " (the connecting role needs rulekeeper_hotfix: GRANT rulekeeper_hotfix TO <role>)";
    return common::ExitError(common::exit_refused, fmt::format("{}: {} [SQLSTATE 42501]", what, msg));
  }
  return site::sql_failure(what, e);
}

// What one committed hotfix is, as its receipt records it.
struct Applied {
  json result;  // the report of the extension's hotfix()
  json receipt;
};

// How one call of hotfix() ends: committed, or (a dry run) rolled back after
// the database checked and computed everything; with `expect`, refused
// unless it made the change a confirmed plan showed.
struct ApplyMode {
  std::optional<std::string> acknowledge_sl_failed;
  bool dry_run = false;
  const std::optional<HotfixExpectation>* expect = nullptr;
};

// Calls hotfix() in a transaction of its own and reads back, in that same
// transaction, what the receipt needs. Commits (a dry run rolls back). Throws
// common::ExitError.
Applied apply_hotfix(site::Site& site, const std::string& rule, const std::string& body_text, const std::string& reason,
                     const std::string& what, const ApplyMode& mode) {
  Applied a;
  try {
    pqxx::work tx(*site.conn);
    a.result = client::hotfix(tx, rule, body_text, reason, mode.acknowledge_sl_failed);
    if (mode.dry_run) {
      tx.abort();
      return a;
    }
    if (mode.expect != nullptr && *mode.expect) {
      const HotfixExpectation& x = **mode.expect;
      const std::string base = a.result.value("base_label", std::string()),
                        label = a.result.value("label", std::string());
      if (base != x.base_label || label != x.label)
        throw common::ExitError(
            common::exit_refused,
            fmt::format("{}: prod of rule {} changed since the plan was confirmed (it showed {} on top of {}; now "
                        "it would be {} on top of {}); nothing was changed: run the hotfix again to see the new plan",
                        what, rule, x.label, x.base_label, label, base));
    }
    const auto made = client::hotfixes(tx, a.result["hotfix_id"].get<std::string>(), false);
    if (made.empty() || !made[0].content_sha256)
      throw common::ExitError(common::exit_failed, "internal: the hotfix's row is not readable in its own transaction");
    a.receipt = make_receipt(a.result, made[0], reason);
    if (a.result.contains("acknowledged_sl_failed") && !a.result["acknowledged_sl_failed"].empty())
      a.receipt["acknowledged_sl_failed"] = a.result["acknowledged_sl_failed"];
    try {
      tx.commit();
    } catch (const pqxx::in_doubt_error& e) {
      throw common::ExitError(common::exit_failed,
                              fmt::format("{}: the connection to {} broke during COMMIT: whether hotfix {} committed "
                                          "is unknown; look with `rulectl hotfix list --site {}` ({})",
                                          what, site.name(), a.result.value("label", std::string("?")), site.name(),
                                          common::one_line(e.what())));
    }
  } catch (const pqxx::sql_error& e) {
    throw hotfix_failure(what, e);
  }
  return a;
}

std::vector<std::string> other_e3_sites(const config::Config& config, const std::string& primary) {
  std::vector<std::string> out;
  for (const auto& s : config.sites)
    if (s.environment == kE3 && s.name != primary) out.push_back(s.name);
  return out;
}

// Receipt, report, optional wait: everything after a hotfix committed.
HotfixReport after_commit(const config::Config& config, site::Site& site, Applied& a, bool sync, double sync_timeout,
                          const common::ProgressSink& progress) {
  HotfixReport report;
  report.site = site.name();
  report.sync_requested = sync;
  std::string lsn;
  try {
    lsn = client::wal_insert_lsn(*site.conn);
  } catch (const std::exception& e) {
    report.warnings.push_back(
        fmt::format("could not read the commit LSN at {}: {}", site.name(), common::one_line(e.what())));
  }
  a.receipt["commit_lsn"] = lsn.empty() ? json() : json(lsn);
  report.result = a.result;
  report.receipt = a.receipt;
  try {
    report.receipt_file = write_receipt(config.state_dir, a.receipt).string();
  } catch (const std::exception& e) {
    report.receipt_error = e.what();
  }

  if (sync && !lsn.empty()) {
    report.sync =
        wait_applied(config, site.name(), lsn, a.result["hotfix_id"].get<std::string>(), sync_timeout, progress);
    report.sync_summary = report.sync->summary;
    if (!report.sync->applied()) report.exit_code = common::exit_refused;
  } else if (sync) {
    report.sync_summary = "the commit LSN is unknown: cannot tell whether the E3 standbys have applied it";
    report.exit_code = common::exit_refused;
  } else {
    report.not_waited_for = other_e3_sites(config, site.name());
  }
  if (!report.receipt_error.empty() && report.exit_code == common::exit_ok) report.exit_code = common::exit_failed;
  return report;
}

// The body of a hotfix: one JSON object, read strictly (a duplicated key is
// refused, named — never resolved as "last one wins"). "-" is stdin.
std::pair<json, std::string> read_body(const std::string& file) {
  const std::string what = "--body-file " + file;
  std::string text;
  if (file == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), {});
  } else {
    try {
      text = common::read_file(file);
    } catch (const std::exception& e) {
      throw common::ExitError(common::exit_usage, fmt::format("{}: {}", what, e.what()));
    }
  }
  json body = common::parse_strict_body(text, what);
  if (!body.is_object())
    throw common::ExitError(common::exit_usage, fmt::format("{}: the body of a rule version is a JSON object, not {}",
                                                            what, body.type_name()));
  return {std::move(body), std::move(text)};
}

// A dry run's report: what hotfix() said inside the rolled-back transaction.
HotfixReport dry_run_report(const config::Config& config, site::Site& site, const Applied& a, bool sync) {
  HotfixReport report;
  report.site = site.name();
  report.dry_run = true;
  report.sync_requested = sync;
  report.result = a.result;
  // The id and epoch it took exist nowhere once rolled back: not reported.
  report.result.erase("hotfix_id");
  report.result.erase("epoch");
  report.receipt = json();
  report.not_waited_for = other_e3_sites(config, site.name());
  return report;
}

}  // namespace

site::Site open_for_read(const config::Config& config, const std::string& name, const std::string& action) {
  if (name == site::kE3Primary) return site::writer(config, name, action);
  return site::reader(config, name);
}

json SyncReport::to_json() const {
  json j = wait.to_json();
  j["commit_lsn"] = commit_lsn;
  j["timeout_seconds"] = timeout_seconds;
  return j;
}

SyncReport wait_applied(const config::Config& config, const std::string& primary, const std::string& lsn,
                        const std::string& hotfix_id, double timeout, const common::ProgressSink& progress) {
  SyncReport report;
  report.commit_lsn = lsn;
  report.timeout_seconds = timeout;
  report.wait = site::wait_hotfix_applied(config, primary, lsn, hotfix_id, timeout, progress);
  const auto ok = report.wait.satisfied(), missing = report.wait.unsatisfied();
  if (report.wait.sites.empty())
    report.summary = fmt::format("committed at {}; no other E3 site is configured, nothing to wait for", primary);
  else if (report.wait.done)
    report.summary = fmt::format("applied at {} (commit LSN {} at {})", fmt::join(ok, ", "), lsn, primary);
  else
    report.summary = fmt::format("committed at {}{}{} only, NOT yet at {}", primary,
                                 ok.empty() ? "" : " and applied at ", fmt::join(ok, ", "), fmt::join(missing, ", "));
  return report;
}

json HotfixReport::to_json() const {
  json doc = {{"site", site},
              {"hotfix", result},
              {"receipt", receipt},
              {"receipt_file", optional_json(receipt_file)},
              {"sync", sync ? sync->to_json() : json()},
              {"dry_run", dry_run}};
  if (!receipt_error.empty()) doc["receipt_error"] = receipt_error;
  if (sync_requested) doc["sync_summary"] = sync_summary;
  return doc;
}

HotfixReport hotfix(const config::Config& config, const HotfixRequest& request, const common::ProgressSink& progress) {
  // The same check as the server's (rulekeeper._require_reason): white space
  // and invisible characters alone are no reason.
  if (rulekeeper::is_blank(request.reason))
    throw common::ExitError(common::exit_usage,
                            "hotfix --reason is empty: say why (it is journaled with the hotfix and kept in its "
                            "receipt); nothing was sent to any site");
  const std::string body_text = read_body(request.body_file).second;
  site::Site site = open_for_hotfix(config, request.site, "hotfix");
  ApplyMode mode;
  if (!request.acknowledge_sl_failed.empty()) mode.acknowledge_sl_failed = request.acknowledge_sl_failed;
  mode.dry_run = request.dry_run;
  mode.expect = &request.expect;
  Applied a = apply_hotfix(site, request.rule, body_text, request.reason,
                           fmt::format("hotfix refused at {}", site.name()), mode);
  if (request.dry_run) return dry_run_report(config, site, a, request.sync);
  return after_commit(config, site, a, request.sync, request.sync_timeout, progress);
}

json ReplayReport::to_json() const {
  if (replayed) return replayed->to_json();
  return {{"site", site},
          {"dry_run", dry_run},
          {"replayed", false},
          {"already_held_as", held_as},
          {"qualification", held_qualification},
          {"prod", optional_json(prod)},
          {"receipt", receipt}};
}

ReplayReport replay(const config::Config& config, const ReplayRequest& request, const common::ProgressSink& progress) {
  const Receipt receipt = read_receipt(request.receipt_file);
  site::Site site = open_for_hotfix(config, request.site, "hotfix replay");

  ReplayReport report;
  report.site = site.name();
  report.dry_run = request.dry_run;
  report.receipt_file = request.receipt_file;
  report.receipt = receipt.document;
  report.hotfix_id = receipt.hotfix_id;
  report.rule_key = receipt.rule_key;
  report.label = receipt.label;
  report.from_site = receipt.site;
  report.content_sha256 = receipt.content_sha256;
  std::optional<client::HeldVersion> held;
  try {
    pqxx::read_transaction tx(*site.conn);
    const std::string computed = client::content_sha256(tx, receipt.body_text);
    if (computed != receipt.content_sha256)
      throw common::ExitError(common::exit_refused,
                              fmt::format("receipt {}: its body's content_sha256 is {} at {}, the receipt says {}: "
                                          "the receipt was changed after it was written; nothing replayed",
                                          request.receipt_file, computed, site.name(), receipt.content_sha256));
    held = client::version_with_content(tx, receipt.rule_key, receipt.content_sha256);
    report.prod = client::channel_label(tx, receipt.rule_key, kProd);
  } catch (const pqxx::sql_error& e) {
    throw site::sql_failure(fmt::format("hotfix replay at {}", site.name()), e);
  }

  if (held) {
    report.held_as = held->label;
    report.held_qualification = held->qualification;
    return report;
  }
  const std::string prod = report.prod.value_or("");
  if (prod != receipt.base_label)
    throw common::ExitError(
        common::exit_refused,
        fmt::format("hotfix {} ({} at {}) was made on top of version {} of rule {}, but prod at {} serves {}: "
                    "replaying its body would also undo whatever differs between {} and {}; nothing replayed. "
                    "If that is intended, write the receipt's body to a file and make a new hotfix "
                    "(rulectl hotfix --site {} --rule {} --body-file F --reason …)",
                    receipt.hotfix_id, receipt.label, receipt.site, receipt.base_label, receipt.rule_key, site.name(),
                    prod.empty() ? "nothing" : prod, receipt.base_label, prod.empty() ? "nothing" : prod, site.name(),
                    receipt.rule_key));

  const std::string replay_reason =
      fmt::format("replay of {} from {}: {}", receipt.hotfix_id, receipt.site, receipt.reason);
  ApplyMode mode;
  mode.dry_run = request.dry_run;
  mode.expect = &request.expect;
  Applied a = apply_hotfix(site, receipt.rule_key, receipt.body_text, replay_reason,
                           fmt::format("hotfix replay refused at {}", site.name()), mode);
  if (request.dry_run) {
    report.replayed = dry_run_report(config, site, a, request.sync);
    return report;
  }
  a.receipt["replay_of"] = {{"hotfix_id", receipt.hotfix_id},
                            {"site", receipt.site},
                            {"label", receipt.label},
                            {"file", request.receipt_file}};
  const bool same = a.receipt["content_sha256"].get<std::string>() == receipt.content_sha256;
  report.replayed = after_commit(config, site, a, request.sync, request.sync_timeout, progress);
  if (!same) report.replayed->warnings.push_back("the replayed version's content_sha256 differs from the receipt's");
  report.exit_code = report.replayed->exit_code;
  return report;
}

namespace {
// The fields `hotfix list` and `hotfix show` both report of a hotfix.
json hotfix_row_json(const client::HotfixRow& h) {
  return {{"hotfix_id", h.hotfix_id},
          {"rule_key", h.rule_key},
          {"base_label", h.base_label},
          {"label", h.label},
          {"site", h.site},
          {"reason", h.reason},
          {"actor", h.actor},
          {"created_at", h.created_at},
          {"diff", h.diff},
          {"change_id", h.change_id},
          {"prod_now", optional_json(h.prod_now)}};
}
}  // namespace

json HotfixList::to_json() const {
  json rows = json::array();
  for (const auto& h : hotfixes) rows.push_back(hotfix_row_json(h));
  return {{"site", site},
          {"since_last_release", since_last_release},
          {"last_release_at", optional_json(last_release_at)},
          {"hotfixes", rows}};
}

HotfixList list_hotfixes(const config::Config& config, const std::string& site_name, bool since_last_release) {
  site::Site site = open_for_read(config, site_name, "list hotfixes");
  HotfixList list;
  list.site = site.name();
  list.since_last_release = since_last_release;
  try {
    pqxx::read_transaction tx(*site.conn);
    list.last_release_at = client::last_release_at(tx);
    list.hotfixes = client::hotfixes(tx, std::nullopt, since_last_release);
  } catch (const pqxx::sql_error& e) {
    throw site::sql_failure(fmt::format("hotfix list at {}", site.name()), e);
  }
  return list;
}

json HotfixDetail::to_json() const {
  const auto& h = hotfix;
  json doc = hotfix_row_json(h);
  doc["content_sha256"] = optional_json(h.content_sha256);
  doc["sl_now"] = optional_json(h.sl_now);
  doc["classified_versions"] = json::array();
  doc["acknowledgements"] = json::array();
  doc["read_at"] = read_at;
  for (const auto& c : classified_versions)
    doc["classified_versions"].push_back({{"label", c.label},
                                          {"classification", c.classification.value_or("unknown")},
                                          {"hotfix_included", c.hotfix_included.value_or("unknown")},
                                          {"qualification", c.qualification}});
  for (const auto& k : acknowledgements)
    doc["acknowledgements"].push_back({{"label", k.label},
                                       {"actor", k.actor},
                                       {"recorded_at", k.recorded_at},
                                       {"action", k.action.value_or("")},
                                       {"channel", k.channel.value_or("")},
                                       {"change_id", k.change_id},
                                       {"what", k.what.value_or("")}});
  return doc;
}

HotfixDetail show_hotfix(const config::Config& config, const std::string& id_given, const std::string& site_name) {
  std::string id = id_given;
  std::transform(id.begin(), id.end(), id.begin(), [](unsigned char c) { return std::tolower(c); });
  if (id.empty() || id.find_first_not_of("0123456789abcdef-") != std::string::npos)
    throw common::ExitError(common::exit_usage,
                            fmt::format("'{}' is not a hotfix id (a UUID, or the start of one)", id_given));
  site::Site site = open_for_read(config, site_name, "show a hotfix");
  HotfixDetail d;
  d.read_at = site.name();
  try {
    pqxx::read_transaction tx(*site.conn);
    auto rows = client::hotfixes(tx, id, false);
    if (rows.empty())
      throw common::ExitError(common::exit_failed,
                              fmt::format("no hotfix {} at site {} (rulectl hotfix list --site {})", id_given,
                                          site.name(), site.name()));
    if (rows.size() > 1) {
      std::vector<std::string> ids;
      for (const auto& row : rows) ids.push_back(row.hotfix_id);
      throw common::ExitError(common::exit_usage, fmt::format("hotfix id '{}' is ambiguous at {}: {}", id_given,
                                                              site.name(), fmt::join(ids, ", ")));
    }
    d.hotfix = std::move(rows[0]);
    d.classified_versions = client::hotfix_classifications(tx, d.hotfix.hotfix_id);
    d.acknowledgements = client::hotfix_acknowledgements(tx, d.hotfix.hotfix_id);
  } catch (const pqxx::sql_error& e) {
    throw site::sql_failure(fmt::format("hotfix show at {}", site.name()), e);
  }
  return d;
}

}  // namespace rulekeeper::ops
