// See release.hpp.
#include "ops/release.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "common/errors.hpp"
#include "common/terminal.hpp"
#include "ops/connection_lost.hpp"
#include "ops/replication_wait.hpp"
#include "rulekeeper/lifecycle.hpp"
#include "site/server_error.hpp"
#include "site/client/journal.hpp"
#include "site/client/qualification.hpp"
#include "site/topology.hpp"

namespace rulekeeper::ops {

using nlohmann::json;

bool is_snapshot_checksum(std::string_view s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

void check_expected_checksum(const std::optional<std::string>& expected) {
  if (expected && !is_snapshot_checksum(*expected))
    throw common::ExitError(common::exit_usage,
                            fmt::format("--expected-checksum '{}' is not a snapshot checksum: it must be 64 lowercase "
                                        "hex digits, as snapshot_checksum('all') at the target returns "
                                        "it; nothing was sent to any site",
                                        *expected));
}

int release_exit_code(const json& replication) {
  if (replication.is_null()) return common::exit_ok;
  return replication.value("replicated", false) ? common::exit_ok : common::exit_refused;
}

json ReleaseReport::to_json() const {
  json doc;
  doc["source"] = source;
  doc["target"] = target;
  doc["bundle_sha256"] = bundle_sha256;
  doc["versions"] = json::array();
  for (const auto& v : versions)
    doc["versions"].push_back({{"rule_key", v.rule_key},
                               {"label", v.label},
                               {"status", v.already_there ? "already there" : "imported"},
                               {"annotations", v.annotations}});
  doc["report"] = import ? import->document : json(nullptr);
  doc["promoted"] = promoted;
  doc["dry_run"] = dry_run;
  doc["replication"] = replication;
  doc["summary"] = summary;
  return doc;
}

ReleaseReport release(const config::Config& config, const ReleaseRequest& request,
                      const common::ProgressSink& progress) {
  check_expected_checksum(request.expected_checksum);

  // The source: a site releases can leave (e1, e2) that takes writes (it
  // marks what left).
  site::Site source = site::reader(config, request.from);
  const std::string source_env = source.environment();
  const auto env = parse_environment(source_env);
  const auto releasable = env ? releasable_qualification(*env) : std::nullopt;
  if (!releasable)
    throw common::ExitError(common::exit_refused,
                            fmt::format("site {} is in environment {}: releases leave e1 or e2 (E3 is the end of the "
                                        "pipeline)",
                                        source.name(), source_env));
  if (source.in_recovery)
    throw common::ExitError(common::exit_refused,
                            fmt::format("site {} is a standby (in recovery): a release must start at a site that takes "
                                        "writes (it marks what it released as {})",
                                        source.name(), released_qualification()));

  // The target: `e3` is the E3 primary; split brain and standbys refuse.
  site::Site target = site::writer(config, request.to, "release");
  if (target.config->dr && !target.in_recovery && !request.allow_dr_site)
    throw common::ExitError(common::exit_refused,
                            fmt::format("site {} is the disaster-recovery site (dr = true) and is acting as the E3 "
                                        "primary: a planned release there is refused; pass --allow-dr-site if "
                                        "production runs on {} on purpose",
                                        target.name(), target.name()));

  ReleaseReport report;
  report.source = source.name();
  report.source_environment = source_env;
  report.target = target.name();
  report.target_environment = target.environment();

  // Export.
  site::client::ReleaseBundle bundle;
  try {
    bundle = site::client::export_release(*source.conn, request.rules, source.name());
  } catch (const pqxx::broken_connection& e) {
    throw connection_lost(source.name(), "the source", "exporting the release", e,
                          "nothing was committed at any site; run the same release again once it answers");
  } catch (const pqxx::failure& e) {
    throw site::sql_failure(fmt::format("export_release at {}", source.name()), e);
  }
  report.bundle_sha256 = bundle.bundle_sha256;
  report.replication = nullptr;
  if (bundle.versions.empty()) {
    report.summary = fmt::format("nothing to release: site {} has no {} version{}", source.name(), *releasable,
                                 request.rules.empty() ? "" : fmt::format(" of {}", fmt::join(request.rules, ", ")));
    return report;
  }
  progress.step(fmt::format("exported {} version(s) at {}", bundle.versions.size(), source.name()));

  const bool asks = request.confirm && is_production(report.target_environment);
  // Import (one transaction at the target); note which versions it already
  // had. A dry run, and the check before the question, roll it back.
  std::set<std::pair<std::string, std::string>> already;
  auto import_once = [&](bool commit) {
    try {
      pqxx::work tx(*target.conn);
      already = site::client::versions_present(tx, bundle.text);
      report.import = site::client::import_release(tx, bundle.text, request.expected_checksum);
      if (commit)
        tx.commit();
      else
        tx.abort();
    } catch (const pqxx::in_doubt_error& e) {
      throw connection_lost(target.name(), "the target", "committing the import", e,
                            fmt::format("the import may or may not be committed at {}; {} marked nothing: run the "
                                        "same release again (versions already imported are reported 'already there')",
                                        target.name(), source.name()));
    } catch (const pqxx::broken_connection& e) {
      throw connection_lost(target.name(), "the target", fmt::format("importing the release from {}", source.name()), e,
                            fmt::format("nothing was committed: the import is one transaction at {} and it did not "
                                        "commit, and {} marked nothing; run the same release again once {} answers",
                                        target.name(), source.name(), target.name()));
    } catch (const pqxx::failure& e) {
      throw site::sql_failure(fmt::format("{}import_release at {} refused the bundle from {}{}",
                                          request.dry_run ? "dry run: " : "", target.name(), source.name(),
                                          request.dry_run ? " (as the real run would; nothing was changed)" : ""),
                              e);
    }
  };
  auto annotate = [&] {
    std::map<std::pair<std::string, std::string>, json> annotated;
    for (const auto& a : report.import->annotated) annotated[{a.rule_key, a.label}] = a.annotations;
    report.versions.clear();
    for (const auto& v : bundle.versions) {
      auto it = annotated.find({v.rule_key, v.label});
      report.versions.push_back({v.rule_key, v.label, already.count({v.rule_key, v.label}) > 0,
                                 it == annotated.end() ? json(nullptr) : it->second});
    }
  };
  if (request.dry_run || asks) {
    import_once(false);
    annotate();
    if (request.dry_run) {
      report.dry_run = true;
      report.summary = fmt::format("dry run: nothing was imported at {} and nothing marked {} at {}", target.name(),
                                   released_qualification(), source.name());
      return report;
    }
    ProductionPlan plan{fmt::format("release {} version(s) from {} into {} (production)", bundle.versions.size(),
                                    source.name(), target.name()),
                        {}};
    for (const auto& v : report.versions)
      plan.lines.push_back(fmt::format("{} {}: {}", common::escape_controls(v.rule_key),
                                       common::escape_controls(v.label), v.already_there ? "already there" : "import"));
    if (report.import->drift)
      plan.lines.push_back(
          fmt::format("DRIFT at {}: {} changed since the last release (annotated, not refused)", target.name(),
                      report.import->drifted_rules.empty()
                          ? std::string("no rule identified")
                          : common::escape_controls(fmt::format("{}", fmt::join(report.import->drifted_rules, ", ")))));
    plan.lines.push_back(fmt::format("then mark them {} at {}", released_qualification(), source.name()));
    request.confirm(plan);
  }
  import_once(true);
  progress.step(fmt::format("imported at {}", target.name()));

  // What the target's version vector is right after the import.
  VersionVector after;
  try {
    after = site::client::version_vector(*target.conn);
  } catch (const pqxx::broken_connection& e) {
    throw connection_lost(target.name(), "the target", "reading its version vector after the import", e,
                          fmt::format("the import IS committed at {}; {} has not marked its versions {}: run the same "
                                      "release again (the import is idempotent)",
                                      target.name(), source.name(), released_qualification()));
  }

  // The source marks what it released (imported now or already there).
  try {
    pqxx::work tx(*source.conn);
    const std::string reason = fmt::format("released to {}", target.name());
    for (const auto& v : bundle.versions) {
      site::client::transition(tx, v.rule_key, v.label, std::string(released_qualification()), reason);
      ++report.promoted;
    }
    tx.commit();
  } catch (const pqxx::broken_connection& e) {
    throw connection_lost(source.name(), "the source",
                          fmt::format("marking the released versions {}", released_qualification()), e,
                          fmt::format("the release IS committed at {}; the marks at {} may be missing: run the same "
                                      "release again (the import is idempotent)",
                                      target.name(), source.name()));
  } catch (const pqxx::failure& e) {
    throw common::ExitError(
        common::exit_failed,
        fmt::format("the release is committed at {}, but marking its versions {} at {} failed: {} [SQLSTATE {}]; "
                    "run the same release again (the import is idempotent)",
                    target.name(), released_qualification(), source.name(), site::server_message(e),
                    site::sqlstate_of(e)));
  }
  progress.step(fmt::format("{} version(s) marked {} at {}", report.promoted, released_qualification(), source.name()));

  annotate();

  report.summary = "committed";
  if (request.wait_replicated_seconds) {
    ReplicationWait wait = wait_replicated(config, target.name(), after, *request.wait_replicated_seconds, progress);
    report.replication = wait.report;
    report.summary += ", " + wait.summary;
  }
  report.exit_code = release_exit_code(report.replication);
  return report;
}

}  // namespace rulekeeper::ops
