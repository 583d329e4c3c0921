// See rejoin_patroni.hpp.
#include "ops/rejoin_patroni.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/errors.hpp"
#include "common/files.hpp"
#include "common/json_file.hpp"
#include "common/poll.hpp"
#include "common/text.hpp"
#include "common/time.hpp"
#include "ops/control_lock.hpp"
#include "ops/failover.hpp"
#include "ops/patroni.hpp"
#include "ops/rejoin_plan.hpp"
#include "pgnode/process.hpp"
#include "site/client/failover.hpp"
#include "site/client/replication.hpp"
#include "site/connect.hpp"
#include "site/probe.hpp"
#include "site/server_error.hpp"
#include "site/topology.hpp"

namespace rulekeeper::ops {

namespace fs = std::filesystem;
namespace client = site::client;
using nlohmann::json;
using site::SiteState;
using std::chrono::milliseconds;

namespace {

milliseconds ms(double seconds) { return milliseconds(static_cast<long long>(seconds * 1000)); }

// Every member of the cluster that answers is in recovery (at least one
// answers). Members that do not answer cannot write either.
bool all_in_recovery(const std::vector<const config::SiteConfig*>& members, std::string& seen) {
  int answering = 0;
  std::vector<std::string> roles;
  for (const config::SiteConfig* m : members) {
    std::string err;
    auto c = site::try_connect(*m, err, 3);
    if (!c) {
      roles.push_back(m->name + " down");
      continue;
    }
    ++answering;
    const bool rec = client::in_recovery(*c);
    roles.push_back(m->name + (rec ? " read-only" : " WRITABLE"));
    if (!rec) {
      seen = fmt::format("{}", fmt::join(roles, ", "));
      return false;
    }
  }
  seen = fmt::format("{}", fmt::join(roles, ", "));
  return answering > 0;
}

// A standby_cluster section to PATCH: a null removes a key only where the
// cluster's configuration has one. Patroni stores a section that is new as
// it is, nulls included, and a null primary_slot_name then crashes its
// standby leader (Patroni 3.0.2: slot_name_from_member_name(None)).
json standby_section(const config::Config& config, const std::string& cluster, const json& wanted) {
  const json current = patroni::get_config(config, cluster).value("standby_cluster", json());
  json out = json::object();
  for (auto it = wanted.begin(); it != wanted.end(); ++it)
    if (!it.value().is_null() || (current.is_object() && current.contains(it.key()))) out[it.key()] = it.value();
  return out;
}

// Makes `cluster` a standby cluster with no upstream (Patroni demotes its
// leader) and waits until Patroni names a standby leader that answers
// read-only and every member that answers is read-only. Returns the leader.
std::string fence(const config::Config& config, const std::string& cluster,
                  const std::vector<const config::SiteConfig*>& members, Steps& steps, const std::string& again) {
  steps.begin(fmt::format("fence Patroni cluster {}{} (standby cluster with no upstream: read-only)", cluster, again));
  patroni::patch_config(config, cluster,
                        json{{"standby_cluster", standby_section(config, cluster,
                                                                 {{"restore_command", "false"},
                                                                  {"host", nullptr},
                                                                  {"port", nullptr},
                                                                  {"primary_slot_name", nullptr}})}});
  // Fenced: Patroni names a standby leader that answers read-only, and
  // every member that answers is read-only. (A cluster coming back may show
  // a member up as a replica before it elects its leader.)
  std::string roles;
  std::string leader;
  const bool fenced = common::poll_until(std::chrono::seconds(90), milliseconds(200), [&] {
    if (!all_in_recovery(members, roles)) return false;
    leader = patroni::member_with_role(patroni::cluster_view(config, cluster), "standby_leader");
    if (leader.empty()) {
      roles += "; no standby leader yet";
      return false;
    }
    const config::SiteConfig* l = config.find(leader);
    std::string err;
    auto c = l != nullptr ? site::try_connect(*l, err, 3) : nullptr;
    return c && client::in_recovery(*c);
  });
  if (!fenced) {
    steps.end("NOT fenced: " + roles);
    throw common::ExitError(common::exit_failed,
                            fmt::format("Patroni was asked to make cluster {} a standby cluster, but after 90s: {}; "
                                        "its standby_cluster section stays (no upstream): nothing else was done",
                                        cluster, roles));
  }
  steps.end(roles + "; standby leader " + leader);
  return leader;
}

// The timeline of a configured site's server, nullopt when it does not answer.
std::optional<long long> timeline_of(const config::Config& config, const std::string& name) {
  const config::SiteConfig* sc = config.find(name);
  if (sc == nullptr) return std::nullopt;
  const site::SiteState s = site::probe(*sc, site::ProbeDepth::role);
  return s.reachable ? s.timeline : std::nullopt;
}

}  // namespace

bool rejoin_through_patroni(const config::SiteConfig& site) { return patroni::managed(site); }

RejoinPlan plan_rejoin_patroni(const config::Config& config, const RejoinRequest& request,
                               const common::ProgressSink& progress) {
  const config::SiteConfig& sc = site::find_site(config, request.site);
  const std::string cluster = sc.patroni_cluster;
  RejoinPlan plan;
  plan.site = sc.name;
  progress.step("probe the E3 sites");
  std::vector<SiteState> all = site::probe_e3(config);
  SiteState* primary = nullptr;
  for (auto& s : all) {
    plan.probe.push_back(s.name + " " + s.role());
    if (s.config == &sc) plan.site_role = s.role();
    if (s.is_primary() && s.config->patroni_cluster != cluster) {
      if (primary != nullptr)
        throw common::ExitError(common::exit_refused,
                                fmt::format("{} and {} both accept writes (split brain outside {}): nothing was done",
                                            primary->name, s.name, cluster));
      primary = &s;
    }
  }
  if (primary == nullptr)
    throw common::ExitError(common::exit_unreachable,
                            fmt::format("no E3 site outside Patroni cluster {} accepts writes: nothing for {} to "
                                        "follow; nothing was done",
                                        cluster, sc.name));
  plan.primary = primary->name;
  plan.event = client::latest_failover_event(*primary->connection);
  if (!plan.event)
    throw common::ExitError(common::exit_refused,
                            fmt::format("{} holds no failover event: nothing says where {} diverged from it, so its "
                                        "orphaned changes cannot be told apart; nothing was done",
                                        primary->name, cluster));
  plan.changes_production = true;
  plan.orphans_note = "read once the cluster is fenced (until then it may take more)";
  plan.orphans_file = request.orphans.empty()
                          ? (fs::path(config.state_dir) / ("orphans-" + sc.name + "-<UTC>.json")).string()
                          : request.orphans;
  const auto [phost, pport] = patroni::address_of(*primary->config);
  plan.steps = {
      fmt::format("fence Patroni cluster {}: standby_cluster with no upstream (PATCH /config); wait until every "
                  "member that answers is read-only",
                  cluster),
      fmt::format("if its standby leader is on {}'s timeline ID with another history (promoted after it): Patroni "
                  "promotes it past that timeline and it is fenced again at once, so that Patroni can rewind it",
                  primary->name),
      fmt::format("export its changes beyond the divergence point from the standby leader to {}", plan.orphans_file),
      fmt::format("permanent slot '{}' for it at {}", cluster, primary->name),
      fmt::format("standby_cluster -> {}:{} (slot '{}'): Patroni rewinds it and it streams from {}", phost, pport,
                  cluster, primary->name)};
  return plan;
}

RejoinReport rejoin_patroni(const config::Config& config, const RejoinRequest& request,
                            const common::ProgressSink& progress) {
  const config::SiteConfig& sc = site::find_site(config, request.site);
  const std::string cluster = sc.patroni_cluster;
  const std::vector<const config::SiteConfig*> members = patroni::members(config, cluster);
  ControlLock lock(config, "rejoin");
  Steps steps(progress);
  RejoinReport report;
  report.site = sc.name;
  auto finish = [&] {
    report.steps = steps.list();
    report.total_seconds = steps.elapsed();
    return report;
  };

  steps.begin("probe the E3 sites");
  std::vector<SiteState> all = site::probe_e3(config);
  std::vector<std::string> seen;
  for (const auto& s : all) seen.push_back(s.name + " " + s.role());
  steps.end(fmt::format("{}", fmt::join(seen, ", ")));
  std::vector<SiteState*> primaries;
  for (auto& s : all)
    if (s.is_primary() && s.config->patroni_cluster != cluster) primaries.push_back(&s);
  if (primaries.empty())
    throw common::ExitError(common::exit_unreachable,
                            fmt::format("no E3 site outside Patroni cluster {} accepts writes: nothing for {} to "
                                        "follow; nothing was done",
                                        cluster, sc.name));
  if (primaries.size() > 1)
    throw common::ExitError(common::exit_refused,
                            fmt::format("{} and {} both accept writes (split brain outside {}): nothing was done",
                                        primaries[0]->name, primaries[1]->name, cluster));
  SiteState& primary = *primaries[0];
  const config::SiteConfig& pc = *primary.config;
  report.primary = pc.name;
  const auto [phost, pport] = patroni::address_of(pc);

  // Already a standby cluster of the primary, streaming: nothing to do.
  {
    const json conf = patroni::get_config(config, cluster);
    const json sb = conf.value("standby_cluster", json());
    bool streaming = false;
    for (const auto* m : members) streaming = streaming || client::streams_to(*primary.connection, m->name);
    if (sb.is_object() && sb.value("host", "") == phost && sb.contains("port") &&
        (sb["port"].is_string() ? sb["port"].get<std::string>() : sb["port"].dump()) == pport && streaming) {
      report.outcome = RejoinReport::Outcome::already_standby;
      report.timeline = primary.timeline.value_or(0);
      return finish();
    }
  }

  steps.begin(fmt::format("read the latest failover event at {}", pc.name));
  report.event = client::latest_failover_event(*primary.connection);
  if (!report.event) {
    steps.end("none");
    throw common::ExitError(common::exit_refused,
                            fmt::format("{} holds no failover event: nothing says where {} diverged from it, so its "
                                        "orphaned changes cannot be told apart; nothing was done",
                                        pc.name, cluster));
  }
  steps.end(fmt::format("{} -> {} at {} (timeline {}), divergence {}", report.event->old_site, report.event->new_site,
                        report.event->recorded_at, report.event->new_timeline,
                        common::parse_strict_json(report.event->divergence, "the divergence point").dump()));

  // 1. Fence: a standby cluster with no upstream. Patroni demotes the leader.
  std::string leader = fence(config, cluster, members, steps, "");

  // 2. A standby leader promoted after the primary was is on the primary's
  // timeline ID with another history: Patroni (and pg_rewind) compare the
  // IDs only and would never rewind it ("Two histories on one timeline" in
  // docs/failover.md). Patroni promotes it once more, to a timeline above
  // the primary's, and it is fenced again at once; Patroni then sees the
  // divergence and rewinds it. The orphans are captured after that, so a
  // write in between is captured too.
  const std::optional<long long> leader_timeline = timeline_of(config, leader);
  if (leader_timeline && primary.timeline && *leader_timeline == *primary.timeline) {
    steps.note(fmt::format("{} is on timeline {} like {}, with another history", leader, *leader_timeline, pc.name),
               "Patroni would not rewind it: it compares timeline IDs");
    steps.begin(
        fmt::format("Patroni promotes {} past timeline {} (standby_cluster removed)", leader, *primary.timeline));
    patroni::patch_config(config, cluster, json{{"standby_cluster", nullptr}});
    long long bumped = 0;  // 0: not answering
    const bool past = common::poll_until(std::chrono::seconds(60), milliseconds(100), [&] {
      bumped = timeline_of(config, leader).value_or(0);
      return bumped > *primary.timeline;
    });
    if (!past) {
      steps.end("NOT promoted");
      throw common::ExitError(common::exit_failed,
                              fmt::format("Patroni was asked to promote {} past timeline {} but after 60s it is on "
                                          "timeline {}; cluster {} is NOT fenced now (no standby_cluster section): "
                                          "run rejoin again",
                                          leader, *primary.timeline, bumped != 0 ? std::to_string(bumped) : "unknown",
                                          cluster));
    }
    steps.end(fmt::format("timeline {}", bumped));
    // pg_rewind (run by Patroni) compares the timeline of the control
    // file's last checkpoint, which a promotion moves only at its next
    // checkpoint: take it now, before Patroni demotes the leader.
    steps.begin(fmt::format("CHECKPOINT at {} (control file on timeline {})", leader, bumped));
    {
      const config::SiteConfig* l = config.find(leader);
      std::string err;
      auto c = l != nullptr ? site::try_connect(*l, err, 10) : nullptr;
      if (!c)
        throw common::ExitError(common::exit_unreachable,
                                fmt::format("{} does not answer for its CHECKPOINT ({}); cluster {} is NOT fenced now "
                                            "(no standby_cluster section): run rejoin again",
                                            leader, err, cluster));
      client::checkpoint(*c);
    }
    steps.end("done");
    leader = fence(config, cluster, members, steps, " again");
  }

  // 3. Orphans, read-only, from the standby leader (the member that was
  // the leader holds everything acknowledged: synchronous_mode).
  steps.begin(fmt::format("export {}'s changes beyond the divergence point", leader));
  std::string bundle_text;
  std::string from;
  {
    const config::SiteConfig* l = config.find(leader);
    std::string err;
    auto c = l != nullptr ? site::try_connect(*l, err, 10) : nullptr;
    if (!c)
      throw common::ExitError(common::exit_unreachable,
                              fmt::format("{}, the standby leader of {}, does not answer to export its orphans ({}); "
                                          "the cluster stays fenced",
                                          leader, cluster, err));
    if (!client::in_recovery(*c))
      throw common::ExitError(common::exit_refused,
                              fmt::format("{} accepts writes: refusing to read its orphans while it may take more",
                                          leader));
    try {
      bundle_text = client::export_changes(*c, report.event->divergence);
    } catch (const pqxx::failure& e) {
      throw site::sql_failure(fmt::format("export_changes at {}", leader), e);
    }
    from = leader;
  }
  const json bundle = common::parse_strict_json(bundle_text, fmt::format("export_changes at {}", from));
  report.orphans_file =
      request.orphans.empty()
          ? fs::path(config.state_dir) / fmt::format("orphans-{}-{}.json", sc.name, common::utc_now_compact())
          : fs::path(request.orphans);
  if (report.orphans_file.has_parent_path()) fs::create_directories(report.orphans_file.parent_path());
  common::write_durably(report.orphans_file, bundle_text + "\n");
  report.orphans = bundle["changes"];
  report.reconcile_command =
      fmt::format("rulectl reconcile --bundle {} --to {}", process::shell_quote(report.orphans_file.string()), pc.name);
  const std::size_t n = report.orphans.size();
  steps.end(fmt::format("{} change{} from {} -> {}", n, n == 1 ? "" : "s", from, report.orphans_file.string()));

  // 4. Follow the primary: Patroni rewinds the standby leader (use_pg_rewind).
  const std::string slot = cluster;
  if (patroni::managed(pc)) {
    steps.begin(fmt::format("permanent slot '{}' in Patroni cluster {}", slot, pc.patroni_cluster));
    patroni::patch_config(config, pc.patroni_cluster, json{{"slots", {{slot, {{"type", "physical"}}}}}});
    steps.end("");
  } else {
    steps.begin(fmt::format("create slot '{}' at {}", slot, pc.name));
    client::create_slot(*primary.connection, slot);
    steps.end("");
  }
  steps.begin(fmt::format("make {} a standby cluster of {} (host {}, port {}, slot '{}'): Patroni rewinds it", cluster,
                          pc.name, phost, pport, slot));
  patroni::patch_config(config, cluster,
                        json{{"standby_cluster", standby_section(config, cluster,
                                                                 {{"host", phost},
                                                                  {"port", std::stoi(pport)},
                                                                  {"primary_slot_name", slot},
                                                                  {"restore_command", nullptr}})}});
  steps.end("");
  steps.begin(fmt::format("wait until {} streams from {}", cluster, pc.name));
  std::string streaming_member;
  const bool streaming = common::poll_until(ms(request.wait_streaming), milliseconds(100), [&] {
    for (const auto* m : members)
      if (client::streams_to(*primary.connection, m->name)) {
        streaming_member = m->name;
        return true;
      }
    return false;
  });
  if (!streaming) {
    steps.end("NOT streaming");
    throw common::ExitError(common::exit_failed,
                            fmt::format("cluster {} was made a standby cluster of {} but no member streams from it "
                                        "after {}s (see Patroni's log); its orphans are in {}",
                                        cluster, pc.name, request.wait_streaming, report.orphans_file.string()));
  }
  steps.end(streaming_member + " streaming");
  report.rewind = "by Patroni (use_pg_rewind)";
  report.outcome = RejoinReport::Outcome::rejoined;
  return finish();
}

}  // namespace rulekeeper::ops
