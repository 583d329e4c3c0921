// See sync_promotion.hpp.
#include "ops/sync_promotion.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "common/files.hpp"
#include "common/json_file.hpp"
#include "common/poll.hpp"
#include "common/text.hpp"
#include "common/time.hpp"
#include "site/client/sync_replication.hpp"

namespace fs = std::filesystem;
namespace client = rulekeeper::site::client;

namespace rulekeeper::ops {
namespace {

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

bool is_number(const std::string& s) {
  if (s.empty()) return false;
  for (char ch : s)
    if (!std::isdigit(static_cast<unsigned char>(ch))) return false;
  return true;
}

// Tokens: words (quoted ones keep a leading '"' marker so that "first" as a
// name is not the keyword), '(', ')', ','.
std::vector<std::string> tokens(const std::string& v) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < v.size()) {
    const char ch = v[i];
    if (std::isspace(static_cast<unsigned char>(ch))) {
      ++i;
    } else if (ch == '(' || ch == ')' || ch == ',') {
      out.emplace_back(1, ch);
      ++i;
    } else if (ch == '"') {
      std::string word = "\"";
      ++i;
      for (;;) {
        if (i >= v.size()) throw std::invalid_argument("unterminated quoted name");
        if (v[i] == '"') {
          if (i + 1 < v.size() && v[i + 1] == '"') {
            word += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        word += v[i++];
      }
      out.push_back(word);
    } else {
      std::string word;
      while (i < v.size() && !std::isspace(static_cast<unsigned char>(v[i])) && v[i] != '(' && v[i] != ')' &&
             v[i] != ',' && v[i] != '"')
        word += v[i++];
      out.push_back(word);
    }
  }
  return out;
}

std::string name_of(const std::string& token) { return !token.empty() && token[0] == '"' ? token.substr(1) : token; }

fs::path relaxed_file(const config::Config& config, const std::string& site) {
  return fs::path(config.state_dir) / fmt::format("sync-relaxed-{}.json", site);
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

// Until this backend reads the reloaded setting (pg_reload_conf() only
// signals; each backend rereads the files between statements).
bool wait_for_setting(pqxx::connection& c, const std::string& value) {
  return common::poll_until(std::chrono::seconds(5), std::chrono::milliseconds(20),
                            [&] { return client::synchronous_standby_names(c).value == value; });
}

}  // namespace

bool SyncStandbySpec::matches(const std::string& standby) const {
  for (const auto& n : names)
    if (n == "*" || lower(n) == lower(standby)) return true;
  return false;
}

SyncStandbySpec parse_sync_standby_names(const std::string& value) {
  SyncStandbySpec spec;
  std::vector<std::string> t = tokens(value);
  if (t.empty()) return spec;
  std::size_t i = 0;
  bool counted = false;
  if (t.size() > 1 && (lower(t[0]) == "first" || lower(t[0]) == "any") && is_number(t[1])) {
    spec.any = lower(t[0]) == "any";
    spec.num_sync = std::stoi(t[1]);
    i = 2;
    counted = true;
  } else if (t.size() > 1 && is_number(t[0]) && t[1] == "(") {
    spec.num_sync = std::stoi(t[0]);
    i = 1;
    counted = true;
  }
  if (counted) {
    if (i >= t.size() || t[i] != "(" || t.back() != ")")
      throw std::invalid_argument("expected a parenthesized list of standby names");
    ++i;
    t.pop_back();
  } else {
    spec.num_sync = 1;
  }
  bool want_name = true;
  for (; i < t.size(); ++i) {
    if (t[i] == ",") {
      if (want_name) throw std::invalid_argument("empty standby name");
      want_name = true;
      continue;
    }
    if (t[i] == "(" || t[i] == ")" || !want_name) throw std::invalid_argument("unexpected '" + t[i] + "'");
    spec.names.push_back(name_of(t[i]));
    want_name = false;
  }
  if (spec.names.empty() || want_name) throw std::invalid_argument("no standby name");
  return spec;
}

bool sync_satisfiable(const SyncStandbySpec& spec, const std::vector<std::string>& streaming) {
  if (spec.num_sync <= 0) return true;
  int n = 0;
  for (const auto& s : streaming)
    if (spec.matches(s)) ++n;
  return n >= spec.num_sync;
}

SyncGuard guard_sync_before_promotion(const config::Config& config, pqxx::connection& target,
                                      const std::string& target_name, Steps& steps,
                                      const std::map<std::string, std::string>& whereabouts) {
  SyncGuard g;
  g.site = target_name;
  const client::SynchronousStandbyNames current = client::synchronous_standby_names(target);
  g.was = current.value;
  SyncStandbySpec spec;
  try {
    spec = parse_sync_standby_names(current.value);
  } catch (const std::invalid_argument&) {
    spec.num_sync = 1;  // unreadable here: treat as needing a standby none of which is known to follow
  }
  if (spec.num_sync <= 0) return g;
  steps.begin(
      fmt::format("synchronous replication at {} (synchronous_standby_names {})", target_name, quoted(current.value)));
  const std::vector<std::string> following = client::streaming_standbys(target);
  std::string who = following.empty() ? std::string("no standby streams from it")
                                      : fmt::format("streaming from it: {}", fmt::join(following, ", "));
  std::vector<std::string> named;
  for (const auto& [site, doing] : whereabouts)
    if (site != target_name && spec.matches(site) &&
        std::find(following.begin(), following.end(), site) == following.end())
      named.push_back(site + " " + doing);
  if (!named.empty()) who += fmt::format(" ({})", fmt::join(named, ", "));
  if (sync_satisfiable(spec, following)) {
    g.detail = fmt::format("kept: {}", who);
    steps.end(g.detail);
    return g;
  }
  // Remember first: should the ALTER succeed and rulectl die, rejoin still
  // knows what to restore.
  const nlohmann::json record = {{"site", target_name},
                                 {"synchronous_standby_names", current.value},
                                 {"source_file", current.source_file},
                                 {"relaxed_at", common::utc_now_text()}};
  common::write_durably(relaxed_file(config, target_name), record.dump(2) + "\n");
  try {
    client::alter_synchronous_standby_names(target, "");
  } catch (...) {
    fs::remove(relaxed_file(config, target_name));  // nothing was relaxed: nothing to restore
    throw;
  }
  const bool applied = wait_for_setting(target, "");
  g.relaxed = true;
  g.detail = fmt::format(
      "RELAXED: {} names {} but {}; set to '' (ALTER SYSTEM) so that no commit at {} waits for a standby that "
      "cannot be following it{}; `rulectl rejoin --site <standby>` restores it",
      target_name, quoted(current.value), who, target_name, applied ? "" : " (not yet reloaded after 5s)");
  steps.end(g.detail);
  return g;
}

void undo_sync_guard(const config::Config& config, pqxx::connection& target, const SyncGuard& guard, Steps& steps) {
  if (!guard.relaxed) return;
  steps.begin(fmt::format("restore synchronous_standby_names at {}", guard.site));
  try {
    const nlohmann::json record =
        common::read_json_file(relaxed_file(config, guard.site), "the synchronous replication rulectl relaxed");
    if (client::SynchronousStandbyNames{"", record.value("source_file", std::string())}.from_auto_conf())
      client::alter_synchronous_standby_names(target, guard.was);
    else
      client::reset_synchronous_standby_names(target);
    fs::remove(relaxed_file(config, guard.site));
    steps.end(fmt::format("restored {}", quoted(guard.was)));
  } catch (const std::exception& e) {
    steps.end(fmt::format("NOT restored ({}): it stays '' at {}", common::one_line(e.what()), guard.site));
  }
}

std::string restore_sync_after_rejoin(const config::Config& config, pqxx::connection& primary,
                                      const std::string& primary_name, Steps& steps) {
  const fs::path file = relaxed_file(config, primary_name);
  if (!fs::exists(file)) return "";
  const nlohmann::json record = common::read_json_file(file, "the synchronous replication rulectl relaxed");
  const std::string was = record.value("synchronous_standby_names", std::string());
  steps.begin(fmt::format("synchronous replication at {} (relaxed by a failover; was {})", primary_name, quoted(was)));
  SyncStandbySpec spec;
  try {
    spec = parse_sync_standby_names(was);
  } catch (const std::invalid_argument& e) {
    const std::string d = fmt::format("not restored: {} does not parse ({})", quoted(was), e.what());
    steps.end(d);
    return d;
  }
  // The rejoined standby may need a moment before it counts as streaming.
  std::vector<std::string> following;
  const bool ok = common::poll_until(std::chrono::seconds(10), std::chrono::milliseconds(100), [&] {
    following = client::streaming_standbys(primary);
    return sync_satisfiable(spec, following);
  });
  if (!ok) {
    const std::string d =
        fmt::format("still relaxed: {} needs {} of {} streaming from {} ({}); rejoin them to restore it", quoted(was),
                    spec.num_sync, fmt::join(spec.names, ", "), primary_name,
                    following.empty() ? std::string("none streams") : fmt::format("{}", fmt::join(following, ", ")));
    steps.end(d);
    return d;
  }
  if (client::SynchronousStandbyNames{"", record.value("source_file", std::string())}.from_auto_conf())
    client::alter_synchronous_standby_names(primary, was);
  else
    client::reset_synchronous_standby_names(primary);
  const bool applied = wait_for_setting(primary, was);
  fs::remove(file);
  const std::string d = fmt::format("RESTORED {} at {} (streaming: {}){}", quoted(was), primary_name,
                                    fmt::join(following, ", "), applied ? "" : " (not yet reloaded after 5s)");
  steps.end(d);
  return d;
}

}  // namespace rulekeeper::ops
