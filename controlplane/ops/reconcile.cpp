#include "ops/reconcile.hpp"

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "common/errors.hpp"
#include "common/files.hpp"
#include "common/json_file.hpp"
#include "ops/hotfix.hpp"
#include "site/client/failover.hpp"
#include "site/client/journal.hpp"
#include "rulekeeper/lifecycle.hpp"
#include "site/server_error.hpp"
#include "site/topology.hpp"

namespace rulekeeper::ops {
namespace {

using nlohmann::json;
namespace client = site::client;

const std::string kE3{rulekeeper::to_string(Environment::e3)};

json optional_json(const std::optional<std::string>& v) { return v ? json(*v) : json(); }

// The bundle file's text, checked strictly before it goes to the server.
std::string read_bundle(const std::string& path) {
  std::string text;
  try {
    text = common::read_file(path);
  } catch (const std::exception& e) {
    throw common::ExitError(common::exit_usage, fmt::format("cannot read bundle file {} ({})", path, e.what()));
  }
  (void)common::parse_strict_json(text, "bundle file " + path);
  return text;
}

}  // namespace

ReconcileReport reconcile(const config::Config& config, const ReconcileRequest& o) {
  if (o.from.empty() == o.bundle.empty())
    throw common::ExitError(common::exit_usage, "give exactly one of --from SITE and --bundle FILE");
  // A bad bundle is refused before any site is asked.
  const std::string file_text = o.bundle.empty() ? std::string() : read_bundle(o.bundle);
  site::Site target = site::writer(config, o.to, "reconcile", "--to");
  if (target.environment() != kE3)
    throw common::ExitError(common::exit_usage, fmt::format("reconcile carries changes between E3 sites; {} is {}",
                                                            target.name(), target.environment()));

  ReconcileReport out;
  out.target = target.name();
  out.dry_run = o.dry_run;
  std::string bundle_text;
  if (!o.bundle.empty()) {
    bundle_text = file_text;
    out.source = o.bundle;
  } else {
    site::Site source = site::reader(config, o.from);
    if (source.name() == target.name())
      throw common::ExitError(common::exit_usage, "--from and --to name the same site");
    // Changes are carried only within one environment (import_changes refuses
    // a bundle from another one too): E2's journal is not E3's history.
    if (source.environment() != target.environment())
      throw common::ExitError(
          common::exit_refused,
          fmt::format("reconcile carries changes only between sites of the same environment: {} is in {}, {} in "
                      "{}; nothing was exported or recorded{}",
                      source.name(), source.environment(), target.name(), target.environment(),
                      o.dry_run ? " (dry run)" : ""),
          {}, "versions move between environments with rulectl release --from <env> --to <env>");
    std::string since;
    try {
      // Changes since the newest failover's divergence point (none recorded:
      // everything the target does not hold).
      const auto event = client::latest_failover_event(*target.conn);
      since = event ? event->divergence : client::version_vector(*target.conn).to_json();
    } catch (const pqxx::failure& e) {
      throw site::sql_failure(fmt::format("divergence point at {}", target.name()), e);
    }
    try {
      bundle_text = client::export_changes(*source.conn, since);
    } catch (const pqxx::failure& e) {
      throw site::sql_failure(fmt::format("export_changes at {}", source.name()), e);
    }
    out.source = "site " + source.name();
  }

  json& report = out.report;
  try {
    report = client::import_changes(*target.conn, bundle_text, o.dry_run);
    // The labels the recovered versions got (not in import_changes' report).
    if (!o.dry_run)
      for (auto& r : report["recovered"]) {
        const json& id = r["change_id"];
        r["recovered_label"] =
            optional_json(client::recovered_label(*target.conn, id.is_string() ? id.get<std::string>() : id.dump()));
      }
  } catch (const pqxx::failure& e) {
    throw site::sql_failure(fmt::format("import_changes at {}", target.name()), e);
  }
  out.open_conflicts = report.value("open_conflicts", 0LL);
  const bool new_conflicts = !report["conflicts"].empty();
  report["target"] = out.target;
  report["from"] = out.source;
  out.exit_code = (out.open_conflicts > 0 || new_conflicts) ? common::exit_refused : common::exit_ok;
  return out;
}

json ConflictList::to_json() const {
  json doc = {{"site", site}, {"conflicts", json::array()}, {"open", open}};
  for (const auto& c : conflicts)
    doc["conflicts"].push_back({{"conflict_id", c.conflict_id},
                                {"rule_key", c.rule_key},
                                {"status", c.status},
                                {"detected_at", c.detected_at},
                                {"source_change", c.source_change},
                                {"target_changes", c.target_changes},
                                {"resolved_at", optional_json(c.resolved_at)},
                                {"resolved_by", optional_json(c.resolved_by)},
                                {"resolution", c.resolution}});
  return doc;
}

ConflictList list_conflicts(const config::Config& config, const std::string& site_name, bool all) {
  site::Site site = open_for_read(config, site_name, "list conflicts");
  ConflictList list;
  list.site = site.name();
  list.all = all;
  try {
    list.conflicts = client::conflicts(*site.conn, all);
  } catch (const pqxx::failure& e) {
    throw site::sql_failure(fmt::format("conflicts list at {}", site.name()), e);
  }
  for (const auto& c : list.conflicts)
    if (c.status == "open") ++list.open;
  return list;
}

site::client::Conflict find_conflict(const config::Config& config, const std::string& site_name,
                                     const std::string& id) {
  site::Site site = site::writer(config, site_name, "resolve a conflict");
  try {
    const auto matches = client::conflicts(*site.conn, true, id);
    if (matches.empty())
      throw common::ExitError(common::exit_failed, fmt::format("no conflict {} at {}", id, site.name()));
    if (matches.size() > 1)
      throw common::ExitError(common::exit_usage,
                              fmt::format("{} names {} conflicts; give more of the id", id, matches.size()));
    return matches[0];
  } catch (const pqxx::failure& e) {
    throw site::sql_failure("conflicts", e);
  }
}

ConflictResolution resolve_conflict(const config::Config& config, const std::string& site_name, const std::string& id,
                                    const std::string& keep) {
  if (keep != "target" && keep != "source") throw common::ExitError(common::exit_usage, "--keep is target or source");
  site::Site site = site::writer(config, site_name, "resolve a conflict");
  ConflictResolution out;
  out.site = site.name();
  out.keep = keep;
  try {
    // An unambiguous prefix of the id is enough; resolved ones count too
    // (resolving one again is refused by the server, exit 3).
    const auto matches = client::conflicts(*site.conn, true, id);
    if (matches.empty())
      throw common::ExitError(common::exit_failed, fmt::format("no conflict {} at {}", id, site.name()));
    if (matches.size() > 1)
      throw common::ExitError(common::exit_usage,
                              fmt::format("{} names {} conflicts; give more of the id", id, matches.size()));
    out.result = client::resolve_conflict(*site.conn, matches[0].conflict_id, keep);
  } catch (const pqxx::failure& e) {
    throw site::sql_failure("resolve_conflict", e);
  }
  try {
    out.open_conflicts = client::open_conflict_count(*site.conn);
  } catch (const pqxx::failure& e) {
    throw site::sql_failure(fmt::format("open conflicts at {}", site.name()), e);
  }
  out.result["open_conflicts"] = out.open_conflicts;
  return out;
}

}  // namespace rulekeeper::ops
