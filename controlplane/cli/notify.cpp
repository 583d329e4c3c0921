// `rulectl notify hold|release --site S --channel C [--reason R] [--dry-run]`
// (docs/notifications.md): options, ops/notify, and the text or --json.
// Both change what production pods are served, so they ask before the
// change (cli/confirmation.hpp) unless --yes.
#include <iostream>
#include <memory>
#include <sstream>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/confirmation.hpp"
#include "cli/plan_text.hpp"
#include "common/output.hpp"
#include "common/text.hpp"
#include "ops/notify.hpp"

namespace rulekeeper::cli {
namespace {

const char* kNotifyFooter =
    "Written at the E3 primary whichever E3 site is named; replicates to the standbys. Asks before the change on a "
    "terminal (--yes: no question; no terminal and no --yes: exit 2). Exit: 0 done (with --dry-run: it would be "
    "done); 2 usage (a site that is not an E3 site of rulectl.toml, a channel other than sl and prod, no terminal and "
    "no --yes); 3 refused (hold: already held; release: not held; no E3 primary or split brain; not confirmed); 1 "
    "another failure (e.g. the role lacks rulekeeper_releaser); 4 the E3 primary is unreachable.";

struct NotifyArgs {
  ops::NotifyRequest request;
};

void render(const GlobalOptions& global, const ops::NotifyReport& r) {
  if (global.json) {
    common::print_json(r.to_json());
    return;
  }
  const auto epoch = [&](const char* key) {
    return r.result.contains(key) && r.result[key].is_number_integer() ? r.result[key].get<long long>() : 0LL;
  };
  const std::string what =
      r.action == ops::NotifyAction::hold
          ? fmt::format("notifications of {} {} held at epoch {}: {}'s pods keep that set until released", r.site,
                        r.channel, epoch("held_epoch"), r.site)
          : fmt::format("notifications of {} {} released (held at epoch {}): {}'s pods get epoch {}", r.site, r.channel,
                        epoch("held_epoch"), r.site, epoch("current_epoch"));
  if (r.dry_run) {
    print_dry_run_top(std::cout, fmt::format("notify {} {} {}", ops::to_string(r.action), r.site, r.channel));
    std::cout << "  would be: " << what << "\n";
    print_dry_run_bottom(std::cout, "the database checked it at " + r.primary +
                                        " in a transaction that was rolled back: no journal entry");
    return;
  }
  std::cout << what << "\n";
  std::cout << fmt::format("  recorded at {} by {} at {}", r.primary,
                           common::one_line(r.result.value("actor", std::string("?"))),
                           r.result.value("recorded_at", std::string("?")));
  if (r.result.contains("reason") && r.result["reason"].is_string())
    std::cout << "; reason: " << common::one_line(r.result["reason"].get<std::string>());
  std::cout << "\n";
}

void add_action(CLI::App* notify, GlobalOptions& global, int& exit_code, ops::NotifyAction action,
                const std::string& description) {
  auto args = std::make_shared<NotifyArgs>();
  args->request.action = action;
  CLI::App* cmd = notify->add_subcommand(ops::to_string(action), description);
  cmd->footer(kNotifyFooter);
  cmd->add_option("--site", args->request.site, "the E3 site whose pods are concerned (e.g. ipc1)")->required();
  cmd->add_option("--channel", args->request.channel, "sl or prod")->required();
  cmd->add_option("--reason", args->request.reason, "why (journaled)");
  cmd->add_flag("--dry-run", args->request.dry_run,
                "check at the E3 primary and show what would happen; change nothing");
  cmd->callback([&global, &exit_code, args, action] {
    ops::NotifyRequest request = args->request;
    if (!global.yes && !request.dry_run) {
      const std::string verb = fmt::format("rulectl notify {}", ops::to_string(action));
      request.confirm = [&global, verb](const ops::ProductionPlan& p) {
        confirm(global, Plan{verb, p.summary, p.lines});
      };
    }
    render(global, ops::notify(load_config(global), request));
    exit_code = 0;
  });
}

}  // namespace

void print_notifications(const nlohmann::json& rows) {
  if (rows.empty()) return;
  std::cout << "\nnotifications (e3): what each site's gateway serves per channel (held: rulectl notify)\n";
  common::Table t({"site", "channel", "current_epoch", "served_epoch", "held", "held_since", "held_by", "reason"});
  const auto text = [](const nlohmann::json& v) {
    return v.is_null() ? std::string() : v.is_string() ? common::one_line(v.get<std::string>()) : v.dump();
  };
  for (const auto& r : rows)
    t.add_row({text(r["site"]), text(r["channel"]), text(r["current_epoch"]), text(r["served_epoch"]),
               r["held"].get<bool>() ? "HELD at " + text(r["held_epoch"]) : "no", text(r["held_at"]),
               text(r["held_by"]), text(r["reason"])});
  std::ostringstream table;
  t.print(table);
  std::istringstream lines(table.str());
  for (std::string line; std::getline(lines, line);) std::cout << "  " << line << "\n";
}

void add_notify(CLI::App& app, GlobalOptions& global, int& exit_code) {
  CLI::App* notify = app.add_subcommand(
      "notify", "who is notified: hold a site's channel at its current epoch, release it (docs/notifications.md)");
  notify->require_subcommand(1);
  add_action(notify, global, exit_code, ops::NotifyAction::hold,
             "hold a site's channel at its current epoch: its gateway keeps serving that set to its pods");
  add_action(notify, global, exit_code, ops::NotifyAction::release,
             "release a held site's channel: its pods get the channel's current set");
}

}  // namespace rulekeeper::cli
