// Site probing for `status`: each query separately in autocommit, so one
// missing function (an older extension) does not hide the rest.
#include "site/probe.hpp"

#include "common/text.hpp"

#include <cstdlib>
#include <future>

#include <fmt/format.h>
#include <pqxx/pqxx>

namespace rulekeeper::sites {
namespace {

// Runs one single-value query; on failure records a note and returns nullopt.
std::optional<std::string> value(pqxx::nontransaction& tx, SiteStatus& st, const std::string& what,
                                 const std::string& sql) {
  try {
    pqxx::result r = tx.exec(sql);
    if (r.empty() || r[0][0].is_null()) return std::nullopt;
    return std::string(r[0][0].c_str());
  } catch (const pqxx::broken_connection&) {
    throw;
  } catch (const std::exception& e) {
    st.notes.push_back(fmt::format("{}: {}", what, common::one_line(e.what())));
    return std::nullopt;
  }
}

}  // namespace

nlohmann::json row_to_json(const pqxx::row& row) {
  // Type OIDs of the built-in types (pg_type.h): stable across versions.
  constexpr pqxx::oid kBool = 16, kInt8 = 20, kInt2 = 21, kInt4 = 23, kFloat4 = 700,
                      kFloat8 = 701, kNumeric = 1700;
  nlohmann::json j = nlohmann::json::object();
  for (const auto& f : row) {
    const std::string name = f.name();
    if (f.is_null()) {
      j[name] = nullptr;
      continue;
    }
    switch (f.type()) {
      case kBool: j[name] = f.as<bool>(); break;
      case kInt2:
      case kInt4:
      case kInt8: j[name] = f.as<long long>(); break;
      case kFloat4:
      case kFloat8: j[name] = f.as<double>(); break;
      case kNumeric: {
        // Byte counts: integral in practice; keep exact when they are.
        const std::string text = f.c_str();
        if (text.find_first_of(".eE") == std::string::npos)
          j[name] = std::stoll(text);
        else
          j[name] = std::stod(text);
        break;
      }
      default: j[name] = std::string(f.c_str());
    }
  }
  return j;
}

std::string SiteStatus::role() const {
  if (!reachable) return "unreachable";
  if (!in_recovery) return "unknown";
  return *in_recovery ? "standby" : "primary";
}

nlohmann::json SiteStatus::to_json() const {
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
  j["error"] = error.empty() ? nlohmann::json(nullptr) : nlohmann::json(error);
  j["reported_site"] = opt(reported_site);
  j["reported_environment"] = opt(reported_environment);
  j["in_recovery"] = opt(in_recovery);
  j["timeline"] = opt(timeline);
  j["timeline_source"] = timeline_source.empty() ? nlohmann::json(nullptr) : nlohmann::json(timeline_source);
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
  j["replication_status"] = replication;
  j["notes"] = notes;
  return j;
}

SiteStatus probe(const config::SiteConfig& site) {
  SiteStatus st;
  st.name = site.name;
  st.environment = site.environment;
  st.dr = site.dr;
  try {
    auto c = std::make_shared<pqxx::connection>(site.conninfo);
    st.reachable = true;
    pqxx::nontransaction tx(*c);
    st.reported_site = value(tx, st, "rulekeeper.site", "SELECT current_setting('rulekeeper.site', true)");
    st.reported_environment =
        value(tx, st, "rulekeeper.environment", "SELECT current_setting('rulekeeper.environment', true)");
    if (auto r = value(tx, st, "pg_is_in_recovery()", "SELECT pg_is_in_recovery()"))
      st.in_recovery = (*r == "t");
    st.server_version = value(tx, st, "server_version", "SHOW server_version");
    st.extension_version = value(tx, st, "extension",
                                 "SELECT extversion FROM pg_extension WHERE extname = 'rulekeeper'");
    if (st.extension_version) {
      if (auto t = value(tx, st, "rulekeeper.timeline()", "SELECT rulekeeper.timeline()")) {
        st.timeline = std::stoll(*t);
        st.timeline_source = "rulekeeper.timeline()";
      }
      st.version_vector =
          value(tx, st, "rulekeeper.version_vector()", "SELECT rulekeeper.version_vector()::text");
      st.snapshot_checksum = value(tx, st, "rulekeeper.snapshot_checksum()",
                                   "SELECT rulekeeper.snapshot_checksum('all')");
      try {
        for (const auto& row : tx.exec("SELECT * FROM rulekeeper.replication_status"))
          st.replication.push_back(row_to_json(row));
      } catch (const pqxx::broken_connection&) {
        throw;
      } catch (const std::exception& e) {
        st.notes.push_back("rulekeeper.replication_status: " + common::one_line(e.what()));
      }
    } else {
      st.notes.push_back("extension rulekeeper is not installed in this database");
    }
    if (!st.timeline) {
      // Lags a promotion until the end-of-recovery checkpoint (POSTGRES-NOTES
      // "Timelines"), but better than nothing without the extension.
      if (auto t = value(tx, st, "pg_control_checkpoint()",
                         "SELECT timeline_id FROM pg_control_checkpoint()")) {
        st.timeline = std::stoll(*t);
        st.timeline_source = "pg_control_checkpoint()";
      }
    }
    tx.commit();
    st.connection = std::move(c);
  } catch (const std::exception& e) {
    if (!st.reachable) {
      st.error = common::one_line(e.what());
    } else {
      st.notes.push_back("connection lost: " + common::one_line(e.what()));
    }
  }
  return st;
}

std::vector<SiteStatus> probe_all(const config::Config& config) {
  ::setenv("PGCONNECT_TIMEOUT", "3", 0);  // before any thread starts
  std::vector<std::future<SiteStatus>> futures;
  for (const auto& site : config.sites)
    futures.push_back(std::async(std::launch::async, [&site] { return probe(site); }));
  std::vector<SiteStatus> out;
  for (auto& f : futures) out.push_back(f.get());
  return out;
}

std::vector<const SiteStatus*> writable_e3(const std::vector<SiteStatus>& sites) {
  std::vector<const SiteStatus*> out;
  for (const auto& s : sites)
    if (s.reachable && s.environment == "e3" && s.in_recovery && !*s.in_recovery) out.push_back(&s);
  return out;
}

std::vector<std::string> warnings(const std::vector<SiteStatus>& sites) {
  std::vector<std::string> out;
  std::vector<const SiteStatus*> writable = writable_e3(sites);
  for (const auto& s : sites) {
    if (!s.reachable) continue;
    if (!s.reported_site || s.reported_site->empty())
      out.push_back(fmt::format("site {}: the server has no rulekeeper.site set", s.name));
    else if (*s.reported_site != s.name)
      out.push_back(fmt::format("site {}: the server says rulekeeper.site = '{}' (rulectl.toml calls it '{}')",
                                s.name, *s.reported_site, s.name));
    if (s.reported_environment && !s.reported_environment->empty() &&
        *s.reported_environment != s.environment)
      out.push_back(fmt::format("site {}: the server says rulekeeper.environment = '{}' (rulectl.toml says '{}')",
                                s.name, *s.reported_environment, s.environment));
  }
  if (writable.size() > 1) {
    std::vector<std::string> names;
    for (const auto* s : writable)
      names.push_back(fmt::format("{} (timeline {})", s->name,
                                  s->timeline ? std::to_string(*s->timeline) : "?"));
    out.push_back(fmt::format("split brain: more than one E3 site accepts writes: {}",
                              fmt::join(names, ", ")));
  }
  return out;
}

}  // namespace rulekeeper::sites
