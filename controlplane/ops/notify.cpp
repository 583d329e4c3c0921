#include "ops/notify.hpp"

#include <algorithm>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <pqxx/pqxx>

#include "common/errors.hpp"
#include "common/text.hpp"
#include "site/client/notify.hpp"
#include "site/server_error.hpp"
#include "site/topology.hpp"

namespace rulekeeper::ops {

namespace client = site::client;
using json = nlohmann::json;

const char* to_string(NotifyAction a) { return a == NotifyAction::hold ? "hold" : "release"; }

json NotifyReport::to_json() const {
  return {{"action", to_string(action)},
          {"site", site},
          {"channel", channel},
          {"primary", primary},
          {"dry_run", dry_run},
          {"held_epoch", result.value("held_epoch", json(nullptr))},
          {"current_epoch", result.value("current_epoch", json(nullptr))},
          {"reason", result.value("reason", json(nullptr))},
          {"actor", result.value("actor", json(nullptr))},
          {"recorded_at", result.value("recorded_at", json(nullptr))}};
}

namespace {

// The scope names a configured E3 site and a channel; checked before any
// connection, so a typo is a usage error (exit 2) whatever the servers say.
void check_scope(const config::Config& config, const NotifyRequest& r) {
  std::vector<std::string> e3;
  for (const auto& s : config.sites)
    if (s.environment == "e3") e3.push_back(s.name);
  if (std::find(e3.begin(), e3.end(), r.site) == e3.end())
    throw common::ExitError(common::exit_usage,
                            e3.empty() ? fmt::format("unknown E3 site \"{}\": rulectl.toml names no E3 site",
                                                     common::one_line(r.site))
                                       : fmt::format("unknown E3 site \"{}\"; the E3 sites are {}",
                                                     common::one_line(r.site), fmt::join(e3, ", ")));
  if (r.channel != "sl" && r.channel != "prod")
    throw common::ExitError(common::exit_usage, fmt::format("unknown channel \"{}\"; the channels are sl and prod",
                                                            common::one_line(r.channel)));
}

json run(pqxx::connection& conn, const NotifyRequest& r, bool dry_run) {
  return r.action == NotifyAction::hold ? client::hold_notifications(conn, r.site, r.channel, r.reason, dry_run)
                                        : client::release_notifications(conn, r.site, r.channel, r.reason, dry_run);
}

long long epoch_of(const json& row, const char* key) {
  return row.contains(key) && row[key].is_number_integer() ? row[key].get<long long>() : 0;
}

std::string epoch_text(long long epoch) {
  return fmt::format("{} (incarnation {}, #{})", epoch, epoch >> 32, epoch & 0xffffffffLL);
}

ProductionPlan plan_of(const NotifyRequest& r, const std::string& primary, const json& preview) {
  ProductionPlan p;
  if (r.action == NotifyAction::hold) {
    p.summary = fmt::format("hold the notifications of {} {} at epoch {}", r.site, r.channel,
                            epoch_text(epoch_of(preview, "held_epoch")));
    p.lines.push_back(fmt::format("{}'s gateway keeps serving {}'s set of epoch {} to its pods until released", r.site,
                                  r.channel, epoch_of(preview, "held_epoch")));
    p.lines.push_back(fmt::format("activations go on; {}'s pods do not see them while held", r.site));
  } else {
    p.summary = fmt::format("release the notifications of {} {} (held at epoch {})", r.site, r.channel,
                            epoch_text(epoch_of(preview, "held_epoch")));
    p.lines.push_back(fmt::format("{}'s pods move from epoch {} to {}'s current epoch {}", r.site,
                                  epoch_of(preview, "held_epoch"), r.channel, epoch_of(preview, "current_epoch")));
  }
  p.lines.push_back(fmt::format("recorded in the journal at the E3 primary {}", primary));
  if (!r.reason.empty()) p.lines.push_back("reason: " + common::one_line(r.reason));
  return p;
}

}  // namespace

NotifyReport notify(const config::Config& config, const NotifyRequest& request) {
  check_scope(config, request);
  const std::string verb = fmt::format("notify {}", to_string(request.action));
  site::Site primary = site::writer(config, site::kE3Primary, verb);
  NotifyReport report;
  report.action = request.action;
  report.primary = primary.name();
  report.site = request.site;
  report.channel = request.channel;

  // The preview: the real function in a transaction that is rolled back —
  // every check the database makes (held already, not held, the role).
  if (request.dry_run || request.confirm) {
    json preview;
    try {
      preview = run(*primary.conn, request, true);
    } catch (const pqxx::broken_connection&) {
      throw;
    } catch (const pqxx::failure& e) {
      throw site::sql_failure(fmt::format("{}{} refused at {}{}", request.dry_run ? "dry run: " : "", verb,
                                          primary.name(),
                                          request.dry_run ? " (as the real run would be; nothing was changed)" : ""),
                              e);
    }
    if (request.dry_run) {
      report.dry_run = true;
      report.result = preview;
      return report;
    }
    request.confirm(plan_of(request, primary.name(), preview));
  }
  try {
    report.result = run(*primary.conn, request, false);
  } catch (const pqxx::broken_connection&) {
    throw;
  } catch (const pqxx::failure& e) {
    throw site::sql_failure(fmt::format("{} refused at {}", verb, primary.name()), e);
  }
  return report;
}

}  // namespace rulekeeper::ops
