// See rejoin_plan.hpp.
#include "ops/rejoin_plan.hpp"
#include "ops/rejoin_patroni.hpp"
#include "ops/rejoin_decision.hpp"

#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/errors.hpp"
#include "common/json_file.hpp"
#include "common/text.hpp"
#include "common/time.hpp"
#include "ops/failover.hpp"
#include "pgnode/local_node.hpp"
#include "pgnode/postmaster.hpp"
#include "rulekeeper/lifecycle.hpp"
#include "site/client/server_state.hpp"
#include "site/connect.hpp"
#include "site/probe.hpp"
#include "site/server_error.hpp"
#include "site/topology.hpp"

namespace rulekeeper::ops {

namespace fs = std::filesystem;
namespace client = site::client;
using nlohmann::json;
using site::SiteState;

std::string RejoinPlan::summary() const {
  if (nothing_to_do) return fmt::format("{} already streams from {}: nothing to do", site, primary);
  if (!changes_production)
    return fmt::format(
        "rejoin {} to {}: rulectl.toml lacks sites.{}.{}, so it changes nothing itself (it prints "
        "the commands)",
        site, primary, site, missing_config);
  return fmt::format("rejoin {} ({} now) as a standby of {}: its orphans saved first, then pg_rewind", site, site_role,
                     primary);
}

json RejoinPlan::to_json() const {
  json doc = {{"dry_run", true},
              {"site", site},
              {"primary", primary},
              {"site_role", site_role},
              {"probe", probe},
              {"nothing_to_do", nothing_to_do},
              {"steps", steps},
              {"orphans_file", orphans_file},
              {"orphans_note", orphans_note}};
  if (!missing_config.empty()) doc["missing_config"] = missing_config;
  doc["failover_event"] =
      event ? json{{"event_id", event->event_id},
                   {"old_site", event->old_site},
                   {"new_site", event->new_site},
                   {"new_timeline", event->new_timeline},
                   {"divergence", common::parse_strict_json(event->divergence, "the divergence point")},
                   {"forced", event->forced},
                   {"promoted_by", event->promoted_by.empty() ? json() : json(event->promoted_by)},
                   {"recorded_at", event->recorded_at}}
            : json(nullptr);
  doc["orphans"] = orphans ? json{{"count", orphans->size()}, {"changes", *orphans}} : json(nullptr);
  return doc;
}

RejoinPlan plan_rejoin(const config::Config& config, const RejoinRequest& request,
                       const common::ProgressSink& progress) {
  const config::SiteConfig& sc = site::find_site(config, request.site);
  if (parse_environment(sc.environment) != Environment::e3)
    throw common::ExitError(common::exit_usage, fmt::format("site {} is not an E3 site: rejoin is within E3", sc.name));
  // Patroni runs the site (ops/rejoin_patroni.hpp).
  if (rejoin_through_patroni(sc)) return plan_rejoin_patroni(config, request, progress);
  RejoinPlan plan;
  plan.site = sc.name;
  progress.step("probe the E3 sites");
  RejoinDecision d = decide_rejoin(config, sc, [](const std::vector<std::string>&) {});
  plan.probe = d.seen;
  SiteState& primary = *d.primary;
  SiteState* me = d.me;
  plan.primary = primary.name;
  plan.site_role = me->role();
  if (d.already_following) {
    plan.nothing_to_do = true;
    return plan;
  }
  plan.event = client::latest_failover_event(*primary.connection);
  if (!plan.event)
    throw common::ExitError(common::exit_refused,
                            fmt::format("{} holds no failover event: nothing says where {} diverged from it, so its "
                                        "orphaned changes cannot be told apart; nothing was done (promote with "
                                        "`rulectl failover`, which records the divergence point)",
                                        primary.name, sc.name));
  const pgnode::LocalNode node = local_node(sc);
  plan.missing_config = pgnode::missing_control(node);
  const bool controlled = plan.missing_config.empty();

  // Step 1: keep it from writing.
  if (!me->is_standby()) {
    if (!controlled) {
      plan.steps.push_back(
          fmt::format("print the commands that make {} a standby with no upstream (rulectl.toml "
                      "lacks sites.{}.{}); nothing else",
                      sc.name, sc.name, plan.missing_config));
      return plan;
    }
    if (me->role_known()) {
      plan.steps.push_back(fmt::format("stop {} (it accepts writes: split brain)", sc.name));
    } else if (int pid = node.pgdata ? pgnode::postmaster_pid(*node.pgdata) : 0; pid != 0) {
      throw common::ExitError(common::exit_unreachable,
                              fmt::format("{}'s postmaster runs (PID {}) but does not answer ({}); nothing was done",
                                          sc.name, pid, me->error));
    }
    plan.steps.push_back(
        fmt::format("start {} as a standby with no upstream (standby.signal, no primary_conninfo)", sc.name));
  }

  // Step 2: its orphans.
  plan.orphans_file = request.orphans.empty()
                          ? (fs::path(config.state_dir) / fmt::format("orphans-{}-<UTC time>.json", sc.name)).string()
                          : request.orphans;
  plan.steps.push_back(
      fmt::format("export {}'s changes beyond the divergence point to {}", sc.name, plan.orphans_file));
  if (me->role_known()) {
    std::string err;
    auto c = site::try_connect(sc, err, 10);
    if (!c) {
      plan.orphans_note = fmt::format("not readable now: {}", err);
    } else {
      try {
        const std::string text = client::export_changes(*c, plan.event->divergence);
        plan.orphans = common::parse_strict_json(text, fmt::format("export_changes at {}", sc.name))["changes"];
        plan.orphans_note =
            me->is_primary()
                ? fmt::format("as of now: {} accepts writes and may take more until rejoin stops it", sc.name)
                : "as of now";
      } catch (const pqxx::failure& e) {
        throw site::sql_failure(fmt::format("export_changes at {}", sc.name), e);
      }
    }
  } else {
    plan.orphans_note = fmt::format(
        "not readable while {} is down: rejoin starts it with no upstream first, then "
        "exports them (read-only) before anything is rewound",
        sc.name);
  }

  // Step 3: rewind and follow.
  const std::string& pc = primary.name;
  if (!controlled) {
    plan.steps.push_back(
        fmt::format("print the commands that rewind {} and make it {}'s standby (rulectl.toml "
                    "lacks sites.{}.{})",
                    sc.name, pc, sc.name, plan.missing_config));
    plan.changes_production = !me->is_standby();
    return plan;
  }
  plan.changes_production = true;
  plan.steps.push_back(fmt::format("stop {}; CHECKPOINT at {}", sc.name, pc));
  plan.steps.push_back(
      fmt::format("pg_rewind {} from {} (its changes beyond the divergence point are discarded there; "
                  "the bundle keeps them)",
                  sc.name, pc));
  plan.steps.push_back(fmt::format("settings of {}: primary_conninfo -> {}, primary_slot_name '{}'; standby.signal",
                                   sc.name, pc, sc.name));
  plan.steps.push_back(fmt::format("create slot '{}' at {}; start {}; wait (at most {}s) until it streams", sc.name, pc,
                                   sc.name, request.wait_streaming));
  return plan;
}

}  // namespace rulekeeper::ops
