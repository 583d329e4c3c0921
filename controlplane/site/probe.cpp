// See probe.hpp. Each question is its own statement in autocommit (the
// client's functions), so one missing function costs one answer.
#include "site/probe.hpp"

#include <future>

#include <fmt/format.h>

#include "common/text.hpp"
#include "rulekeeper/lifecycle.hpp"
#include "site/client/compare.hpp"
#include "site/client/replication.hpp"
#include "site/client/server_state.hpp"
#include "site/client/sync_replication.hpp"
#include "site/connect.hpp"
#include "site/deadline.hpp"
#include "site/conninfo.hpp"

namespace rulekeeper::site {
namespace {

const std::string kE3(to_string(Environment::e3));

// Runs one question; a failure other than a lost connection becomes a note.
template <class F>
auto ask(SiteState& st, const std::string& what, F question) -> decltype(question()) {
  try {
    return question();
  } catch (const pqxx::broken_connection&) {
    throw;
  } catch (const std::exception& e) {
    st.notes.push_back(fmt::format("{}: {}", what, common::one_line(e.what())));
    return {};
  }
}

void read_upstream(SiteState& st, pqxx::connection& c) {
  client::WalReceiver w = ask(st, "pg_stat_wal_receiver", [&] { return client::wal_receiver(c); });
  st.wal_receiver = w.status;
  if (!w.sender_host.empty()) {
    st.upstream_host = w.sender_host;
    st.upstream_port = w.sender_port;
    st.upstream_from = "wal receiver";
    return;
  }
  // No live WAL receiver: what it is set to follow. Only superusers (and
  // pg_read_all_settings) may read it; silence otherwise.
  try {
    if (auto pc = client::primary_conninfo(c)) {
      auto kw = conninfo::parse(*pc, st.name + " (its primary_conninfo)");
      st.upstream_host = kw.count("hostaddr") ? kw["hostaddr"] : kw.count("host") ? kw["host"] : "";
      st.upstream_port = kw.count("port") ? kw["port"] : "5432";
      st.upstream_from = "primary_conninfo";
    }
  } catch (const pqxx::broken_connection&) {
    throw;
  } catch (const std::exception&) {
  }
}

}  // namespace

std::string SiteState::role() const {
  if (!reachable) return refused ? "refused" : "unreachable";
  if (!recovery) return "unknown";
  return *recovery ? "standby" : "primary";
}

std::string SiteState::effective_environment() const {
  return reported_environment && !reported_environment->empty() ? *reported_environment : environment;
}

nlohmann::json SiteState::to_json() const {
  auto opt = [](const auto& o) -> nlohmann::json {
    if (o) return *o;
    return nullptr;
  };
  nlohmann::json j;
  j["site"] = name;
  j["environment"] = environment;
  j["dr"] = dr;
  j["reachable"] = reachable;
  j["role"] = role();
  j["refused_by_server"] = refused;
  j["error"] = error.empty() ? nlohmann::json(nullptr) : nlohmann::json(error);
  j["reported_site"] = opt(reported_site);
  j["reported_environment"] = opt(reported_environment);
  j["in_recovery"] = opt(recovery);
  j["timeline"] = opt(timeline);
  j["timeline_source"] = timeline_source.empty() ? nlohmann::json(nullptr) : nlohmann::json(timeline_source);
  j["system_identifier"] = opt(system_identifier);
  j["server_started"] = opt(server_started);
  j["same_server_as"] = same_server_as.empty() ? nlohmann::json(nullptr) : nlohmann::json(same_server_as);
  j["server_version"] = opt(server_version);
  j["extension_version"] = opt(extension_version);
  if (version_vector) {
    // jsonb text from the server is valid JSON; keep it as a JSON value.
    nlohmann::json v = nlohmann::json::parse(*version_vector, nullptr, false);
    j["version_vector"] = v.is_discarded() ? nlohmann::json(*version_vector) : v;
  } else {
    j["version_vector"] = nullptr;
  }
  j["snapshot_checksum"] = opt(snapshot_checksum);
  if (chain_heads) {
    nlohmann::json v = nlohmann::json::parse(*chain_heads, nullptr, false);
    j["chain_heads"] = v.is_discarded() ? nlohmann::json(*chain_heads) : v;
  } else {
    j["chain_heads"] = nullptr;
  }
  j["replication_status"] = replication;
  j["synchronous_standby_names"] = opt(synchronous_standby_names);
  j["sync_rep_waiting"] = opt(sync_rep_waiting);
  j["sync_rep_oldest_seconds"] = opt(sync_rep_oldest_seconds);
  j["notes"] = notes;
  return j;
}

SiteState probe(const config::SiteConfig& site, ProbeDepth depth) {
  SiteState st;
  st.config = &site;
  st.name = site.name;
  st.environment = site.environment;
  st.dr = site.dr;
  ConnectFailure failure;
  std::unique_ptr<pqxx::connection> owned = try_connect(site, failure);
  if (!owned) {
    st.error = failure.message;
    st.refused = failure.refused();
    return st;
  }
  std::shared_ptr<pqxx::connection> c(std::move(owned));
  st.reachable = true;
  // The probe's statements together are bounded from the client side
  // (issue #14 item 2): a server frozen after it accepted the connection
  // costs kStatementDeadline, not forever.
  StatementDeadline guard(*c, kStatementDeadline);
  try {
    try {
      st.recovery = client::in_recovery(*c);
    } catch (const pqxx::broken_connection&) {
      throw;
    } catch (const std::exception& e) {
      st.error = "connected, but could not read its role: " + common::one_line(e.what());
    }
    st.reported_site = ask(st, "rulekeeper.site", [&] { return client::setting(*c, "rulekeeper.site"); });
    st.reported_environment =
        ask(st, "rulekeeper.environment", [&] { return client::setting(*c, "rulekeeper.environment"); });
    st.system_identifier = ask(st, "system identifier", [&] { return client::system_identifier(*c); });
    st.server_started = ask(st, "pg_postmaster_start_time()", [&] { return client::postmaster_started(*c); });
    if (depth == ProbeDepth::full) {
      st.server_version = ask(st, "server_version", [&] { return client::server_version(*c); });
      st.extension_version = ask(st, "extension", [&] { return client::extension_version(*c); });
    }
    const bool has_extension = depth == ProbeDepth::role || st.extension_version.has_value();
    if (has_extension) {
      try {
        st.timeline = client::extension_timeline(*c);
        if (st.timeline) st.timeline_source = "rulekeeper.timeline()";
      } catch (const pqxx::broken_connection&) {
        throw;
      } catch (const std::exception& e) {
        // Role probes do not know yet whether the extension is there: its
        // absence is not worth a note there, the fallback below answers.
        if (depth == ProbeDepth::full) st.notes.push_back("rulekeeper.timeline(): " + common::one_line(e.what()));
      }
    }
    if (!st.timeline) {
      // Lags a promotion until the end-of-recovery checkpoint
      // (docs/design/postgres-traps.md "Timelines"), but better than nothing.
      st.timeline = ask(st, "pg_control_checkpoint()", [&] { return client::checkpoint_timeline(*c); });
      if (st.timeline) st.timeline_source = "pg_control_checkpoint()";
    }
    if (st.recovery && *st.recovery) read_upstream(st, *c);
    if (depth == ProbeDepth::full) {
      ask(st, "synchronous replication", [&] {
        st.synchronous_standby_names = client::synchronous_standby_names(*c).value;
        const client::SyncRepWaits w = client::sync_rep_waits(*c);
        st.sync_rep_waiting = w.count;
        st.sync_rep_oldest_seconds = w.oldest_seconds;
        return 0;
      });
      if (st.extension_version) {
        st.version_vector = ask(st, "rulekeeper.version_vector()", [&] { return client::version_vector_text(*c); });
        st.snapshot_checksum = ask(st, "rulekeeper.snapshot_checksum()",
                                   [&] { return std::optional<std::string>(client::snapshot_checksum(*c, "all")); });
        st.chain_heads = ask(st, "rulekeeper.chain_heads()", [&] { return client::chain_heads_text(*c); });
        nlohmann::json rows = ask(st, "rulekeeper.replication_status", [&] { return client::replication_status(*c); });
        if (rows.is_array()) st.replication = std::move(rows);
      } else {
        st.notes.push_back("extension rulekeeper is not installed in this database");
      }
    }
    if (!guard.expired()) st.connection = std::move(c);
  } catch (const std::exception& e) {
    const std::string why = guard.expired() ? "connected, then " + guard.message() : common::one_line(e.what());
    st.notes.push_back("connection lost: " + why);
    if (!st.recovery) {
      // Connected but no answer: as unreachable as a site that never
      // answered, so status and watch report it alike.
      st.reachable = false;
      st.error = guard.expired() ? why : "connection lost: " + why;
    }
  }
  return st;
}

std::vector<SiteState> probe_all(const std::vector<const config::SiteConfig*>& sites, ProbeDepth depth) {
  std::vector<std::future<SiteState>> futures;
  for (const auto* site : sites)
    futures.push_back(std::async(std::launch::async, [site, depth] { return probe(*site, depth); }));
  std::vector<SiteState> out;
  for (auto& f : futures) out.push_back(f.get());
  // One server reached through two sites' conninfos (multi-host conninfo,
  // virtual IP): the site it says it is stands for it, the other points there.
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (!out[i].same_server_as.empty()) continue;
    std::vector<std::size_t> group{i};
    for (std::size_t j = i + 1; j < out.size(); ++j)
      if (out[j].same_server_as.empty() && same_server(out[i], out[j])) group.push_back(j);
    if (group.size() < 2) continue;
    std::size_t keep = group[0];
    for (std::size_t k : group)
      if (out[k].reported_site && *out[k].reported_site == out[k].name) keep = k;
    for (std::size_t k : group)
      if (k != keep) out[k].same_server_as = out[keep].name;
  }
  return out;
}

bool same_server(const SiteState& a, const SiteState& b) {
  return a.reachable && b.reachable && a.reported_site && b.reported_site && !a.reported_site->empty() &&
         *a.reported_site == *b.reported_site && a.system_identifier && b.system_identifier &&
         *a.system_identifier == *b.system_identifier && a.server_started && b.server_started &&
         *a.server_started == *b.server_started;
}

std::string server_behind(const SiteState& s) {
  if (!s.reachable || !s.reported_site || s.reported_site->empty() || *s.reported_site == s.name) return "";
  return fmt::format(
      "site {}: the server behind its conninfo is site {} (rulekeeper.site = '{}', system identifier "
      "{}, {}){}",
      s.name, *s.reported_site, *s.reported_site, s.system_identifier.value_or("unknown"), s.role(),
      s.same_server_as.empty()
          ? ""
          : fmt::format(": the same server as site {}'s conninfo reaches, counted once", s.same_server_as));
}

std::vector<SiteState> probe_all(const config::Config& config, ProbeDepth depth) {
  std::vector<const config::SiteConfig*> all;
  for (const auto& s : config.sites) all.push_back(&s);
  return probe_all(all, depth);
}

std::vector<const config::SiteConfig*> sites_of(const config::Config& config, const std::string& environment) {
  std::vector<const config::SiteConfig*> out;
  for (const auto& s : config.sites)
    if (s.environment == environment) out.push_back(&s);
  return out;
}

std::vector<SiteState> probe_e3(const config::Config& config) {
  return probe_all(sites_of(config, kE3), ProbeDepth::role);
}

std::string upstream_site(const config::Config& config, const SiteState& s) {
  if (s.upstream_port.empty()) return "";
  const config::SiteConfig* up = conninfo::site_at(config, s.upstream_host, s.upstream_port, s.name);
  return up ? up->name : "";
}

std::vector<const SiteState*> writable_e3(const std::vector<SiteState>& sites) {
  std::vector<const SiteState*> out;
  for (const auto& s : sites)
    if (s.environment == kE3 && s.is_primary() && s.same_server_as.empty()) out.push_back(&s);
  return out;
}

std::string environment_mismatch(const SiteState& s) {
  if (!s.reachable || !s.reported_environment || s.reported_environment->empty() ||
      *s.reported_environment == s.environment)
    return "";
  return fmt::format(
      "site {}: the server says rulekeeper.environment = '{}' but rulectl.toml says environment = \"{}\": a "
      "configuration mistake (fix sites.{}.environment or its conninfo); nothing was done there",
      s.name, *s.reported_environment, s.environment, s.name);
}

std::vector<std::string> configuration_errors(const std::vector<SiteState>& sites) {
  std::vector<std::string> out;
  for (const auto& s : sites)
    if (std::string m = environment_mismatch(s); !m.empty()) out.push_back(std::move(m));
  return out;
}

std::vector<std::string> warnings(const std::vector<SiteState>& sites) {
  std::vector<std::string> out;
  for (const auto& s : sites) {
    if (!s.reachable) continue;
    if (!s.reported_site || s.reported_site->empty())
      out.push_back(fmt::format("site {}: the server has no rulekeeper.site set", s.name));
    else if (*s.reported_site != s.name)
      out.push_back(server_behind(s));
    else if (!s.same_server_as.empty())
      out.push_back(fmt::format("site {}: its conninfo reaches the same server as site {}'s, counted once", s.name,
                                s.same_server_as));
  }
  std::vector<const SiteState*> writable = writable_e3(sites);
  if (writable.size() > 1) {
    std::vector<std::string> names;
    for (const auto* s : writable)
      names.push_back(fmt::format("{} (timeline {})", s->name, s->timeline ? std::to_string(*s->timeline) : "?"));
    out.push_back(fmt::format("split brain: more than one E3 site accepts writes: {}", fmt::join(names, ", ")));
  }
  return out;
}

}  // namespace rulekeeper::site
