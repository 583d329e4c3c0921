// The channel verbs of rulectl — validate, activate, deactivate, rollback,
// pin, unpin, cutover: options, the operation (ops/channels.hpp), and what
// happened plus the epoch as text or --json. At an E3 site each asks first
// (cli/confirmation.hpp) unless --yes; --dry-run shows the same checks and
// changes nothing (docs/production-changes.md).
#include <iostream>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/confirmation.hpp"
#include "common/errors.hpp"
#include "common/output.hpp"
#include "common/terminal.hpp"
#include "ops/channels.hpp"
#include "rulekeeper/lifecycle.hpp"

namespace rulekeeper::cli {
namespace {

using nlohmann::json;

// Each verb's footer names only the flags and refusals that verb has
// (CliConventions.HelpTextsNameOnlyTheVerbsOwnFlags checks every verb).
std::string exit_footer(const std::string& verb) {
  const bool gate =
      verb == "activate" || verb == "deactivate" || verb == "rollback" || verb == "pin" || verb == "cutover";
  const bool epoch = verb == "activate" || verb == "deactivate" || verb == "rollback";
  std::vector<std::string> refusals;
  if (verb == "validate")
    refusals.push_back("the version's qualification does not allow that outcome here");
  else
    refusals.push_back("the channel does not admit the version's qualification, a pin");
  if (gate)
    refusals.push_back(
        "the hotfix gate (it lists every hotfix the change would undo; --acknowledge-hotfix names exactly those)");
  if (epoch)
    refusals.push_back(
        "--expected-epoch no longer current (someone else changed it: look again with `rulectl "
        "status` / rule_state)");
  refusals.push_back("a standby or split-brain site, a wrong environment");
  refusals.push_back("not confirmed at the question (production)");
  if (verb != "validate") refusals.push_back("--wait-replicated ran out");
  return fmt::format(
      "Exit: 0 done (also when nothing had to change{}); 3 refused: {}; 2 usage, or production (an E3 site) "
      "without --yes and no terminal to ask on: nothing was changed; 1 unknown rule or version, not active, not "
      "pinned, nothing to roll back to, or another failure; 4 the site is unreachable.",
      verb == "validate" ? "" : ", and a --dry-run that found nothing to refuse", fmt::join(refusals, ", "));
}

struct ChannelArgs {
  std::string site;
  std::string channel;
  std::string rule;
  std::string version;
  std::string result;
  std::string reason;
  bool acknowledge = false;
  std::vector<std::string> ack_hotfixes;
  bool dry_run = false;
  long long expected_epoch = 0;
  double wait_seconds = 0;
  CLI::Option* expected_option = nullptr;
  CLI::Option* wait_option = nullptr;
  CLI::Option* reason_option = nullptr;

  std::optional<long long> expected() const {
    if (expected_option != nullptr && expected_option->count() > 0) return expected_epoch;
    return std::nullopt;
  }
  std::optional<double> wait() const {
    if (wait_option != nullptr && wait_option->count() > 0) return wait_seconds;
    return std::nullopt;
  }
  site::client::Acknowledgement ack() const { return {acknowledge, ack_hotfixes}; }
};

// The question a production change asks (none with --yes).
ops::ConfirmHook confirm_hook(const GlobalOptions& global, const std::string& verb) {
  if (global.yes) return {};
  return [&global, verb](const ops::ProductionPlan& p) {
    confirm(global, Plan{"rulectl " + verb, p.summary, p.lines});
  };
}

// A dry run says so at the top and the bottom of its text output (--json:
// "dry_run": true); a refusal found by it says so too, then goes on as the
// error it is.
template <typename Fn>
int dry_run_frame(const GlobalOptions& global, const std::string& what, Fn&& fn) {
  if (!global.json) std::cout << "dry run: " << what << " (in a transaction that is rolled back)" << std::endl;
  try {
    const int rc = fn();
    if (!global.json) std::cout << "dry run: nothing was changed" << std::endl;
    return rc;
  } catch (const common::ExitError&) {
    if (!global.json) std::cout << "dry run: refused, as the real run would be; nothing was changed" << std::endl;
    throw;
  }
}

std::string epoch_text(long long epoch) {
  return fmt::format("epoch {} (incarnation {}, #{})", epoch, epoch >> 32, epoch & 0xffffffffLL);
}

std::string describe(const std::optional<site::client::Activation>& a) {
  if (!a) return "(none)";
  return a->label + (a->pinned ? " (pinned)" : "");
}

// The one JSON document, or the line; then what the replication wait found.
int finish(const GlobalOptions& global, const json& doc, const std::string& line,
           const std::optional<ops::ReplicationOutcome>& replication, int rc) {
  if (global.json) {
    common::print_json(doc);
    if (replication && rc != common::exit_ok) std::cerr << "rulectl: " << replication->summary << std::endl;
  } else {
    if (!line.empty()) std::cout << line << std::endl;
    if (replication) std::cout << replication->summary << std::endl;
  }
  return rc;
}

std::string channel_line(const ops::ChannelReport& r) {
  const std::string action(ops::to_string(r.action));
  std::string line;
  if (!r.changed())
    line = fmt::format("{} {} at {}: rule {} in {} is already {}; nothing changed ({})", action,
                       r.action == ops::ChannelAction::deactivate ? "" : r.version, r.site, r.rule_key, r.channel,
                       describe(r.after), epoch_text(r.epoch));
  else if (r.action == ops::ChannelAction::pin || r.action == ops::ChannelAction::unpin)
    line = fmt::format("{}ned rule {} in {} at {}: {} -> {}, {}", action, r.rule_key, r.channel, r.site,
                       describe(r.before), describe(r.after), epoch_text(r.epoch));
  else
    line = fmt::format("{} rule {} in {} at {}: {} -> {}, {}",
                       r.action == ops::ChannelAction::activate     ? "activated"
                       : r.action == ops::ChannelAction::deactivate ? "deactivated"
                                                                    : "rolled back",
                       r.rule_key, r.channel, r.site, describe(r.before), describe(r.after), epoch_text(r.epoch));
  // Collapse the double space of "activate  at" style messages.
  for (std::size_t p; (p = line.find("  ")) != std::string::npos;) line.erase(p, 1);
  return line;
}

void print_gate(const ops::ChannelReport& r) {
  if (!r.gate.is_array() || r.gate.empty()) return;
  std::vector<std::string> labels;
  for (const auto& g : r.gate) labels.push_back(common::escape_controls(g.value("label", std::string("?"))));
  std::cout << fmt::format("hotfix gate: undoes {}, acknowledged ({})", fmt::join(labels, ", "),
                           r.acknowledged_hotfixes.empty()
                               ? std::string("none")
                               : common::escape_controls(fmt::format("{}", fmt::join(r.acknowledged_hotfixes, ","))))
            << std::endl;
  for (const auto& l : ops::gate_lines(r.gate)) std::cout << "  " << l << std::endl;
}

int run_channel(const GlobalOptions& global, const ChannelArgs& args, ops::ChannelAction action) {
  const config::Config config = load_config(global);
  const std::string verb(ops::to_string(action));
  ops::ChannelRequest request{args.site,    args.channel, args.rule,
                              args.version, args.ack(),   args.expected(),
                              args.wait(),  args.dry_run, confirm_hook(global, verb)};
  auto run = [&] {
    const ops::ChannelReport report = ops::change_channel(config, action, request, common::Progress());
    if (!global.json) {
      std::cout << (report.dry_run ? "would be: " : "") << channel_line(report) << std::endl;
      print_gate(report);
    }
    return finish(global, report.to_json(), "", report.replication, report.exit_code);
  };
  if (!args.dry_run) return run();
  return dry_run_frame(global, fmt::format("rulectl {} at {}", verb, args.site), run);
}

int run_validate(const GlobalOptions& global, const ChannelArgs& args) {
  const config::Config config = load_config(global);
  ops::ValidateRequest request{args.site,    args.rule,
                               args.version, args.result == "passed",
                               std::nullopt, confirm_hook(global, "validate")};
  if (args.reason_option->count() > 0) request.reason = args.reason;
  const ops::ValidateReport report = ops::validate(config, request);
  return finish(global, report.to_json(),
                fmt::format("validated rule {} version {} at {}: {} -> {}", report.rule_key, report.label, report.site,
                            report.from.value_or("?"), report.to),
                std::nullopt, report.exit_code);
}

int run_cutover(const GlobalOptions& global, const ChannelArgs& args) {
  const config::Config config = load_config(global);
  ops::CutoverRequest request{args.site, args.ack(), args.wait(), args.dry_run, confirm_hook(global, "cutover")};
  auto run = [&] {
    const ops::CutoverReport report = ops::cutover(config, request, common::Progress());
    if (global.json) return finish(global, report.to_json(), "", report.replication, report.exit_code);

    const std::string prod(production_channel), sl(soft_launch_channel);
    const auto& moved = report.result.moved;
    const auto& stays = report.result.stays;
    const std::string verb = report.dry_run ? "would move" : "moved";
    if (moved.empty())
      std::cout << fmt::format("cutover at {}: nothing {} to {}", report.site, report.dry_run ? "would move" : "moved",
                               prod)
                << std::endl;
    else if (report.dry_run)
      std::cout << fmt::format("cutover at {}: {} rule(s) would move to {} in one transaction", report.site,
                               moved.size(), prod)
                << std::endl;
    else
      std::cout << fmt::format("cutover at {}: {} rule(s) moved to {} in one transaction, {}", report.site,
                               moved.size(), prod, epoch_text(report.result.epoch.value_or(0)))
                << std::endl;
    common::Table t({"rule", prod, sl, "result"});
    auto label = [](const std::optional<std::string>& v) { return v.value_or("(none)"); };
    for (const auto& m : moved)
      t.add_row({m.rule_key, label(m.from) + " -> " + label(m.to), label(m.to),
                 m.acknowledged_hotfixes.empty() ? verb
                                                 : fmt::format("{} (undoes hotfix(es) {}, acknowledged)", verb,
                                                               fmt::join(m.acknowledged_hotfixes, ", "))});
    for (const auto& st : stays) t.add_row({st.rule_key, label(st.prod), label(st.sl), "stays: " + st.why});
    if (!moved.empty() || !stays.empty()) t.print(std::cout);
    if (report.replication) std::cout << report.replication->summary << std::endl;
    return report.exit_code;
  };
  if (!args.dry_run) return run();
  return dry_run_frame(global, fmt::format("rulectl cutover at {}", args.site), run);
}

void acknowledge_options(CLI::App* cmd, ChannelArgs& a, bool cutover) {
  cmd->add_option("--acknowledge-hotfix", a.ack_hotfixes,
                  cutover ? "RULE@LABEL[,...]: exactly the hotfixes the refusal (or --dry-run) lists for the rules "
                            "that move; journaled"
                          : "LABEL[,...]: exactly the hotfixes the refusal (or --dry-run) lists as undone by this "
                            "change; journaled")
      ->delimiter(',');
  cmd->add_flag("--acknowledge", a.acknowledge,
                "acknowledge what no hotfix names: a recovered version in prod, or a change at this site no hotfix "
                "record explains; journaled");
}

void dry_run_option(CLI::App* cmd, ChannelArgs& a) {
  cmd->add_flag("--dry-run", a.dry_run,
                "check and report everything (admission, pin, the hotfix gate with its diffs) in a transaction that "
                "is rolled back; nothing is changed, nothing asked");
}

CLI::App* verb(CLI::App& app, const std::string& name, const std::string& what, ChannelArgs& a) {
  CLI::App* cmd = app.add_subcommand(name, what);
  cmd->add_option("--site", a.site, "site name, or e3 for the E3 primary")->required();
  cmd->footer(exit_footer(name));
  return cmd;
}

void channel_option(CLI::App* cmd, ChannelArgs& a) {
  std::vector<std::string> names(channels().begin(), channels().end());
  cmd->add_option("--channel", a.channel,
                  fmt::format("{} (soft launch, green) or {} (blue)", soft_launch_channel, production_channel))
      ->required()
      ->check(CLI::IsMember(names));
}

void wait_option(CLI::App* cmd, ChannelArgs& a) {
  a.wait_option = cmd->add_option("--wait-replicated", a.wait_seconds,
                                  "after the commit, wait up to SECONDS until every other E3 site holds it "
                                  "(exit 3 if one does not)")
                      ->check(CLI::NonNegativeNumber);
}

}  // namespace

void add_channels(CLI::App& app, GlobalOptions& global, int& exit_code) {
  {
    auto a = std::make_shared<ChannelArgs>();
    CLI::App* cmd = verb(app, "validate",
                         "record a test outcome: at e2 in_test -> test_passed|test_failed; at e3 (the version active "
                         "in sl) -> sl_validated|sl_failed",
                         *a);
    cmd->add_option("--rule", a->rule, "rule key")->required();
    cmd->add_option("--version", a->version, "version label (N or N.k)")->required();
    cmd->add_option("--result", a->result, "passed or failed")->required()->check(CLI::IsMember({"passed", "failed"}));
    a->reason_option = cmd->add_option("--reason", a->reason, "why (journaled; default: the command)");
    cmd->callback([&global, &exit_code, a] { exit_code = run_validate(global, *a); });
  }
  using ops::ChannelAction;
  for (const ChannelAction action : {ChannelAction::activate, ChannelAction::deactivate, ChannelAction::rollback,
                                     ChannelAction::pin, ChannelAction::unpin}) {
    auto a = std::make_shared<ChannelArgs>();
    const std::string what =
        action == ChannelAction::activate
            ? "make a channel's pods use a version of a rule (admission, pin, hotfix gate apply)"
        : action == ChannelAction::deactivate ? "remove a rule's activation from a channel"
        : action == ChannelAction::rollback   ? "re-activate the most recent earlier version the channel still admits"
        : action == ChannelAction::pin ? "activate a version and pin it: other versions are refused until unpinned"
                                       : "remove a channel's pin of a rule (the version stays active)";
    CLI::App* cmd = verb(app, std::string(ops::to_string(action)), what, *a);
    channel_option(cmd, *a);
    cmd->add_option("--rule", a->rule, "rule key")->required();
    if (action == ChannelAction::activate || action == ChannelAction::pin)
      cmd->add_option("--version", a->version, "version label (N or N.k)")->required();
    if (action != ChannelAction::unpin) acknowledge_options(cmd, *a, false);
    if (action == ChannelAction::activate || action == ChannelAction::deactivate || action == ChannelAction::rollback)
      a->expected_option = cmd->add_option("--expected-epoch", a->expected_epoch,
                                           "refuse (exit 3) unless the rule's activation in the channel still has "
                                           "this epoch (0: none)");
    dry_run_option(cmd, *a);
    wait_option(cmd, *a);
    cmd->callback([&global, &exit_code, a, action] { exit_code = run_channel(global, *a, action); });
  }
  {
    auto a = std::make_shared<ChannelArgs>();
    CLI::App* cmd = verb(app, "cutover",
                         "green becomes blue: every rule's sl version that is sl_validated goes to prod, one "
                         "transaction, one epoch; the report says why the others stay",
                         *a);
    acknowledge_options(cmd, *a, true);
    dry_run_option(cmd, *a);
    wait_option(cmd, *a);
    cmd->callback([&global, &exit_code, a] { exit_code = run_cutover(global, *a); });
  }
}

}  // namespace rulekeeper::cli
