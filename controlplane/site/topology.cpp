// Site resolution for writing verbs, SQLSTATE -> exit code, and the bounded
// wait for replication by version vectors. See resolve.hpp.
#include "common/text.hpp"
#include "site/topology.hpp"

#include <chrono>
#include <cstdlib>
#include <future>
#include <iostream>
#include <thread>

#include <fmt/format.h>

#include "common/output.hpp"
#include "site/probe.hpp"

namespace rulekeeper::resolve {
namespace {

using nlohmann::json;

// One E3 site as a write resolution sees it.
struct Probe {
  Site site;
  bool reachable = false;
  std::string error;  // why not reachable / why its role is unknown
};

Probe probe(const config::SiteConfig& cfg) {
  Probe p;
  p.site.config = &cfg;
  try {
    p.site.conn = std::make_unique<pqxx::connection>(cfg.conninfo);
    p.reachable = true;
    pqxx::nontransaction tx(*p.site.conn);
    pqxx::result r = tx.exec("SELECT pg_is_in_recovery(), "
                             "coalesce(current_setting('rulekeeper.environment', true), '')");
    p.site.in_recovery = r[0][0].as<bool>();
    p.site.reported_environment = r[0][1].c_str();
    try {
      pqxx::result t = tx.exec("SELECT rulekeeper.timeline()");
      if (!t[0][0].is_null()) p.site.timeline = t[0][0].as<long long>();
    } catch (const pqxx::broken_connection&) {
      throw;
    } catch (const pqxx::sql_error&) {
      // No extension there: the checkpoint's timeline (lags a promotion).
      pqxx::result t = tx.exec("SELECT timeline_id FROM pg_control_checkpoint()");
      p.site.timeline = t[0][0].as<long long>();
    }
  } catch (const std::exception& e) {
    if (!p.reachable) {
      p.error = common::one_line(e.what());
      p.site.conn.reset();
    } else {
      // Reachable, but we cannot tell its role: not a site to write at.
      p.reachable = false;
      p.error = "connected, but could not read its role: " + common::one_line(e.what());
      p.site.conn.reset();
    }
  }
  return p;
}

std::string timeline_text(const Site& s) {
  return s.timeline ? std::to_string(*s.timeline) : "?";
}

}  // namespace

void default_connect_timeout() { ::setenv("PGCONNECT_TIMEOUT", "3", 0); }

std::unique_ptr<pqxx::connection> connect(const config::SiteConfig& site) {
  default_connect_timeout();
  try {
    return std::make_unique<pqxx::connection>(site.conninfo);
  } catch (const std::exception& e) {
    throw common::ExitError(common::exit_unreachable,
                     fmt::format("site {} is unreachable: {}", site.name, common::one_line(e.what())));
  }
}

const config::SiteConfig& find_site(const config::Config& config, const std::string& name) {
  if (const config::SiteConfig* s = config.find(name)) return *s;
  std::vector<std::string> names;
  for (const auto& s : config.sites) names.push_back(s.name);
  throw common::ExitError(common::exit_usage, fmt::format("no site '{}' in {} (sites: {}; or e3 for the E3 primary)", name,
                                                config.path, fmt::join(names, ", ")));
}

Site reader(const config::Config& config, const std::string& name) {
  const config::SiteConfig& cfg = find_site(config, name);
  Probe p = probe(cfg);
  if (!p.reachable)
    throw common::ExitError(p.error.rfind("connected", 0) == 0 ? common::exit_failed : common::exit_unreachable,
                     fmt::format("site {}: {}", name, p.error));
  return std::move(p.site);
}

Site writer(const config::Config& config, const std::string& name, const std::string& action) {
  default_connect_timeout();
  const bool want_primary = (name == "e3" && config.find("e3") == nullptr);
  const config::SiteConfig* named = want_primary ? nullptr : &find_site(config, name);

  if (named != nullptr && named->environment != "e3") {
    Probe p = probe(*named);
    if (!p.reachable) throw common::ExitError(common::exit_unreachable, fmt::format("site {} is unreachable: {}", name, p.error));
    if (p.site.in_recovery)
      throw common::ExitError(common::exit_refused,
                       fmt::format("site {} is a standby (in recovery) and takes no writes; {} needs its primary",
                                   name, action));
    return std::move(p.site);
  }

  // E3: look at every E3 site at once (an unreachable one costs one timeout).
  std::vector<const config::SiteConfig*> e3;
  for (const auto& s : config.sites)
    if (s.environment == "e3") e3.push_back(&s);
  if (e3.empty())
    throw common::ExitError(common::exit_usage, fmt::format("{} has no site with environment = \"e3\"", config.path));
  std::vector<std::future<Probe>> futures;
  for (const auto* s : e3) futures.push_back(std::async(std::launch::async, [s] { return probe(*s); }));
  std::vector<Probe> probes;
  for (auto& f : futures) probes.push_back(f.get());

  std::vector<Probe*> writable;
  std::vector<std::string> unreachable, standbys;
  for (auto& p : probes) {
    if (!p.reachable)
      unreachable.push_back(fmt::format("{} ({})", p.site.name(), p.error));
    else if (p.site.in_recovery)
      standbys.push_back(p.site.name());
    else
      writable.push_back(&p);
  }
  if (writable.size() > 1) {
    std::vector<std::string> both;
    for (const auto* w : writable) both.push_back(fmt::format("{} (timeline {})", w->site.name(), timeline_text(w->site)));
    throw common::ExitError(common::exit_refused,
                     fmt::format("split brain: more than one E3 site accepts writes: {}; refusing to {} at E3 "
                                 "until only one does (rejoin the old primary as a standby)",
                                 fmt::join(both, ", "), action));
  }
  Probe* primary = writable.empty() ? nullptr : writable[0];

  if (want_primary) {
    if (primary != nullptr) return std::move(primary->site);
    if (!unreachable.empty())
      throw common::ExitError(common::exit_unreachable,
                       fmt::format("no reachable E3 site accepts writes (unreachable: {}{}{}); cannot {}",
                                   fmt::join(unreachable, "; "), standbys.empty() ? "" : "; standbys: ",
                                   fmt::join(standbys, ", "), action));
    throw common::ExitError(common::exit_refused,
                     fmt::format("no E3 site accepts writes: every E3 site is in recovery ({}); cannot {}",
                                 fmt::join(standbys, ", "), action));
  }

  for (auto& p : probes) {
    if (p.site.config != named) continue;
    if (!p.reachable)
      throw common::ExitError(common::exit_unreachable, fmt::format("site {} is unreachable: {}", name, p.error));
    if (p.site.in_recovery) {
      std::string where = primary != nullptr
                              ? fmt::format("the E3 primary is {} (use --site {} or --site e3)",
                                            primary->site.name(), primary->site.name())
                              : std::string("no E3 site accepts writes now");
      throw common::ExitError(common::exit_refused,
                       fmt::format("site {} is a standby (in recovery) and takes no writes; {}; {} refused",
                                   name, where, action));
    }
    return std::move(p.site);
  }
  throw common::ExitError(common::exit_failed, "internal: the named site was not probed");  // not reached
}

std::string sqlstate_of(const pqxx::failure& e) {
  // libpqxx 6.4: the 40xxx errors (transaction_rollback and its children) are
  // not sql_errors and carry no SQLSTATE; their class tells it.
  if (const auto* q = dynamic_cast<const pqxx::sql_error*>(&e)) return q->sqlstate();
  if (dynamic_cast<const pqxx::serialization_failure*>(&e) != nullptr) return "40001";
  if (dynamic_cast<const pqxx::deadlock_detected*>(&e) != nullptr) return "40P01";
  if (dynamic_cast<const pqxx::statement_completion_unknown*>(&e) != nullptr) return "40003";
  if (dynamic_cast<const pqxx::transaction_rollback*>(&e) != nullptr) return "40000";
  return "";
}

common::ExitCode exit_code_for(const pqxx::failure& e) {
  const std::string s = sqlstate_of(e);
  if (s.size() == 5 && s.compare(0, 2, "23") == 0) return common::exit_refused;
  if (s == "55000" || s == "40001" || s == "XX001" || s == "0A000" || s == "25006") return common::exit_refused;
  return common::exit_failed;
}

std::string server_message(const pqxx::failure& e) {
  // libpq's text: "ERROR:  msg\nDETAIL:  …\nHINT:  …\nCONTEXT:  …" (lines of
  // a field may continue). Keep the message, detail and hint.
  std::string text = e.what(), out, field;
  std::size_t pos = 0;
  auto flush = [&] {
    if (field.empty()) return;
    if (!out.empty()) out += " ";
    out += field;
    field.clear();
  };
  bool keep = true;
  while (pos <= text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text.size() + 1 : nl + 1;
    auto starts = [&](const char* p) { return line.rfind(p, 0) == 0; };
    if (starts("ERROR:") || starts("FATAL:")) {
      flush();
      keep = true;
      field = common::one_line(line.substr(line.find(':') + 1));
      while (!field.empty() && field.front() == ' ') field.erase(0, 1);
    } else if (starts("DETAIL:") || starts("HINT:")) {
      flush();
      keep = true;
      std::string tag = starts("HINT:") ? "(hint: " : "(detail: ";
      std::string rest = common::one_line(line.substr(line.find(':') + 1));
      while (!rest.empty() && rest.front() == ' ') rest.erase(0, 1);
      field = tag + rest + ")";
    } else if (starts("CONTEXT:") || starts("LINE ") || starts("QUERY:") || starts("STATEMENT:")) {
      flush();
      keep = false;
    } else if (keep && !line.empty()) {
      if (!field.empty() && field.back() == ')') field.pop_back(), field += " " + common::one_line(line) + ")";
      else field += " " + common::one_line(line);
    }
  }
  flush();
  return out.empty() ? common::one_line(e.what()) : out;
}

common::ExitError sql_failure(const std::string& what, const pqxx::failure& e) {
  return common::ExitError(exit_code_for(e), fmt::format("{}: {} [SQLSTATE {}]", what, server_message(e), sqlstate_of(e)));
}

VersionVector parse_vector(const std::string& text) {
  VersionVector v;
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return v;
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.value().is_number_integer()) v[it.key()] = it.value().get<long long>();
  return v;
}

std::vector<std::string> missing(const VersionVector& have, const VersionVector& want) {
  std::vector<std::string> out;
  for (const auto& [origin, seq] : want) {
    auto it = have.find(origin);
    long long h = it == have.end() ? 0 : it->second;
    if (h < seq) out.push_back(fmt::format("{} needs {}, has {}", origin, seq, h));
  }
  return out;
}

json wait_replicated(const config::Config& config, const std::string& primary, const VersionVector& want,
                     double seconds, std::string& summary) {
  using clock = std::chrono::steady_clock;
  const config::SiteConfig& pcfg = find_site(config, primary);
  struct Other {
    const config::SiteConfig* cfg;
    std::unique_ptr<pqxx::connection> conn;
    bool replicated = false;
    std::string why = "not checked yet";
  };
  std::vector<Other> others;
  for (const auto& s : config.sites)
    if (s.environment == pcfg.environment && s.name != primary) others.push_back({&s, nullptr});

  json report;
  report["sites"] = json::array();
  if (others.empty()) {
    summary = fmt::format("no other {} site to replicate to", pcfg.environment);
    report["replicated"] = true;
    report["waited_seconds"] = 0.0;
    return report;
  }

  const auto start = clock::now();
  const auto deadline = start + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(seconds));
  auto next_progress = start + std::chrono::seconds(1);
  common::Progress progress;
  for (;;) {
    bool all = true;
    for (auto& o : others) {
      if (o.replicated) continue;
      try {
        if (!o.conn) o.conn = std::make_unique<pqxx::connection>(o.cfg->conninfo);
        pqxx::nontransaction tx(*o.conn);
        pqxx::result r = tx.exec("SELECT rulekeeper.version_vector()::text");
        auto miss = missing(parse_vector(r[0][0].c_str()), want);
        if (miss.empty()) {
          o.replicated = true;
          o.why = "holds every change of the commit";
        } else {
          o.why = fmt::format("missing {}", fmt::join(miss, "; "));
        }
      } catch (const pqxx::broken_connection& e) {
        o.conn.reset();
        o.why = "unreachable: " + common::one_line(e.what());
      } catch (const pqxx::failure& e) {
        o.why = "version_vector() failed: " + server_message(e);
      } catch (const std::exception& e) {
        o.conn.reset();
        o.why = "unreachable: " + common::one_line(e.what());
      }
      all = all && o.replicated;
    }
    const auto now = clock::now();
    if (all || now >= deadline) break;
    if (now >= next_progress) {
      std::vector<std::string> waiting;
      for (const auto& o : others)
        if (!o.replicated) waiting.push_back(fmt::format("{} ({})", o.cfg->name, o.why));
      progress.step(fmt::format("waiting for replication from {}: {}", primary, fmt::join(waiting, ", ")));
      next_progress += std::chrono::seconds(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  std::vector<std::string> ok, not_ok;
  bool all = true;
  for (const auto& o : others) {
    report["sites"].push_back({{"site", o.cfg->name}, {"replicated", o.replicated}, {"why", o.why}});
    if (o.replicated)
      ok.push_back(o.cfg->name);
    else
      not_ok.push_back(fmt::format("{} ({})", o.cfg->name, o.why));
    all = all && o.replicated;
  }
  report["replicated"] = all;
  report["waited_seconds"] = std::chrono::duration<double>(clock::now() - start).count();
  if (all)
    summary = fmt::format("replicated to {}", fmt::join(ok, ", "));
  else
    summary = fmt::format("NOT replicated to {}{}{}", fmt::join(not_ok, ", "),
                          ok.empty() ? "" : "; replicated to ", fmt::join(ok, ", "));
  return report;
}

}  // namespace rulekeeper::resolve
