// See extension_check.hpp.
#include "site/extension_check.hpp"

#include <atomic>
#include <cstdlib>

#include <fmt/format.h>

#include "common/errors.hpp"
#include "site/client/server_state.hpp"
#include "site/deadline.hpp"

namespace rulekeeper::site {
namespace {

std::atomic<ExtensionCheck> current_check{ExtensionCheck::refuse};

// -1, 0, 1 as a is older than, the same as, newer than b ("0.10" > "0.9").
int compare_versions(const std::string& a, const std::string& b) {
  const char* x = a.c_str();
  const char* y = b.c_str();
  while (*x || *y) {
    char* x_end = nullptr;
    char* y_end = nullptr;
    const long p = *x ? std::strtol(x, &x_end, 10) : 0;
    const long q = *y ? std::strtol(y, &y_end, 10) : 0;
    if (p != q) return p < q ? -1 : 1;
    if (*x) x = (*x_end == '.') ? x_end + 1 : x_end;
    if (*y) y = (*y_end == '.') ? y_end + 1 : y_end;
    if ((*x && (*x < '0' || *x > '9')) || (*y && (*y < '0' || *y > '9'))) return a == b ? 0 : (a < b ? -1 : 1);
  }
  return 0;
}

}  // namespace

const char* driven_extension_version() { return RULEKEEPER_EXTENSION_VERSION; }

void set_extension_check(ExtensionCheck check) { current_check = check; }
ExtensionCheck extension_check() { return current_check; }

std::optional<std::string> unsupported_extension(const std::string& site, const ExtensionIdentity& id) {
  const std::string driven = driven_extension_version();
  if (!id.version || *id.version == driven) return std::nullopt;
  const std::string head =
      fmt::format("site {} runs extension rulekeeper {}, this rulectl drives {}", site, *id.version, driven);
  if (compare_versions(*id.version, driven) < 0)
    return fmt::format("{}: run ALTER EXTENSION rulekeeper UPDATE {}{} (docs/upgrade.md)", head,
                       id.database.empty() ? "" : fmt::format("in database {} ", id.database),
                       id.in_recovery ? "at its primary (a standby replays it)" : "there");
  return fmt::format("{}: use the rulectl that comes with extension {} (docs/upgrade.md)", head, *id.version);
}

void check_extension(const config::SiteConfig& site, pqxx::connection& c) {
  if (extension_check() != ExtensionCheck::refuse) return;
  ExtensionIdentity id;
  {
    StatementDeadline guard(c, kStatementDeadline);
    try {
      const client::ExtensionState s = client::extension_state(c);
      id.version = s.version;
      id.database = s.database;
      id.in_recovery = s.in_recovery;
    } catch (const std::exception&) {
      if (guard.expired()) throw pqxx::broken_connection("connected, then " + guard.message());
      throw;
    }
  }
  if (auto refusal = unsupported_extension(site.name, id))
    throw common::ExitError(common::exit_refused, *refusal + "; nothing was done");
}

}  // namespace rulekeeper::site
