// See at_risk.hpp.
#include "ops/at_risk.hpp"

#include <chrono>
#include <future>
#include <thread>
#include <memory>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "common/errors.hpp"
#include "rulekeeper/lifecycle.hpp"
#include "common/text.hpp"
#include "site/client/wal_position.hpp"
#include "site/connect.hpp"
#include "site/probe.hpp"
#include "site/topology.hpp"

namespace rulekeeper::ops {
namespace {

using nlohmann::json;

const config::SiteConfig& site_or_usage(const config::Config& config, const std::string& name, const char* flag) {
  const config::SiteConfig* s = config.find(name);
  if (s == nullptr) {
    std::vector<std::string> names;
    for (const auto& c : config.sites) names.push_back(c.name);
    throw common::ExitError(common::exit_usage, fmt::format("{} {}: no such site in {} (sites: {})", flag, name,
                                                            config.path, fmt::join(names, ", ")));
  }
  return *s;
}

json optional_text(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }

json change_json(const site::client::JournalEntry& e, bool received) {
  return {{"change_id", e.change_id},
          {"state", received ? "received_not_replayed" : "not_received"},
          {"at_risk", !received},
          {"origin_site", e.origin_site},
          {"origin_incarnation", e.origin_incarnation},
          {"origin_seq", e.origin_seq},
          {"kind", e.kind},
          {"rule_key", optional_text(e.rule_key)},
          {"label", optional_text(e.label)},
          {"recorded_at", e.recorded_at},
          {"recorded_lsn", optional_text(e.recorded_lsn)},
          {"origin", e.origin()}};
}

json slot_json(const site::client::PhysicalSlot& s) {
  return {{"restart_lsn", optional_text(s.restart_lsn)},
          {"active", s.active},
          {"wal_status", optional_text(s.wal_status)}};
}

const char* method_name(AtRiskMethod m) {
  switch (m) {
    case AtRiskMethod::version_vector: return "version_vector";
    case AtRiskMethod::slot_estimate: return "slot_estimate";
    case AtRiskMethod::unavailable: return "unavailable";
  }
  return "?";
}

}  // namespace

// Which listed entries the standby has received (see at_risk.hpp): all when
// it received up to the primary's position read after the list; else an
// entry whose transaction is followed, at or before R, by an entry of a
// later transaction (another recorded_at: now() is the transaction's start,
// the same for all its entries). Entries with no recorded_lsn (imported
// records) are proven only by the first rule.
std::vector<bool> proven_received(const std::vector<site::client::JournalEntry>& changes,
                                  const std::optional<std::string>& received, const std::string& primary_position) {
  using site::client::parse_lsn;
  std::vector<bool> out(changes.size(), false);
  const auto r = received ? parse_lsn(*received) : std::nullopt;
  if (!r) return out;
  const auto p = parse_lsn(primary_position);
  if (p && *r >= *p) return std::vector<bool>(changes.size(), true);
  for (std::size_t i = 0; i < changes.size(); ++i) {
    const auto li = changes[i].recorded_lsn ? parse_lsn(*changes[i].recorded_lsn) : std::nullopt;
    if (!li || *li >= *r) continue;
    for (const auto& later : changes) {
      const auto lj = later.recorded_lsn ? parse_lsn(*later.recorded_lsn) : std::nullopt;
      if (lj && *lj > *li && *lj <= *r && later.recorded_at != changes[i].recorded_at) {
        out[i] = true;
        break;
      }
    }
  }
  return out;
}

std::size_t AtRiskReport::not_received() const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < changes.size(); ++i)
    if (i >= received.size() || !received[i]) ++n;
  return n;
}

int AtRiskReport::exit_code() const { return at_risk() ? common::exit_refused : common::exit_ok; }

json AtRiskReport::to_json() const {
  json doc;
  doc["primary"] = primary;
  doc["standby"] = standby;
  doc["standby_reachable"] = standby_reachable;
  doc["method"] = method_name(method);
  doc["estimate"] = estimate();
  if (standby_reachable) {
    doc["standby_version_vector"] = json::parse(standby_version_vector ? standby_version_vector->to_json() : "{}");
    doc["standby_received_lsn"] = optional_text(standby_received_lsn);
    doc["standby_replayed_lsn"] = optional_text(standby_replayed_lsn);
    doc["replay_pause_state"] = replay_pause_state;
    doc["primary_wal_position"] = optional_text(primary_wal_position);
  } else {
    doc["standby_error"] = standby_error;
    if (!slot) {
      doc["slot"] = nullptr;
    } else {
      doc["slot"] = slot_json(*slot);
      if (method == AtRiskMethod::slot_estimate) doc["slot"]["slot_name"] = slot_name;
    }
  }
  doc["changes"] = json::array();
  for (std::size_t i = 0; i < changes.size(); ++i)
    doc["changes"].push_back(change_json(changes[i], i < received.size() && received[i]));
  // count: what a failover now would lose (issue #14 item 6); the entries
  // the standby received but has not replayed are listed, and kept.
  doc["count"] = not_received();
  doc["not_received"] = not_received();
  doc["received_not_replayed"] = received_not_replayed();
  doc["at_risk"] = at_risk();
  doc["notes"] = notes;
  return doc;
}

std::vector<AtRiskRequest> at_risk_requests(const config::Config& config, const AtRiskRequest& given) {
  if (given.standby.empty() && !given.slot.empty())
    throw common::ExitError(common::exit_usage, "--slot needs --standby (the slot is one standby's)");
  AtRiskRequest base = given;
  if (base.primary.empty()) base.primary = site::writer(config, site::kE3Primary, "find the E3 primary").name();
  if (!base.standby.empty()) return {base};
  std::vector<AtRiskRequest> requests;
  for (const config::SiteConfig* s : site::sites_of(config, std::string(to_string(Environment::e3)))) {
    if (s->name == base.primary) continue;
    AtRiskRequest r = base;
    r.standby = s->name;
    requests.push_back(r);
  }
  if (requests.empty())
    throw common::ExitError(common::exit_usage, fmt::format("no E3 site but {} in {}: nothing a failover could promote",
                                                            base.primary, config.path));
  return requests;
}

AtRiskReport at_risk(const config::Config& config, const AtRiskRequest& request) {
  namespace client = site::client;
  const config::SiteConfig& pc = site_or_usage(config, request.primary, "--primary");
  const config::SiteConfig& sc = site_or_usage(config, request.standby, "--standby");
  if (pc.name == sc.name) throw common::ExitError(common::exit_usage, "--primary and --standby name the same site");

  AtRiskReport report;
  report.primary = pc.name;
  report.standby = sc.name;
  report.slot_name = request.slot.empty() ? sc.name : request.slot;

  // Both connections at once: an unreachable site costs one timeout.
  auto connect = [](const config::SiteConfig* s) { return site::open(*s); };
  auto pf = std::async(std::launch::async, connect, &pc);
  auto sf = std::async(std::launch::async, connect, &sc);
  std::unique_ptr<pqxx::connection> standby_conn;
  try {
    standby_conn = sf.get();
  } catch (const common::ExitError&) {
    throw;  // a refusal (site/extension_check.hpp), not an unreachable site
  } catch (const std::exception& e) {
    report.standby_error = common::one_line(e.what());
  }
  std::unique_ptr<pqxx::connection> primary_conn;
  try {
    primary_conn = pf.get();
  } catch (const common::ExitError&) {
    throw;
  } catch (const std::exception& e) {
    throw common::ExitError(common::exit_unreachable,
                            fmt::format("primary {} is unreachable: what it holds cannot be listed ({}); "
                                        "`rulectl status` shows what the standby alone can tell",
                                        pc.name, common::one_line(e.what())));
  }
  if (client::in_recovery(*primary_conn))
    throw common::ExitError(common::exit_refused, fmt::format("{} is in recovery (a standby), not a primary", pc.name));

  report.standby_reachable = standby_conn != nullptr;
  if (standby_conn) {
    // The standby first: what replicates meanwhile is listed at worst once too often.
    report.method = AtRiskMethod::version_vector;
    report.standby_version_vector = client::version_vector(*standby_conn);
    if (!client::in_recovery(*standby_conn))
      report.notes.push_back(
          fmt::format("{} is not in recovery: it accepts writes (split brain?); listed is what "
                      "it lacks of {}'s journal",
                      sc.name, pc.name));
    report.changes = client::journal_since(*primary_conn, *report.standby_version_vector);
    // After the list: every listed entry's commit record lies before it.
    report.primary_wal_position = client::wal_insert_position(*primary_conn);
    // A streaming standby receives within milliseconds what the primary
    // wrote; the primary keeps writing (heartbeats), so ask the standby a
    // few times, briefly, whether it has reached that position.
    client::ReceivedWal wal = client::received_wal(*standby_conn);
    const auto target = client::parse_lsn(*report.primary_wal_position);
    for (int i = 0; i < 50 && !report.changes.empty() && target; ++i) {
      const auto got = wal.received_lsn ? client::parse_lsn(*wal.received_lsn) : std::nullopt;
      if (got && *got >= *target) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      wal = client::received_wal(*standby_conn);
    }
    report.standby_received_lsn = wal.received_lsn;
    report.standby_replayed_lsn = wal.replayed_lsn;
    report.replay_pause_state = wal.replay_pause_state;
    report.received = proven_received(report.changes, wal.received_lsn, *report.primary_wal_position);
    // Not proven received, though written before the received position:
    // said, and counted as at risk (never under-list).
    std::size_t unproven = 0;
    const auto r_at = wal.received_lsn ? client::parse_lsn(*wal.received_lsn) : std::nullopt;
    for (std::size_t i = 0; r_at && i < report.changes.size(); ++i) {
      const auto& l = report.changes[i].recorded_lsn;
      const auto at = l ? client::parse_lsn(*l) : std::nullopt;
      if (!report.received[i] && at && *at < *r_at) ++unproven;
    }
    if (unproven > 0)
      report.notes.push_back(fmt::format(
          "{} of the NOT RECEIVED changes {} written before {}'s received position ({}), but {} commit record may lie "
          "past it: not proven received, counted as at risk",
          unproven, unproven == 1 ? "was" : "were", sc.name, wal.received_lsn.value_or("?"),
          unproven == 1 ? "its" : "their"));
    if (report.received_not_replayed() > 0)
      report.notes.push_back(fmt::format(
          "{} of the listed changes {} received by {} (WAL up to {}) but not replayed{}: a promotion replays them "
          "first, they are not at risk",
          report.received_not_replayed(), report.received_not_replayed() == 1 ? "was" : "were", sc.name,
          wal.received_lsn.value_or("?"),
          wal.replay_pause_state == "not paused" ? "" : " (replay " + wal.replay_pause_state + ")"));
    return report;
  }

  report.slot = client::physical_slot(*primary_conn, report.slot_name);
  if (!report.slot || !report.slot->restart_lsn) {
    report.method = AtRiskMethod::unavailable;
    report.notes.push_back(
        fmt::format("{} is unreachable and {} has {} for it: what a failover would lose is UNKNOWN", sc.name, pc.name,
                    !report.slot ? fmt::format("no physical slot '{}'", report.slot_name)
                                 : fmt::format("slot '{}' without a restart_lsn", report.slot_name)));
    return report;
  }
  report.method = AtRiskMethod::slot_estimate;
  const std::string restart = *report.slot->restart_lsn;
  report.changes = client::journal_from_lsn(*primary_conn, restart);
  report.received.assign(report.changes.size(), false);
  report.notes.push_back(fmt::format(
      "ESTIMATE: {} is unreachable ({}); listed are {}'s journal entries written at or after the position of slot "
      "'{}' ({}), which certainly did not reach it; entries written just before that position may be missing too "
      "(their commit can come later)",
      sc.name, report.standby_error, pc.name, report.slot_name, restart));
  return report;
}

}  // namespace rulekeeper::ops
