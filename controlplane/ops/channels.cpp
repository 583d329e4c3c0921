// See channels.hpp.
#include "ops/channels.hpp"

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "common/errors.hpp"
#include "common/terminal.hpp"
#include "ops/replication_wait.hpp"
#include "rulekeeper/lifecycle.hpp"
#include "site/server_error.hpp"
#include "site/client/journal.hpp"
#include "site/client/qualification.hpp"
#include "site/topology.hpp"

namespace rulekeeper::ops {
namespace {

using nlohmann::json;

// After a commit at `site`, if asked: wait until the other sites of its
// environment hold it.
std::optional<ReplicationOutcome> maybe_wait(const config::Config& config, site::Site& site,
                                             std::optional<double> seconds, int& exit_code,
                                             const common::ProgressSink& progress) {
  if (!seconds) return std::nullopt;
  const VersionVector after = site::client::version_vector(*site.conn);
  ReplicationWait wait = wait_replicated(config, site.name(), after, *seconds, progress);
  if (!wait.replicated) exit_code = common::exit_refused;
  return ReplicationOutcome{wait.report, "committed, " + wait.summary};
}

void add_replication(json& doc, const std::optional<ReplicationOutcome>& replication) {
  doc["replication"] = replication ? replication->report : json(nullptr);
  if (replication) doc["replication_summary"] = replication->summary;
}

}  // namespace

std::string_view to_string(ChannelAction action) {
  switch (action) {
    case ChannelAction::activate: return "activate";
    case ChannelAction::deactivate: return "deactivate";
    case ChannelAction::rollback: return "rollback";
    case ChannelAction::pin: return "pin";
    case ChannelAction::unpin: return "unpin";
  }
  return "?";
}

json activation_json(const std::optional<site::client::Activation>& a) {
  if (!a) return nullptr;
  return {{"label", a->label}, {"pinned", a->pinned}, {"epoch", a->epoch}};
}

// Labels, paths and keys come from the database: escaped so that none can
// start a line of its own (common/terminal.hpp); values are JSON dumps.
std::vector<std::string> gate_lines(const json& gate) {
  using common::escape_controls;
  std::vector<std::string> out;
  if (!gate.is_array()) return out;
  for (const auto& g : gate) {
    std::string head = "hotfix " + escape_controls(g.value("label", std::string("?")));
    if (g.contains("classification") && g["classification"].is_string())
      head += " (the version's annotation: " + escape_controls(g["classification"].get<std::string>()) + ")";
    out.push_back(head + " changed:");
    if (g.contains("diff") && g["diff"].is_array())
      for (const auto& d : g["diff"]) {
        const std::string op = d.value("op", std::string());
        const std::string path = escape_controls(d.value("path", std::string("?")));
        if (op == "add")
          out.push_back(fmt::format("  {}: (absent) -> {}", path, d.value("new_value", json()).dump()));
        else if (op == "remove")
          out.push_back(fmt::format("  {}: {} -> (removed)", path, d.value("old_value", json()).dump()));
        else
          out.push_back(fmt::format("  {}: {} -> {}", path, d.value("old_value", json()).dump(),
                                    d.value("new_value", json()).dump()));
      }
    if (g.contains("paths") && g["paths"].is_array())
      for (const auto& q : g["paths"]) {
        auto value = [&](const char* key) {
          return q.contains(key) && !q[key].is_null() ? q[key].dump() : std::string("(absent)");
        };
        out.push_back(fmt::format("  the change would serve {}: {} (prod serves {})",
                                  escape_controls(q.value("path", std::string("?"))), value("candidate"),
                                  value("prod")));
      }
  }
  return out;
}

json ChannelReport::to_json() const {
  json doc = {{"site", site},
              {"action", std::string(ops::to_string(action))},
              {"rule_key", rule_key},
              {"channel", channel},
              {"before", activation_json(before)},
              {"after", activation_json(after)},
              {"epoch", epoch},
              {"changed", changed()},
              {"dry_run", dry_run},
              {"hotfix_gate", gate},
              {"acknowledged_hotfixes", acknowledged_hotfixes}};
  add_replication(doc, replication);
  return doc;
}

namespace {

std::string describe(const std::optional<site::client::Activation>& a) {
  if (!a) return "(none)";
  return a->label + (a->pinned ? " (pinned)" : "");
}

// One run of the verb in `tx`: the activation before, the gate of a move of
// prod, the extension's function, the activation after.
void run_channel_change(pqxx::work& tx, ChannelAction action, const ChannelRequest& request, ChannelReport& report) {
  namespace client = site::client;
  report.before = client::activation(tx, request.rule, request.channel);
  if (request.channel == production_channel && action != ChannelAction::unpin) {
    std::optional<std::string> to;
    if (action == ChannelAction::activate || action == ChannelAction::pin) to = request.version;
    if (action == ChannelAction::rollback) to = client::rollback_target(tx, request.rule, request.channel);
    // A rollback with nothing to roll back to is refused by rollback() below.
    if (action != ChannelAction::rollback || to) report.gate = client::hotfix_gate(tx, request.rule, to);
  }
  switch (action) {
    case ChannelAction::activate:
      report.epoch =
          client::activate(tx, request.rule, request.version, request.channel, request.ack, request.expected_epoch);
      break;
    case ChannelAction::deactivate:
      report.epoch = client::deactivate(tx, request.rule, request.channel, request.ack, request.expected_epoch);
      break;
    case ChannelAction::rollback:
      report.epoch = client::rollback(tx, request.rule, request.channel, request.ack, request.expected_epoch);
      break;
    case ChannelAction::pin:
      report.epoch = client::pin(tx, request.rule, request.channel, request.version, request.ack);
      break;
    case ChannelAction::unpin: report.epoch = client::unpin(tx, request.rule, request.channel); break;
  }
  report.after = client::activation(tx, request.rule, request.channel);
  report.acknowledged_hotfixes.clear();
  if (report.gate.is_array() && !report.gate.empty()) report.acknowledged_hotfixes = request.ack.hotfixes;
}

ProductionPlan channel_plan(ChannelAction action, const ChannelReport& r) {
  ProductionPlan plan;
  plan.summary = fmt::format("{} rule {} in {} at {} (production)", to_string(action),
                             common::escape_controls(r.rule_key), r.channel, r.site);
  plan.lines.push_back(fmt::format("{}: {} -> {}", r.channel, describe(r.before), describe(r.after)));
  if (r.gate.is_array() && !r.gate.empty()) {
    std::vector<std::string> labels;
    for (const auto& g : r.gate) labels.push_back(common::escape_controls(g.value("label", std::string("?"))));
    plan.lines.push_back(fmt::format("undoes hotfix(es) {}, acknowledged:", fmt::join(labels, ", ")));
    for (const auto& l : gate_lines(r.gate)) plan.lines.push_back("  " + l);
  }
  return plan;
}

}  // namespace

ChannelReport change_channel(const config::Config& config, ChannelAction action, const ChannelRequest& request,
                             const common::ProgressSink& progress) {
  const std::string verb(to_string(action));
  site::Site site = site::writer(config, request.site, verb);
  ChannelReport report;
  report.site = site.name();
  report.action = action;
  report.rule_key = request.rule;
  report.channel = request.channel;
  report.version = request.version;
  const bool asks = request.confirm && is_production(site.environment());

  // The preview: the real function in a transaction that is rolled back —
  // every check the database makes, nothing changed.
  std::optional<ChannelReport> preview;
  if (request.dry_run || asks) {
    ChannelReport p = report;
    try {
      pqxx::work tx(*site.conn);
      run_channel_change(tx, action, request, p);
      tx.abort();
    } catch (const pqxx::broken_connection&) {
      throw;
    } catch (const pqxx::failure& e) {
      throw site::sql_failure(fmt::format("{}{} refused at {}{}", request.dry_run ? "dry run: " : "", verb, site.name(),
                                          request.dry_run ? " (as the real run would be; nothing was changed)" : ""),
                              e);
    }
    if (request.dry_run) {
      p.dry_run = true;
      return p;
    }
    if (!p.changed()) return p;  // already so: nothing to ask, nothing to change
    request.confirm(channel_plan(action, p));
    preview = std::move(p);
  }

  try {
    pqxx::work tx(*site.conn);
    run_channel_change(tx, action, request, report);
    // What was confirmed is what happens: if the activation moved since
    // the plan was shown, nothing is committed.
    if (preview && (report.before != preview->before || report.after.has_value() != preview->after.has_value() ||
                    (report.after && report.after->label != preview->after->label)))
      throw common::ExitError(common::exit_refused,
                              fmt::format("{} at {}: the {} activation of rule {} changed after the plan was shown "
                                          "({} then, {} now); nothing was changed",
                                          verb, site.name(), request.channel, request.rule, describe(preview->before),
                                          describe(report.before)),
                              {}, "look again (rulectl status) and decide again");
    tx.commit();
  } catch (const pqxx::broken_connection&) {
    throw;
  } catch (const pqxx::failure& e) {
    throw site::sql_failure(fmt::format("{} refused at {}", verb, site.name()), e);
  }
  report.replication = maybe_wait(config, site, request.wait_replicated_seconds, report.exit_code, progress);
  return report;
}

json ValidateReport::to_json() const {
  return {{"site", site}, {"action", "validate"}, {"rule_key", rule_key}, {"label", label}, {"from", from.value_or("")},
          {"to", to},     {"reason", reason}};
}

ValidateReport validate(const config::Config& config, const ValidateRequest& request) {
  site::Site site = site::writer(config, request.site, "validate");
  const std::string env = site.environment();
  const auto parsed = parse_environment(env);
  const auto to = parsed ? validation_outcome(*parsed, request.passed) : std::nullopt;
  if (!to)
    throw common::ExitError(common::exit_refused,
                            fmt::format("site {} is in environment {}: validation happens at e2 (tests) or e3 "
                                        "(soft launch)",
                                        site.name(), env));
  ValidateReport report;
  report.site = site.name();
  report.rule_key = request.rule;
  report.label = request.version;
  report.to = std::string(*to);
  report.reason =
      request.reason.value_or(fmt::format("rulectl validate --result {}", request.passed ? "passed" : "failed"));
  if (request.confirm && is_production(env))
    request.confirm({fmt::format("record the soft-launch outcome of version {} of rule {} at {} (production)",
                                 request.version, request.rule, site.name()),
                     {fmt::format("qualification -> {} (reason: {})", report.to, report.reason)}});
  try {
    pqxx::work tx(*site.conn);
    report.from = site::client::transition(tx, request.rule, request.version, report.to, report.reason).from;
    tx.commit();
  } catch (const pqxx::broken_connection&) {
    throw;
  } catch (const pqxx::failure& e) {
    throw site::sql_failure(fmt::format("validate refused at {}", site.name()), e);
  }
  return report;
}

json CutoverReport::to_json() const {
  json doc = {{"site", site}, {"action", "cutover"}, {"dry_run", dry_run}, {"report", result.document}};
  // Nothing moved: nothing to wait for, and the document says nothing of it.
  if (!result.moved.empty()) add_replication(doc, replication);
  return doc;
}

namespace {

std::vector<std::string> moved_keys(const site::client::CutoverResult& r) {
  std::vector<std::string> out;
  for (const auto& m : r.moved)
    out.push_back(m.rule_key + " " + m.from.value_or("(none)") + " -> " + m.to.value_or("?"));
  return out;
}

}  // namespace

CutoverReport cutover(const config::Config& config, const CutoverRequest& request,
                      const common::ProgressSink& progress) {
  site::Site site = site::writer(config, request.site, "cutover");
  CutoverReport report;
  report.site = site.name();
  const bool asks = request.confirm && is_production(site.environment());
  std::optional<site::client::CutoverResult> preview;
  if (request.dry_run || asks) {
    try {
      pqxx::work tx(*site.conn);
      preview = site::client::cutover(tx, request.ack);
      tx.abort();
    } catch (const pqxx::broken_connection&) {
      throw;
    } catch (const pqxx::failure& e) {
      throw site::sql_failure(fmt::format("{}cutover refused at {}{}", request.dry_run ? "dry run: " : "", site.name(),
                                          request.dry_run ? " (as the real run would be; nothing was changed)" : ""),
                              e);
    }
    if (request.dry_run || preview->moved.empty()) {
      report.result = *preview;
      report.dry_run = request.dry_run;
      return report;
    }
    ProductionPlan plan{fmt::format("cutover at {} (production): {} rule(s) move from {} to {} in one transaction",
                                    site.name(), preview->moved.size(), soft_launch_channel, production_channel),
                        {}};
    for (const auto& m : preview->moved) {
      std::string line =
          fmt::format("{}: prod {} -> {}", common::escape_controls(m.rule_key),
                      common::escape_controls(m.from.value_or("(none)")), common::escape_controls(m.to.value_or("?")));
      if (!m.acknowledged_hotfixes.empty())
        line += fmt::format(" (undoes hotfix(es) {}, acknowledged)", fmt::join(m.acknowledged_hotfixes, ", "));
      plan.lines.push_back(line);
    }
    for (const auto& st : preview->stays)
      plan.lines.push_back(
          fmt::format("{} stays: {}", common::escape_controls(st.rule_key), common::escape_controls(st.why)));
    request.confirm(plan);
  }
  try {
    pqxx::work tx(*site.conn);
    report.result = site::client::cutover(tx, request.ack);
    if (preview && moved_keys(report.result) != moved_keys(*preview))
      throw common::ExitError(common::exit_refused,
                              fmt::format("cutover at {}: what would move changed after the plan was shown ({} then, "
                                          "{} now); nothing was changed",
                                          site.name(), fmt::join(moved_keys(*preview), "; "),
                                          fmt::join(moved_keys(report.result), "; ")),
                              {}, "look again (rulectl cutover --dry-run) and decide again");
    tx.commit();
  } catch (const pqxx::broken_connection&) {
    throw;
  } catch (const pqxx::failure& e) {
    throw site::sql_failure(fmt::format("cutover refused at {}", site.name()), e);
  }
  if (!report.result.moved.empty())
    report.replication = maybe_wait(config, site, request.wait_replicated_seconds, report.exit_code, progress);
  return report;
}

}  // namespace rulekeeper::ops
