// `rulectl hotfix`: the restricted, direct edit at the E3 primary (DESIGN.md
// "Hotfix", "Replication model"), and what goes with it:
//
//   hotfix --site S|e3 --rule K --body-file F --reason TEXT [--sync [--sync-timeout S]]
//   hotfix list [--site S|e3] [--since-last-release]
//   hotfix show ID [--site S|e3]
//   hotfix replay RECEIPT --site S|e3 [--sync …]
//
// The extension decides (policy, reason, the E3 primary, N.k label, prod and
// SL moving, journal): rulectl calls rulekeeper.hotfix() in one transaction,
// reads the new version's checksum in that same transaction, commits, and
// only then
//   1. writes a receipt (rule, base label, body, reason, content checksum …)
//      to state_dir — so that if the primary dies before its standbys have
//      the change, `hotfix replay RECEIPT --site ipc1` re-applies the very
//      same content at the new primary;
//   2. with --sync, waits (bounded by --sync-timeout) until every other E3
//      site has replayed past the commit's LSN and holds the hotfix, and says
//      "applied at ipc1" or "committed at ipc2 only, NOT yet at ipc1" (exit 3).
// The wait is after the commit on purpose: a synchronous-commit wait
// (synchronous_commit = remote_apply) happens inside COMMIT with every lock
// of the transaction still held — hotfix() takes the per-site lock, so every
// E3 write would queue behind a standby that is away (POSTGRES-NOTES.md
// "Synchronous commit holds locks"). rulectl never sets synchronous_commit.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "common/text.hpp"
#include "cli/commands.hpp"
#include "cli/diff_render.hpp"
#include "common/errors.hpp"
#include "common/output.hpp"
#include "site/topology.hpp"
#include "site/server_error.hpp"
#include "site/waiter.hpp"
#include "site/client/waits.hpp"
#include "rulekeeper/version_vector.hpp"
#include "site/probe.hpp"

namespace rulekeeper::cli {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kReceiptFormat = "rulekeeper-hotfix-receipt/1";

const char* kHotfixFooter =
    "Exit: 0 done (with --sync: applied at every other E3 site); 2 usage (missing flags, an empty --reason, a "
    "body file that is not a JSON object); 3 refused: a path the ruleset's hotfix policy does not allow, no "
    "policy for the ruleset, the connecting role lacks rulekeeper_hotfix, a standby or a site outside E3, split "
    "brain, nothing active in prod — or, with --sync, committed but NOT yet applied at some E3 standby when "
    "--sync-timeout ran out (the hotfix stands at the primary; its receipt is in state_dir); 1 another failure; "
    "4 the site is unreachable.";

struct HotfixArgs {
  std::string site;
  std::string rule;
  std::string body_file;
  std::string reason;
  bool sync = false;
  double sync_timeout = 10;
  CLI::Option* reason_option = nullptr;
};

struct ListArgs {
  std::string site = "e3";
  bool since_last_release = false;
};

struct ShowArgs {
  std::string id;
  std::string site = "e3";
};

struct ReplayArgs {
  std::string file;
  std::string site;
  bool sync = false;
  double sync_timeout = 10;
};

std::string trim(const std::string& s) {
  auto b = std::find_if_not(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); });
  auto e = std::find_if_not(s.rbegin(), s.rend(), [](unsigned char c) { return std::isspace(c); }).base();
  return b < e ? std::string(b, e) : std::string();
}

std::string read_text(const std::string& path, const std::string& what) {
  if (path == "-") return std::string(std::istreambuf_iterator<char>(std::cin), {});
  std::ifstream in(path, std::ios::binary);
  if (!in) throw common::ExitError(common::exit_usage, fmt::format("{} {}: cannot be read", what, path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string epoch_text(long long epoch) {
  return fmt::format("epoch {} (incarnation {}, #{})", epoch, epoch >> 32, epoch & 0xffffffffLL);
}

// A site to read at: `e3` is the E3 primary, any other name that site (a
// standby too).
site::Site open_for_read(const config::Config& config, const std::string& name, const std::string& action) {
  if (name == "e3" && config.find("e3") == nullptr) return site::writer(config, "e3", action);
  return site::reader(config, name);
}

// The E3 primary (or the named site, if it is one) for a hotfix; a site
// outside E3 is refused here, before the extension would refuse it.
site::Site open_for_hotfix(const config::Config& config, const std::string& name, const std::string& action) {
  site::Site site = site::writer(config, name, action);
  if (site.environment() != "e3")
    throw common::ExitError(common::exit_refused, fmt::format("site {} is in environment {}: a hotfix is made only at the E3 primary "
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
  json result;  // rulekeeper.hotfix()'s jsonb
  json receipt;
};

// Calls hotfix() in a transaction of its own and reads back, in that same
// transaction, what the receipt needs. Commits. Throws common::ExitError.
Applied apply_hotfix(site::Site& site, const std::string& rule, const std::string& body_text,
                     const std::string& reason, const std::string& what) {
  Applied a;
  try {
    pqxx::work tx(*site.conn);
    a.result = json::parse(
        tx.exec_params("SELECT rulekeeper.hotfix($1, $2::jsonb, $3)::text", rule, body_text, reason)[0][0].c_str());
    pqxx::result r = tx.exec_params(
        "SELECT v.content_sha256, v.body::text, h.actor, "
        "       to_char(h.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), h.change_id::text "
        "  FROM rulekeeper.hotfix h "
        "  JOIN rulekeeper.rule_version v ON v.rule_key = h.rule_key AND v.label = h.label "
        " WHERE h.hotfix_id = $1::uuid",
        a.result["hotfix_id"].get<std::string>());
    if (r.empty()) throw common::ExitError(common::exit_failed, "internal: the hotfix's row is not readable in its own transaction");
    a.receipt = {{"format", kReceiptFormat},
                 {"hotfix_id", a.result["hotfix_id"]},
                 {"rule_key", a.result["rule_key"]},
                 {"base_label", a.result["base_label"]},
                 {"label", a.result["label"]},
                 {"site", a.result["site"]},
                 {"epoch", a.result["epoch"]},
                 {"body", json::parse(r[0][1].c_str())},
                 {"content_sha256", r[0][0].c_str()},
                 {"reason", reason},
                 {"actor", r[0][2].c_str()},
                 {"created_at", r[0][3].c_str()},
                 {"change_id", r[0][4].c_str()},
                 {"diff", a.result["diff"]}};
    try {
      tx.commit();
    } catch (const pqxx::in_doubt_error& e) {
      throw common::ExitError(common::exit_failed,
                  fmt::format("{}: the connection to {} broke during COMMIT: whether hotfix {} committed is unknown; "
                              "look with `rulectl hotfix list --site {}` ({})",
                              what, site.name(), a.result.value("label", std::string("?")), site.name(),
                              common::one_line(e.what())));
    }
  } catch (const pqxx::sql_error& e) {
    throw hotfix_failure(what, e);
  }
  return a;
}

std::string file_safe(const std::string& s) {
  std::string out;
  for (unsigned char c : s) out += (std::isalnum(c) || c == '.' || c == '-' || c == '_') ? static_cast<char>(c) : '_';
  return out;
}

// hotfix-<site>-<rule>-<label>-<UTC time>.json in state_dir (created if
// missing), written to a temporary name and renamed, never overwriting.
fs::path write_receipt(const config::Config& config, const json& receipt) {
  fs::path dir = config.state_dir;
  fs::create_directories(dir);
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const long long ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
  std::string base = fmt::format("hotfix-{}-{}-{}-{}{:03d}Z", file_safe(receipt["site"].get<std::string>()),
                                 file_safe(receipt["rule_key"].get<std::string>()),
                                 file_safe(receipt["label"].get<std::string>()), stamp, ms);
  fs::path path = dir / (base + ".json");
  for (int n = 2; fs::exists(path); ++n) path = dir / fmt::format("{}-{}.json", base, n);
  fs::path tmp = dir / ("." + path.filename().string() + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << receipt.dump(2) << '\n';
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + tmp.string());
  }
  fs::rename(tmp, path);
  return fs::absolute(path);
}

// conninfo with connect_timeout = `seconds` (overriding the file's: the
// --sync-timeout bound is the contract here).
std::string with_connect_timeout(const std::string& conninfo, int seconds) {
  if (conninfo.rfind("postgresql://", 0) == 0 || conninfo.rfind("postgres://", 0) == 0)
    return conninfo + (conninfo.find('?') == std::string::npos ? "?" : "&") + fmt::format("connect_timeout={}", seconds);
  return conninfo + fmt::format(" connect_timeout={}", seconds);
}

// After the commit at `primary` (its WAL insert position then: `lsn`): wait
// up to `timeout` seconds until every other E3 site has replayed past `lsn`
// and holds hotfix `hotfix_id`. Progress lines on stderr once a second.
json wait_applied(const config::Config& config, const std::string& primary, const std::string& lsn,
                  const std::string& hotfix_id, double timeout, std::string& summary) {
  using clock = std::chrono::steady_clock;
  struct Standby {
    const config::SiteConfig* cfg = nullptr;
    std::unique_ptr<pqxx::connection> conn;
    bool applied = false;
    bool final = false;  // no point waiting (not a standby)
    std::string replay_lsn;
    std::string why = "not checked yet";
    std::string error;
  };
  std::vector<Standby> standbys;
  for (const auto& s : config.sites)
    if (s.environment == "e3" && s.name != primary) {
      standbys.emplace_back();
      standbys.back().cfg = &s;
    }

  json report = {{"commit_lsn", lsn}, {"timeout_seconds", timeout}, {"sites", json::array()}};
  if (standbys.empty()) {
    summary = fmt::format("committed at {}; no other E3 site is configured, nothing to wait for", primary);
    report["applied"] = true;
    report["timed_out"] = false;
    return report;
  }

  const auto start = clock::now();
  const auto deadline = start + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(timeout));
  auto next_progress = start + std::chrono::seconds(1);
  common::Progress progress;
  bool timed_out = false;
  for (;;) {
    bool all = true, waiting = false;
    for (auto& s : standbys) {
      if (s.applied || s.final) {
        all = all && s.applied;
        continue;
      }
      try {
        if (!s.conn) {
          double left = std::chrono::duration<double>(deadline - clock::now()).count();
          int secs = std::clamp(static_cast<int>(std::ceil(left)), 1, 3);
          s.conn = std::make_unique<pqxx::connection>(with_connect_timeout(s.cfg->conninfo, secs));
        }
        pqxx::nontransaction tx(*s.conn);
        pqxx::result r = tx.exec_params(
            "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text, "
            "       coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false), "
            "       EXISTS (SELECT 1 FROM rulekeeper.hotfix WHERE hotfix_id = $2::uuid)",
            lsn, hotfix_id);
        const bool in_recovery = r[0][0].as<bool>();
        s.replay_lsn = r[0][1].is_null() ? "" : r[0][1].c_str();
        const bool passed = r[0][2].as<bool>();
        const bool holds = r[0][3].as<bool>();
        s.error.clear();
        if (holds) {
          s.applied = true;
          s.why = fmt::format("replayed up to {}", s.replay_lsn.empty() ? "?" : s.replay_lsn);
        } else if (!in_recovery) {
          s.final = true;
          s.why = "it is not a standby (it accepts writes) and lacks the hotfix: split brain? see `rulectl status`";
        } else if (passed) {
          s.final = true;
          s.why = fmt::format("replayed past {} (up to {}) but lacks the hotfix: it does not follow {} (another "
                              "timeline? see `rulectl status`)",
                              lsn, s.replay_lsn, primary);
        } else {
          s.why = fmt::format("replayed up to {}, the commit needs {}", s.replay_lsn.empty() ? "?" : s.replay_lsn,
                              lsn);
        }
      } catch (const std::exception& e) {
        s.conn.reset();
        s.why = "unreachable";
        s.error = common::one_line(e.what());
      }
      all = all && s.applied;
      waiting = waiting || (!s.applied && !s.final);
    }
    const auto now = clock::now();
    if (all || !waiting) break;
    if (now >= deadline) {
      timed_out = true;
      break;
    }
    if (now >= next_progress) {
      std::vector<std::string> w;
      for (const auto& s : standbys)
        if (!s.applied) w.push_back(fmt::format("{} ({})", s.cfg->name, s.why));
      progress.step(fmt::format("hotfix committed at {} (LSN {}); waiting up to {}s until applied at: {}", primary,
                                lsn, timeout, fmt::join(w, ", ")));
      // Every second at first, then every five.
      next_progress += std::chrono::seconds(now - start < std::chrono::seconds(5) ? 1 : 5);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  std::vector<std::string> ok, missing;
  bool all = true;
  for (const auto& s : standbys) {
    json j = {{"site", s.cfg->name}, {"applied", s.applied}, {"replay_lsn", s.replay_lsn.empty() ? json() : json(s.replay_lsn)},
              {"why", s.why}};
    if (!s.error.empty()) j["error"] = s.error;
    report["sites"].push_back(j);
    if (s.applied)
      ok.push_back(s.cfg->name);
    else
      missing.push_back(fmt::format("{} ({})", s.cfg->name, s.why));
    all = all && s.applied;
  }
  report["applied"] = all;
  report["timed_out"] = timed_out;
  report["waited_seconds"] = std::chrono::duration<double>(clock::now() - start).count();
  if (all)
    summary = fmt::format("applied at {} (commit LSN {} at {})", fmt::join(ok, ", "), lsn, primary);
  else
    summary = fmt::format("committed at {}{}{} only, NOT yet at {}", primary, ok.empty() ? "" : " and applied at ",
                          fmt::join(ok, ", "), fmt::join(missing, ", "));
  return report;
}

// Receipt, report, optional wait: everything after a hotfix committed.
int after_commit(const GlobalOptions& global, const config::Config& config, site::Site& site, Applied& a,
                 bool sync, double sync_timeout, const std::string& headline) {
  // The position to wait for: read in a statement of its own after COMMIT;
  // the insert position is at or past the end of the commit record whatever
  // synchronous_commit says.
  std::string lsn;
  try {
    pqxx::nontransaction tx(*site.conn);
    lsn = tx.exec("SELECT pg_current_wal_insert_lsn()::text")[0][0].c_str();
  } catch (const std::exception& e) {
    std::cerr << "rulectl: warning: could not read the commit LSN at " << site.name() << ": "
              << common::one_line(e.what()) << std::endl;
  }
  a.receipt["commit_lsn"] = lsn.empty() ? json() : json(lsn);

  json doc = {{"site", site.name()}, {"hotfix", a.result}, {"receipt", a.receipt}};
  fs::path receipt_path;
  std::string receipt_error;
  try {
    receipt_path = write_receipt(config, a.receipt);
    doc["receipt_file"] = receipt_path.string();
  } catch (const std::exception& e) {
    receipt_error = e.what();
    doc["receipt_file"] = nullptr;
    doc["receipt_error"] = receipt_error;
  }

  int rc = common::exit_ok;
  std::string summary;
  doc["sync"] = nullptr;
  if (sync && !lsn.empty()) {
    doc["sync"] = wait_applied(config, site.name(), lsn, a.result["hotfix_id"].get<std::string>(), sync_timeout,
                               summary);
    doc["sync_summary"] = summary;
    if (!doc["sync"]["applied"].get<bool>()) rc = common::exit_refused;
  } else if (sync) {
    summary = "the commit LSN is unknown: cannot tell whether the E3 standbys have applied it";
    doc["sync_summary"] = summary;
    rc = common::exit_refused;
  }

  if (global.json) {
    common::print_json(doc);
  } else {
    const json& r = a.result;
    std::cout << headline << std::endl;
    std::cout << fmt::format("  by {} at {}; reason: {}", a.receipt.value("actor", std::string("?")),
                             a.receipt.value("created_at", std::string("?")), a.receipt.value("reason", std::string()))
              << std::endl;
    std::string sl;
    if (r.value("sl_moved", false))
      sl = fmt::format("; sl moved to {} too (it served {})", r["label"].get<std::string>(),
                       r["base_label"].get<std::string>());
    else if (r.contains("annotated") && r["annotated"].is_array() && !r["annotated"].empty()) {
      std::vector<std::string> labels;
      for (const auto& x : r["annotated"]) labels.push_back(x.value("label", std::string("?")));
      sl = fmt::format("; sl stays on {} (annotated: it may undo this hotfix)", fmt::join(labels, ", "));
    }
    std::cout << fmt::format("  prod serves {} now{}; {}", r["label"].get<std::string>(), sl,
                             epoch_text(r.value("epoch", 0LL)))
              << std::endl;
    diff_render::print_table(std::cout, r["diff"], r["base_label"].get<std::string>(),
                             r["label"].get<std::string>(), diff_render::use_colour(false), "  ");
    if (!receipt_path.empty()) std::cout << "receipt: " << receipt_path.string() << std::endl;
    if (!summary.empty()) std::cout << summary << std::endl;
    if (!sync) {
      std::vector<std::string> others;
      for (const auto& s : config.sites)
        if (s.environment == "e3" && s.name != site.name()) others.push_back(s.name);
      if (!others.empty())
        std::cout << fmt::format("{} not waited for (add --sync to wait until applied there)",
                                 fmt::join(others, ", "))
                  << std::endl;
    }
  }
  if (rc != common::exit_ok && global.json) std::cerr << "rulectl: " << summary << std::endl;
  if (!receipt_error.empty()) {
    std::cerr << "rulectl: the hotfix committed at " << site.name() << ", but its receipt could not be written to "
              << config.state_dir << " (" << receipt_error << "); keep this copy:\n"
              << a.receipt.dump(2) << std::endl;
    if (rc == common::exit_ok) rc = common::exit_failed;
  }
  return rc;
}

int run_hotfix(const GlobalOptions& global, const HotfixArgs& args) {
  std::vector<std::string> missing;
  if (args.site.empty()) missing.push_back("--site");
  if (args.rule.empty()) missing.push_back("--rule");
  if (args.body_file.empty()) missing.push_back("--body-file");
  if (args.reason_option == nullptr || args.reason_option->count() == 0) missing.push_back("--reason");
  if (!missing.empty())
    throw common::ExitError(common::exit_usage, fmt::format("hotfix needs {} (or a subcommand: list, show, replay; see rulectl hotfix "
                                        "--help)",
                                        fmt::join(missing, ", ")));
  if (trim(args.reason).empty())
    throw common::ExitError(common::exit_usage, "hotfix --reason is empty: say why (it is journaled with the hotfix and kept in its "
                            "receipt); nothing was sent to any site");
  const std::string body_text = read_text(args.body_file, "--body-file");
  json body = json::parse(body_text, nullptr, false);
  if (body.is_discarded())
    throw common::ExitError(common::exit_usage, fmt::format("--body-file {} is not JSON", args.body_file));
  if (!body.is_object())
    throw common::ExitError(common::exit_usage, fmt::format("--body-file {}: the body of a rule version is a JSON object, not {}",
                                        args.body_file, body.type_name()));

  const config::Config config = load_config(global);
  site::Site site = open_for_hotfix(config, args.site, "hotfix");
  Applied a = apply_hotfix(site, args.rule, body_text, args.reason, fmt::format("hotfix refused at {}", site.name()));
  const json& r = a.result;
  std::string headline =
      fmt::format("hotfix {} of rule {} at {}, on top of {}: {}", r["label"].get<std::string>(), args.rule,
                  site.name(), r["base_label"].get<std::string>(), r["hotfix_id"].get<std::string>());
  return after_commit(global, config, site, a, args.sync, args.sync_timeout, headline);
}

std::string require_string(const json& receipt, const char* key, const std::string& file) {
  if (!receipt.contains(key) || !receipt[key].is_string() || receipt[key].get<std::string>().empty())
    throw common::ExitError(common::exit_usage, fmt::format("receipt {}: \"{}\" is missing or not a string", file, key));
  return receipt[key].get<std::string>();
}

int run_replay(const GlobalOptions& global, const ReplayArgs& args) {
  json receipt = json::parse(read_text(args.file, "receipt"), nullptr, false);
  if (receipt.is_discarded() || !receipt.is_object())
    throw common::ExitError(common::exit_usage, fmt::format("receipt {} is not a JSON object", args.file));
  if (receipt.value("format", std::string()) != kReceiptFormat)
    throw common::ExitError(common::exit_usage, fmt::format("receipt {}: format is not {}", args.file, kReceiptFormat));
  const std::string rule = require_string(receipt, "rule_key", args.file);
  const std::string base = require_string(receipt, "base_label", args.file);
  const std::string label = require_string(receipt, "label", args.file);
  const std::string sha = require_string(receipt, "content_sha256", args.file);
  const std::string reason = require_string(receipt, "reason", args.file);
  const std::string from_site = require_string(receipt, "site", args.file);
  const std::string id = require_string(receipt, "hotfix_id", args.file);
  if (!receipt.contains("body") || !receipt["body"].is_object())
    throw common::ExitError(common::exit_usage, fmt::format("receipt {}: \"body\" is missing or not a JSON object", args.file));
  const std::string body_text = receipt["body"].dump();

  const config::Config config = load_config(global);
  site::Site site = open_for_hotfix(config, args.site, "hotfix replay");

  std::string existing, existing_q, prod;
  try {
    pqxx::read_transaction tx(*site.conn);
    const std::string computed =
        tx.exec_params("SELECT rulekeeper.content_sha256($1::jsonb)", body_text)[0][0].c_str();
    if (computed != sha)
      throw common::ExitError(common::exit_refused,
                  fmt::format("receipt {}: its body's content_sha256 is {} at {}, the receipt says {}: the receipt "
                              "was changed after it was written; nothing replayed",
                              args.file, computed, site.name(), sha));
    pqxx::result r = tx.exec_params(
        "SELECT label, qualification FROM rulekeeper.rule_version WHERE rule_key = $1 AND content_sha256 = $2 "
        "ORDER BY version, hotfix LIMIT 1",
        rule, sha);
    if (!r.empty()) existing = r[0][0].c_str(), existing_q = r[0][1].c_str();
    r = tx.exec_params("SELECT label FROM rulekeeper.activation WHERE channel = 'prod' AND rule_key = $1", rule);
    if (!r.empty()) prod = r[0][0].c_str();
  } catch (const pqxx::sql_error& e) {
    throw site::sql_failure(fmt::format("hotfix replay at {}", site.name()), e);
  }

  if (!existing.empty()) {
    std::string prod_text = prod.empty() ? "nothing is active in prod" : "prod serves " + prod;
    std::string line = fmt::format(
        "site {} already holds this content for rule {} as version {} ({}; {}); nothing to do", site.name(), rule,
        existing, existing_q, prod_text);
    if (prod != existing)
      line += fmt::format("\n  note: prod does not serve {}: rulectl activate --site {} --channel prod --rule {} "
                          "--version {} if it should",
                          existing, site.name(), rule, existing);
    if (global.json)
      common::print_json({{"site", site.name()},
                          {"replayed", false},
                          {"already_held_as", existing},
                          {"qualification", existing_q},
                          {"prod", prod.empty() ? json() : json(prod)},
                          {"receipt", receipt}});
    else
      std::cout << line << std::endl;
    return common::exit_ok;
  }
  if (prod != base)
    throw common::ExitError(common::exit_refused,
                fmt::format("hotfix {} ({} at {}) was made on top of version {} of rule {}, but prod at {} serves {}: "
                            "replaying its body would also undo whatever differs between {} and {}; nothing replayed. "
                            "If that is intended, write the receipt's body to a file and make a new hotfix "
                            "(rulectl hotfix --site {} --rule {} --body-file F --reason …)",
                            id, label, from_site, base, rule, site.name(), prod.empty() ? "nothing" : prod, base,
                            prod.empty() ? "nothing" : prod, site.name(), rule));

  const std::string replay_reason = fmt::format("replay of {} from {}: {}", id, from_site, reason);
  Applied a = apply_hotfix(site, rule, body_text, replay_reason,
                           fmt::format("hotfix replay refused at {}", site.name()));
  a.receipt["replay_of"] = {{"hotfix_id", id}, {"site", from_site}, {"label", label}, {"file", args.file}};
  if (a.receipt["content_sha256"].get<std::string>() != sha)
    std::cerr << "rulectl: warning: the replayed version's content_sha256 differs from the receipt's" << std::endl;
  const json& r = a.result;
  std::string headline =
      fmt::format("replayed hotfix {} ({} at {}) at {} as {} of rule {}, on top of {}: same content (sha256 {})", id,
                  label, from_site, site.name(), r["label"].get<std::string>(), rule,
                  r["base_label"].get<std::string>(), common::abbreviate(sha, 16));
  return after_commit(global, config, site, a, args.sync, args.sync_timeout, headline);
}

std::string text_or(const pqxx::field& f, const std::string& dflt) { return f.is_null() ? dflt : f.c_str(); }

int run_list(const GlobalOptions& global, const ListArgs& args) {
  const config::Config config = load_config(global);
  site::Site site = open_for_read(config, args.site, "list hotfixes");
  json rows = json::array();
  json last_release;
  try {
    pqxx::read_transaction tx(*site.conn);
    pqxx::result lr = tx.exec(
        "SELECT to_char(max(imported_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') "
        "FROM rulekeeper.release_log");
    if (!lr[0][0].is_null()) last_release = lr[0][0].c_str();
    pqxx::result r = tx.exec_params(
        "SELECT h.hotfix_id::text, h.rule_key, h.base_label, h.label, h.site, h.reason, h.actor, "
        "       to_char(h.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), h.diff::text, "
        "       (SELECT a.label FROM rulekeeper.activation a WHERE a.channel = 'prod' AND a.rule_key = h.rule_key), "
        "       h.change_id::text "
        "  FROM rulekeeper.hotfix h "
        " WHERE NOT $1 OR h.created_at > coalesce((SELECT max(l.imported_at) FROM rulekeeper.release_log l), "
        "                                         '-infinity') "
        " ORDER BY h.created_at, h.rule_key",
        args.since_last_release);
    for (const auto& row : r)
      rows.push_back({{"hotfix_id", row[0].c_str()},
                      {"rule_key", row[1].c_str()},
                      {"base_label", row[2].c_str()},
                      {"label", row[3].c_str()},
                      {"site", row[4].c_str()},
                      {"reason", row[5].c_str()},
                      {"actor", row[6].c_str()},
                      {"created_at", row[7].c_str()},
                      {"diff", json::parse(row[8].c_str())},
                      {"prod_now", row[9].is_null() ? json() : json(row[9].c_str())},
                      {"change_id", row[10].c_str()}});
  } catch (const pqxx::sql_error& e) {
    throw site::sql_failure(fmt::format("hotfix list at {}", site.name()), e);
  }
  if (global.json) {
    common::print_json({{"site", site.name()},
                        {"since_last_release", args.since_last_release},
                        {"last_release_at", last_release},
                        {"hotfixes", rows}});
    return common::exit_ok;
  }
  std::string scope = args.since_last_release
                          ? fmt::format(" since the last release ({})", last_release.is_null()
                                                                            ? std::string("none yet")
                                                                            : last_release.get<std::string>())
                          : std::string();
  std::cout << fmt::format("{} hotfix(es) at {}{}", rows.size(), site.name(), scope) << std::endl;
  if (rows.empty()) return common::exit_ok;
  common::Table t({"id", "created (UTC)", "rule", "base", "label", "made at", "by", "paths", "prod now", "reason"});
  for (const auto& h : rows) {
    std::vector<std::string> paths;
    for (const auto& e : h["diff"]) paths.push_back(e.value("path", std::string()));
    t.add_row({h["hotfix_id"].get<std::string>().substr(0, 8), h["created_at"].get<std::string>(),
               h["rule_key"].get<std::string>(), h["base_label"].get<std::string>(), h["label"].get<std::string>(),
               h["site"].get<std::string>(), h["actor"].get<std::string>(), fmt::format("{}", fmt::join(paths, " ")),
               h["prod_now"].is_null() ? "(none)" : h["prod_now"].get<std::string>(),
               common::abbreviate(h["reason"].get<std::string>(), 40)});
  }
  t.print(std::cout);
  std::cout << "(rulectl hotfix show ID for one hotfix's diff; an id prefix will do)" << std::endl;
  return common::exit_ok;
}

int run_show(const GlobalOptions& global, const ShowArgs& args) {
  std::string id = args.id;
  std::transform(id.begin(), id.end(), id.begin(), [](unsigned char c) { return std::tolower(c); });
  if (id.empty() || id.find_first_not_of("0123456789abcdef-") != std::string::npos)
    throw common::ExitError(common::exit_usage, fmt::format("'{}' is not a hotfix id (a UUID, or the start of one)", args.id));
  const config::Config config = load_config(global);
  site::Site site = open_for_read(config, args.site, "show a hotfix");
  json h, classified = json::array(), acks = json::array();
  try {
    pqxx::read_transaction tx(*site.conn);
    pqxx::result r = tx.exec_params(
        "SELECT h.hotfix_id::text, h.rule_key, h.base_label, h.label, h.site, h.reason, h.actor, "
        "       to_char(h.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), h.diff::text, "
        "       h.change_id::text, v.content_sha256, "
        "       (SELECT a.label FROM rulekeeper.activation a WHERE a.channel = 'prod' AND a.rule_key = h.rule_key), "
        "       (SELECT a.label FROM rulekeeper.activation a WHERE a.channel = 'sl' AND a.rule_key = h.rule_key) "
        "  FROM rulekeeper.hotfix h "
        "  LEFT JOIN rulekeeper.rule_version v ON v.rule_key = h.rule_key AND v.label = h.label "
        " WHERE h.hotfix_id::text LIKE $1 || '%' ORDER BY h.created_at",
        id);
    if (r.empty())
      throw common::ExitError(common::exit_failed, fmt::format("no hotfix {} at site {} (rulectl hotfix list --site {})", args.id,
                                           site.name(), site.name()));
    if (r.size() > 1) {
      std::vector<std::string> ids;
      for (const auto& row : r) ids.push_back(row[0].c_str());
      throw common::ExitError(common::exit_usage, fmt::format("hotfix id '{}' is ambiguous at {}: {}", args.id, site.name(),
                                          fmt::join(ids, ", ")));
    }
    const auto& row = r[0];
    h = {{"hotfix_id", row[0].c_str()},
         {"rule_key", row[1].c_str()},
         {"base_label", row[2].c_str()},
         {"label", row[3].c_str()},
         {"site", row[4].c_str()},
         {"reason", row[5].c_str()},
         {"actor", row[6].c_str()},
         {"created_at", row[7].c_str()},
         {"diff", json::parse(row[8].c_str())},
         {"change_id", row[9].c_str()},
         {"content_sha256", row[10].is_null() ? json() : json(row[10].c_str())},
         {"prod_now", row[11].is_null() ? json() : json(row[11].c_str())},
         {"sl_now", row[12].is_null() ? json() : json(row[12].c_str())}};
    const std::string full_id = row[0].c_str();
    const std::string rule = row[1].c_str();
    // Planned versions classified against it (release drift, or SL under test).
    pqxx::result c = tx.exec_params(
        "SELECT v.label, x ->> 'classification', v.annotations ->> 'hotfix_included', v.qualification "
        "  FROM rulekeeper.rule_version v "
        " CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(v.annotations -> 'hotfixes') = 'array' "
        "                                              THEN v.annotations -> 'hotfixes' ELSE '[]'::jsonb END) x "
        " WHERE v.rule_key = $1 AND x ->> 'hotfix_id' = $2 ORDER BY v.version, v.hotfix",
        rule, full_id);
    for (const auto& cr : c)
      classified.push_back({{"label", cr[0].c_str()},
                            {"classification", text_or(cr[1], "unknown")},
                            {"hotfix_included", text_or(cr[2], "unknown")},
                            {"qualification", cr[3].c_str()}});
    // Acknowledgements that named it: who let prod leave or bypass it, when.
    pqxx::result k = tx.exec_params(
        "SELECT j.label, j.actor, to_char(j.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
        "       j.payload ->> 'action', j.payload ->> 'channel', j.change_id::text, "
        "       CASE WHEN j.payload ? 'undone_hotfixes' THEN 'prod left the hotfix' "
        "            ELSE 'hotfix gate: ' || coalesce(j.payload ->> 'hotfix_included', '?') END "
        "  FROM rulekeeper.journal j "
        " WHERE j.kind = 'acknowledgement' AND j.rule_key = $1 "
        "   AND (j.payload -> 'hotfixes' @> jsonb_build_array(jsonb_build_object('hotfix_id', $2::text)) "
        "        OR j.payload -> 'undone_hotfixes' @> jsonb_build_array(jsonb_build_object('hotfix_id', $2::text))) "
        " ORDER BY j.recorded_at",
        rule, full_id);
    for (const auto& kr : k)
      acks.push_back({{"label", kr[0].c_str()},
                      {"actor", kr[1].c_str()},
                      {"recorded_at", kr[2].c_str()},
                      {"action", text_or(kr[3], "")},
                      {"channel", text_or(kr[4], "")},
                      {"change_id", kr[5].c_str()},
                      {"what", text_or(kr[6], "")}});
  } catch (const pqxx::sql_error& e) {
    throw site::sql_failure(fmt::format("hotfix show at {}", site.name()), e);
  }
  h["classified_versions"] = classified;
  h["acknowledgements"] = acks;
  if (global.json) {
    json doc = h;
    doc["read_at"] = site.name();
    common::print_json(doc);
    return common::exit_ok;
  }
  auto label = [](const json& v) { return v.is_string() ? v.get<std::string>() : std::string("(none)"); };
  std::cout << fmt::format("hotfix {}\n  rule {}: {} -> {}, made at {} by {} at {}\n  reason: {}\n  journal change "
                           "{}; content_sha256 {}\n  now (at {}): prod serves {}, sl serves {}",
                           h["hotfix_id"].get<std::string>(), h["rule_key"].get<std::string>(),
                           h["base_label"].get<std::string>(), h["label"].get<std::string>(),
                           h["site"].get<std::string>(), h["actor"].get<std::string>(),
                           h["created_at"].get<std::string>(), h["reason"].get<std::string>(),
                           h["change_id"].get<std::string>(), label(h["content_sha256"]), site.name(),
                           label(h["prod_now"]), label(h["sl_now"]))
            << std::endl;
  std::cout << "what it changed:" << std::endl;
  diff_render::print_table(std::cout, h["diff"], h["base_label"].get<std::string>(), h["label"].get<std::string>(),
                           diff_render::use_colour(false), "  ");
  if (!classified.empty()) {
    std::cout << "planned versions checked against it:" << std::endl;
    common::Table t({"  version", "qualification", "this hotfix", "overall", "prod activation"});
    for (const auto& c : classified) {
      const std::string overall = c["hotfix_included"].get<std::string>();
      t.add_row({"  " + c["label"].get<std::string>(), c["qualification"].get<std::string>(),
                 c["classification"].get<std::string>(), overall,
                 overall == "included" ? "allowed" : "needs --acknowledge-hotfix"});
    }
    t.print(std::cout);
  }
  if (!acks.empty()) {
    std::cout << "acknowledged (journaled):" << std::endl;
    common::Table t({"  when (UTC)", "by", "action", "channel", "version", "acknowledged"});
    for (const auto& k : acks)
      t.add_row({"  " + k["recorded_at"].get<std::string>(), k["actor"].get<std::string>(),
                 k["action"].get<std::string>(), k["channel"].get<std::string>(), k["label"].get<std::string>(),
                 k["what"].get<std::string>()});
    t.print(std::cout);
  }
  return common::exit_ok;
}

void sync_options(CLI::App* cmd, bool& sync, double& timeout) {
  cmd->add_flag("--sync", sync,
                "after the commit, wait until every other E3 site (IPC1) has applied it; exit 3 if one has not "
                "when --sync-timeout runs out");
  cmd->add_option("--sync-timeout", timeout, "seconds --sync waits at most (default 10)")
      ->check(CLI::NonNegativeNumber);
}

}  // namespace

void add_hotfix(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto a = std::make_shared<HotfixArgs>();
  CLI::App* cmd = app.add_subcommand(
      "hotfix",
      "restricted, direct edit at the E3 primary: a new version N.k of what prod serves, live in prod at once "
      "(and in sl when sl serves the same parent), journaled, with a receipt in state_dir");
  cmd->add_option("--site", a->site, "e3 (the E3 primary) or the name of the E3 primary");
  cmd->add_option("--rule", a->rule, "rule key");
  cmd->add_option("--body-file", a->body_file, "the new body: a file holding a JSON object (- for stdin)");
  a->reason_option = cmd->add_option("--reason", a->reason, "why (required, not empty; journaled)");
  sync_options(cmd, a->sync, a->sync_timeout);
  cmd->footer(kHotfixFooter);
  cmd->require_subcommand(0, 1);

  auto l = std::make_shared<ListArgs>();
  CLI::App* list = cmd->add_subcommand("list", "the hotfixes a site holds, oldest first");
  list->add_option("--site", l->site, "site to read at, or e3 for the E3 primary (default)");
  list->add_flag("--since-last-release", l->since_last_release,
                 "only those made after the last release was imported there (what the next release is checked "
                 "against)");
  list->callback([&global, &exit_code, l] { exit_code = run_list(global, *l); });

  auto s = std::make_shared<ShowArgs>();
  CLI::App* show = cmd->add_subcommand("show", "one hotfix: who, when, why, its diff (old and new side by side), "
                                               "the planned versions classified against it, acknowledgements");
  show->add_option("ID", s->id, "hotfix id (a UUID, or the start of one)")->required();
  show->add_option("--site", s->site, "site to read at, or e3 for the E3 primary (default)");
  show->callback([&global, &exit_code, s] { exit_code = run_show(global, *s); });

  auto r = std::make_shared<ReplayArgs>();
  CLI::App* replay = cmd->add_subcommand(
      "replay", "re-apply a hotfix from its receipt at another site (after a failover, at the new E3 primary); "
                "does nothing if the site already holds that content for that rule");
  replay->add_option("RECEIPT", r->file, "receipt file written by rulectl hotfix (in state_dir)")->required();
  replay->add_option("--site", r->site, "e3 (the E3 primary) or its name")->required();
  sync_options(replay, r->sync, r->sync_timeout);
  replay->footer("Exit: 0 replayed, or already held (nothing to do); 3 refused (the receipt's body does not match "
                 "its checksum, prod there serves another base version, policy, not the E3 primary, --sync not "
                 "applied in time); 2 not a receipt; 1 another failure; 4 unreachable.");
  replay->callback([&global, &exit_code, r] { exit_code = run_replay(global, *r); });

  cmd->callback([&global, &exit_code, a, cmd] {
    if (!cmd->get_subcommands().empty()) return;  // list / show / replay ran
    exit_code = run_hotfix(global, *a);
  });
}

}  // namespace rulekeeper::cli
