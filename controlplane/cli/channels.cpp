// The channel verbs of rulectl — validate, activate, deactivate, rollback,
// pin, unpin, cutover — each one call of the extension's function at the
// resolved site (`e3` = the E3 primary), in one transaction, with the before
// and after of the activation read in that transaction. The extension decides
// (admission, pins, the hotfix gate, expected_epoch); rulectl maps its
// SQLSTATE to an exit code (resolve.hpp) and says what happened plus the epoch.
#include <iostream>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "cli/commands.hpp"
#include "common/errors.hpp"
#include "common/output.hpp"
#include "site/topology.hpp"
#include "site/server_error.hpp"
#include "site/waiter.hpp"
#include "site/client/waits.hpp"
#include "rulekeeper/version_vector.hpp"

namespace rulekeeper::cli {
namespace {

using nlohmann::json;

const char* kExitFooter =
    "Exit: 0 done (also when nothing had to change); 3 refused: the channel does not admit the version's "
    "qualification, a pin, the hotfix gate (--acknowledge-hotfix), --expected-epoch no longer current "
    "(someone else changed it: look again with `rulectl status` / rule_state), a standby or split-brain "
    "site, a wrong environment, or --wait-replicated ran out; 1 unknown rule or version, not active, not "
    "pinned, nothing to roll back to, or another failure; 4 the site is unreachable.";

struct ChannelArgs {
  std::string site;
  std::string channel;
  std::string rule;
  std::string version;
  std::string result;
  std::string reason;
  bool acknowledge = false;
  long long expected_epoch = 0;
  double wait_seconds = 0;
  CLI::Option* expected_option = nullptr;
  CLI::Option* wait_option = nullptr;
  CLI::Option* reason_option = nullptr;

  std::optional<long long> expected() const {
    if (expected_option != nullptr && expected_option->count() > 0) return expected_epoch;
    return std::nullopt;
  }
};

std::string epoch_text(long long epoch) {
  return fmt::format("epoch {} (incarnation {}, #{})", epoch, epoch >> 32, epoch & 0xffffffffLL);
}

// The channel's activation of a rule, as JSON (null when none).
json activation(pqxx::transaction_base& tx, const std::string& channel, const std::string& rule) {
  pqxx::result r = tx.exec_params(
      "SELECT label, pinned, epoch FROM rulekeeper.activation WHERE channel = $1 AND rule_key = $2", channel, rule);
  if (r.empty()) return nullptr;
  return {{"label", r[0][0].c_str()}, {"pinned", r[0][1].as<bool>()}, {"epoch", r[0][2].as<long long>()}};
}

std::string describe(const json& a) {
  if (a.is_null()) return "(none)";
  return a["label"].get<std::string>() + (a["pinned"].get<bool>() ? " (pinned)" : "");
}

// Waits, if asked, until the other E3 sites hold this commit; returns the exit code.
int maybe_wait(const config::Config& config, site::Site& site, const ChannelArgs& args, json& doc) {
  doc["replication"] = nullptr;
  if (args.wait_option == nullptr || args.wait_option->count() == 0) return common::exit_ok;
  const VersionVector after = VersionVector::from_json(site::client::version_vector_of(*site.conn));
  const site::WaitReport wait = site::wait_replicated(config, site.name(), after, args.wait_seconds, common::Progress());
  doc["replication"] = wait.to_json();
  doc["replication_summary"] = "committed, " + site::replicated_summary(config, site.name(), wait);
  return doc["replication"]["replicated"].get<bool>() ? common::exit_ok : common::exit_refused;
}

int finish(const GlobalOptions& global, const json& doc, const std::string& line, int rc) {
  if (global.json) {
    common::print_json(doc);
    if (doc.contains("replication_summary") && rc != common::exit_ok)
      std::cerr << "rulectl: " << doc["replication_summary"].get<std::string>() << std::endl;
  } else {
    std::cout << line << std::endl;
    if (doc.contains("replication_summary")) std::cout << doc["replication_summary"].get<std::string>() << std::endl;
  }
  return rc;
}

// activate / deactivate / rollback / pin / unpin: one function call at the
// site between two reads of the activation.
int run_channel(const GlobalOptions& global, const ChannelArgs& args, const std::string& action) {
  const config::Config config = load_config(global);
  site::Site site = site::writer(config, args.site, action);
  json before, after;
  long long epoch = 0;
  try {
    pqxx::work tx(*site.conn);
    before = activation(tx, args.channel, args.rule);
    pqxx::result r;
    if (action == "activate")
      r = tx.exec_params("SELECT rulekeeper.activate($1, $2, $3, $4, $5)", args.rule, args.version, args.channel,
                         args.acknowledge, args.expected());
    else if (action == "deactivate")
      r = tx.exec_params("SELECT rulekeeper.deactivate($1, $2, $3, $4)", args.rule, args.channel, args.acknowledge,
                         args.expected());
    else if (action == "rollback")
      r = tx.exec_params("SELECT rulekeeper.rollback($1, $2, $3, $4)", args.rule, args.channel, args.acknowledge,
                         args.expected());
    else if (action == "pin")
      r = tx.exec_params("SELECT rulekeeper.pin($1, $2, $3)", args.rule, args.channel, args.version);
    else
      r = tx.exec_params("SELECT rulekeeper.unpin($1, $2)", args.rule, args.channel);
    epoch = r[0][0].as<long long>();
    after = activation(tx, args.channel, args.rule);
    tx.commit();
  } catch (const pqxx::broken_connection&) {
    throw;
  } catch (const pqxx::failure& e) {
    throw site::sql_failure(fmt::format("{} refused at {}", action, site.name()), e);
  }

  const bool changed = before != after;
  json doc = {{"site", site.name()},     {"action", action}, {"rule_key", args.rule},
              {"channel", args.channel}, {"before", before}, {"after", after},
              {"epoch", epoch},          {"changed", changed}};
  std::string line;
  if (!changed)
    line = fmt::format("{} {} at {}: rule {} in {} is already {}; nothing changed ({})", action,
                       action == "deactivate" ? "" : args.version, site.name(), args.rule, args.channel,
                       describe(after), epoch_text(epoch));
  else if (action == "pin" || action == "unpin")
    line = fmt::format("{}ned rule {} in {} at {}: {} -> {}, {}", action, args.rule, args.channel, site.name(),
                       describe(before), describe(after), epoch_text(epoch));
  else
    line = fmt::format("{} rule {} in {} at {}: {} -> {}, {}",
                       action == "activate" ? "activated" : action == "deactivate" ? "deactivated" : "rolled back",
                       args.rule, args.channel, site.name(), describe(before), describe(after), epoch_text(epoch));
  // Collapse the double space of "activate  at" style messages.
  for (std::size_t p; (p = line.find("  ")) != std::string::npos;) line.erase(p, 1);
  int rc = maybe_wait(config, site, args, doc);
  return finish(global, doc, line, rc);
}

int run_validate(const GlobalOptions& global, const ChannelArgs& args) {
  const config::Config config = load_config(global);
  site::Site site = site::writer(config, args.site, "validate");
  const std::string env = site.environment();
  std::string to;
  if (env == "e2")
    to = args.result == "passed" ? "test_passed" : "test_failed";
  else if (env == "e3")
    to = args.result == "passed" ? "sl_validated" : "sl_failed";
  else
    throw common::ExitError(common::exit_refused, fmt::format("site {} is in environment {}: validation happens at e2 (tests) or e3 "
                                          "(soft launch)",
                                          site.name(), env));
  std::string reason = args.reason_option->count() > 0
                           ? args.reason
                           : fmt::format("rulectl validate --result {}", args.result);
  json change;
  try {
    pqxx::work tx(*site.conn);
    pqxx::result r = tx.exec_params("SELECT rulekeeper.transition($1, $2, $3, $4)::text", args.rule, args.version,
                                    to, reason);
    change = json::parse(r[0][0].c_str());
    tx.commit();
  } catch (const pqxx::broken_connection&) {
    throw;
  } catch (const pqxx::failure& e) {
    throw site::sql_failure(fmt::format("validate refused at {}", site.name()), e);
  }
  json doc = {{"site", site.name()}, {"action", "validate"}, {"rule_key", args.rule}, {"label", args.version},
              {"from", change.value("from", std::string())}, {"to", to}, {"reason", reason}};
  return finish(global, doc,
                fmt::format("validated rule {} version {} at {}: {} -> {}", args.rule, args.version, site.name(),
                            change.value("from", std::string("?")), to),
                common::exit_ok);
}

int run_cutover(const GlobalOptions& global, const ChannelArgs& args) {
  const config::Config config = load_config(global);
  site::Site site = site::writer(config, args.site, "cutover");
  json rep;
  try {
    pqxx::work tx(*site.conn);
    rep = json::parse(tx.exec_params("SELECT rulekeeper.cutover($1)::text", args.acknowledge)[0][0].c_str());
    tx.commit();
  } catch (const pqxx::broken_connection&) {
    throw;
  } catch (const pqxx::failure& e) {
    throw site::sql_failure(fmt::format("cutover refused at {}", site.name()), e);
  }
  json doc = {{"site", site.name()}, {"action", "cutover"}, {"report", rep}};
  const json& moved = rep["moved"];
  const json& stays = rep["stays"];
  int rc = moved.empty() ? common::exit_ok : maybe_wait(config, site, args, doc);
  if (global.json) return finish(global, doc, "", rc);

  if (moved.empty())
    std::cout << fmt::format("cutover at {}: nothing moved to prod", site.name()) << std::endl;
  else
    std::cout << fmt::format("cutover at {}: {} rule(s) moved to prod in one transaction, {}", site.name(),
                             moved.size(), epoch_text(rep["epoch"].get<long long>()))
              << std::endl;
  common::Table t({"rule", "prod", "sl", "result"});
  auto label = [](const json& v) { return v.is_string() ? v.get<std::string>() : std::string("(none)"); };
  for (const auto& m : moved)
    t.add_row({m["rule_key"].get<std::string>(), label(m["from"]) + " -> " + label(m["to"]), label(m["to"]),
               "moved"});
  for (const auto& s : stays)
    t.add_row({s["rule_key"].get<std::string>(), label(s["prod"]), label(s["sl"]),
               "stays: " + s.value("why", std::string())});
  if (!moved.empty() || !stays.empty()) t.print(std::cout);
  if (doc.contains("replication_summary")) std::cout << doc["replication_summary"].get<std::string>() << std::endl;
  return rc;
}

CLI::App* verb(CLI::App& app, const std::string& name, const std::string& what, ChannelArgs& a) {
  CLI::App* cmd = app.add_subcommand(name, what);
  cmd->add_option("--site", a.site, "site name, or e3 for the E3 primary")->required();
  cmd->footer(kExitFooter);
  return cmd;
}

void channel_option(CLI::App* cmd, ChannelArgs& a) {
  cmd->add_option("--channel", a.channel, "sl (soft launch, green) or prod (blue)")
      ->required()
      ->check(CLI::IsMember({"sl", "prod"}));
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
  for (const std::string action : {"activate", "deactivate", "rollback", "pin", "unpin"}) {
    auto a = std::make_shared<ChannelArgs>();
    const std::string what =
        action == "activate"     ? "make a channel's pods use a version of a rule (admission, pin, hotfix gate apply)"
        : action == "deactivate" ? "remove a rule's activation from a channel"
        : action == "rollback"   ? "re-activate the most recent earlier version the channel still admits"
        : action == "pin"        ? "activate a version and pin it: other versions are refused until unpinned"
                                 : "remove a channel's pin of a rule (the version stays active)";
    CLI::App* cmd = verb(app, action, what, *a);
    channel_option(cmd, *a);
    cmd->add_option("--rule", a->rule, "rule key")->required();
    if (action == "activate" || action == "pin")
      cmd->add_option("--version", a->version, "version label (N or N.k)")->required();
    if (action == "activate" || action == "deactivate" || action == "rollback") {
      cmd->add_flag("--acknowledge-hotfix", a->acknowledge,
                    "acknowledge that the version may undo a hotfix (or is recovered); journaled");
      a->expected_option = cmd->add_option("--expected-epoch", a->expected_epoch,
                                           "refuse (exit 3) unless the rule's activation in the channel still has "
                                           "this epoch (0: none)");
    }
    wait_option(cmd, *a);
    cmd->callback([&global, &exit_code, a, action] { exit_code = run_channel(global, *a, action); });
  }
  {
    auto a = std::make_shared<ChannelArgs>();
    CLI::App* cmd = verb(app, "cutover",
                         "green becomes blue: every rule's sl version that is sl_validated goes to prod, one "
                         "transaction, one epoch; the report says why the others stay",
                         *a);
    cmd->add_flag("--acknowledge-hotfix", a->acknowledge,
                  "move versions the hotfix gate holds back too (journaled)");
    wait_option(cmd, *a);
    cmd->callback([&global, &exit_code, a] { exit_code = run_cutover(global, *a); });
  }
}

}  // namespace rulekeeper::cli
