// See channels.hpp.
#include "ops/channels.hpp"

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "common/errors.hpp"
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

json ChannelReport::to_json() const {
  json doc = {{"site", site},
              {"action", std::string(ops::to_string(action))},
              {"rule_key", rule_key},
              {"channel", channel},
              {"before", activation_json(before)},
              {"after", activation_json(after)},
              {"epoch", epoch},
              {"changed", changed()}};
  add_replication(doc, replication);
  return doc;
}

ChannelReport change_channel(const config::Config& config, ChannelAction action, const ChannelRequest& request,
                             const common::ProgressSink& progress) {
  const std::string verb(to_string(action));
  site::Site site = site::writer(config, request.site, verb);
  namespace client = site::client;
  ChannelReport report;
  report.site = site.name();
  report.action = action;
  report.rule_key = request.rule;
  report.channel = request.channel;
  report.version = request.version;
  try {
    pqxx::work tx(*site.conn);
    report.before = client::activation(tx, request.rule, request.channel);
    switch (action) {
      case ChannelAction::activate:
        report.epoch = client::activate(tx, request.rule, request.version, request.channel, request.acknowledge,
                                        request.expected_epoch);
        break;
      case ChannelAction::deactivate:
        report.epoch =
            client::deactivate(tx, request.rule, request.channel, request.acknowledge, request.expected_epoch);
        break;
      case ChannelAction::rollback:
        report.epoch = client::rollback(tx, request.rule, request.channel, request.acknowledge, request.expected_epoch);
        break;
      case ChannelAction::pin: report.epoch = client::pin(tx, request.rule, request.channel, request.version); break;
      case ChannelAction::unpin: report.epoch = client::unpin(tx, request.rule, request.channel); break;
    }
    report.after = client::activation(tx, request.rule, request.channel);
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
  json doc = {{"site", site}, {"action", "cutover"}, {"report", result.document}};
  // Nothing moved: nothing to wait for, and the document says nothing of it.
  if (!result.moved.empty()) add_replication(doc, replication);
  return doc;
}

CutoverReport cutover(const config::Config& config, const std::string& site_name, bool acknowledge,
                      std::optional<double> wait_replicated_seconds, const common::ProgressSink& progress) {
  site::Site site = site::writer(config, site_name, "cutover");
  CutoverReport report;
  report.site = site.name();
  try {
    pqxx::work tx(*site.conn);
    report.result = site::client::cutover(tx, acknowledge);
    tx.commit();
  } catch (const pqxx::broken_connection&) {
    throw;
  } catch (const pqxx::failure& e) {
    throw site::sql_failure(fmt::format("cutover refused at {}", site.name()), e);
  }
  if (!report.result.moved.empty())
    report.replication = maybe_wait(config, site, wait_replicated_seconds, report.exit_code, progress);
  return report;
}

}  // namespace rulekeeper::ops
