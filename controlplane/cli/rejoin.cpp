// `rulectl rejoin --site S [--orphans FILE]`: options, the operation
// (ops/rejoin.hpp), and its report as text or --json.
#include <iostream>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/report.hpp"
#include "common/errors.hpp"
#include "common/output.hpp"
#include "ops/rejoin.hpp"

namespace rulekeeper::cli {
namespace {

using nlohmann::json;
using Outcome = ops::RejoinReport::Outcome;

// One line per orphaned change, for people.
void print_orphans(std::ostream& out, const json& changes) {
  if (changes.empty()) {
    out << "  (none: nothing was written there after the divergence point)\n";
    return;
  }
  common::Table t({"origin", "seq", "kind", "rule", "label", "recorded_at", "actor", "what"});
  for (const auto& c : changes) {
    std::string what;
    const json& row = c.contains("row") ? c["row"] : json(nullptr);
    if (row.is_object() && row.contains("content_sha256"))
      what =
          fmt::format("{} {}", row.value("qualification", ""), common::abbreviate(row.value("content_sha256", ""), 12));
    else if (row.is_object() && row.contains("reason"))
      what = "reason: " + common::abbreviate(row.value("reason", ""), 40);
    else if (c.contains("payload") && c["payload"].is_object() && c["payload"].contains("channel"))
      what = "channel " + c["payload"].value("channel", "");
    auto s = [](const json& v) { return v.is_string() ? v.get<std::string>() : v.is_null() ? "" : v.dump(); };
    t.add_row({fmt::format("{}:{}", s(c["origin_site"]), s(c["origin_incarnation"])), s(c["origin_seq"]), s(c["kind"]),
               s(c["rule_key"]), s(c["label"]), s(c["recorded_at"]), s(c["actor"]), what});
  }
  t.print(out);
}

// The orphans, where they were saved, then `lines` and the steps.
void print_finished(const ops::RejoinReport& r, const std::string& headline, const std::vector<std::string>& lines) {
  std::cout << headline << "\n\norphaned changes of " << r.site << " (beyond the divergence point "
            << r.event_json()["divergence"].dump() << "), saved to " << r.orphans_file.string() << ":\n";
  print_orphans(std::cout, r.orphans);
  if (!r.orphans.empty()) std::cout << "bring them back with: " << r.reconcile_command << "\n";
  std::cout << "\n";
  for (const auto& l : lines) std::cout << l << "\n";
  std::cout << "\n";
  ops::steps_table(r.steps).print(std::cout);
}

void print_text(const ops::RejoinReport& r) {
  switch (r.outcome) {
    case Outcome::already_standby:
      std::cout << fmt::format("{} already streams from {} on timeline {}: nothing to do\n", r.site, r.primary,
                               r.timeline);
      return;
    case Outcome::manual_isolation:
      std::cout << fmt::format("rejoin {}: rulectl.toml lacks sites.{}.{}; run these, then rejoin again:\n", r.site,
                               r.site, r.missing_config);
      for (const auto& m : r.commands)
        if (!m.empty()) std::cout << "  " << m << "\n";
      return;
    case Outcome::manual_rewind: {
      std::vector<std::string> lines{
          fmt::format("rulectl.toml lacks sites.{}.{}: run these to rewind it and make it "
                      "{}'s standby:",
                      r.site, r.missing_config, r.primary)};
      for (const auto& m : r.commands) lines.push_back("  " + m);
      print_finished(r, fmt::format("rejoin {}: orphans saved; NOT rejoined yet", r.site), lines);
      return;
    }
    case Outcome::rejoined: {
      std::vector<std::string> lines{fmt::format("{} streams from {} (slot '{}')", r.site, r.primary, r.site)};
      if (!r.sync.empty()) lines.push_back("synchronous replication: " + r.sync);
      print_finished(r,
                     fmt::format("rejoined: {} is a standby of {} ({}; {:.2f}s)", r.site, r.primary, r.rewind,
                                 r.total_seconds),
                     lines);
      return;
    }
  }
}

}  // namespace

void add_rejoin(CLI::App& app, GlobalOptions& global, int& exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "rejoin",
      "make a returning old primary follow the new one: keep it from writing, save its orphaned changes to a "
      "bundle, then pg_rewind it and start it as the new primary's standby (or print the commands)");
  auto o = std::make_shared<ops::RejoinRequest>();
  cmd->add_option("--site", o->site, "the E3 site to rejoin (the old primary)")->required();
  cmd->add_option("--orphans", o->orphans,
                  "where to write the orphans bundle (default: <state_dir>/orphans-<site>-<UTC time>.json)");
  cmd->add_option("--wait-streaming", o->wait_streaming, "seconds to wait until it streams")->capture_default_str();
  cmd->callback([&global, &exit_code, o] {
    common::Progress progress;
    exit_code = show_report(global, ops::rejoin(load_config(global), *o, progress), print_text);
  });
}

}  // namespace rulekeeper::cli
