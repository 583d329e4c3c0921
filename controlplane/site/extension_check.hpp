// Which extension versions this rulectl drives, and the one check of a site's
// version (issue #17 item 2; docs/upgrade.md, docs/design/upgrades.md "One
// library, two catalogs").
//
// rulectl calls the SQL API of the extension version it was built with (the
// control file's default_version). A site whose database holds another
// version — 0.1 before `ALTER EXTENSION rulekeeper UPDATE`, or a newer one
// than this rulectl knows — is refused by every verb that acts there, naming
// both versions and what to do, before the verb runs a statement. `status`,
// `version` and `watch` only report it (they are how an operator sees an
// upgrade half done). The check runs where rulectl opens a connection to a
// site (site/connect.cpp), so no verb can forget it; main() sets which of the
// two a verb does.
#pragma once

#include <optional>
#include <string>

#include <pqxx/pqxx>

#include "site/config.hpp"

namespace rulekeeper::site {

// The extension version this rulectl drives ("0.2").
const char* driven_extension_version();

enum class ExtensionCheck {
  refuse,  // a site at another version: common::ExitError(exit_refused)
  report,  // the verb reports versions itself (status, version, watch)
};
// Process-wide, set once by main() before a verb runs; refuse until set.
void set_extension_check(ExtensionCheck check);
ExtensionCheck extension_check();

// What the server says about itself for the check.
struct ExtensionIdentity {
  std::optional<std::string> version;  // nullopt: the extension is not installed in this database
  std::string database;
  bool in_recovery = false;
};

// The refusal for `site` at `id`, or nullopt when this rulectl drives it
// (same version, or no extension: the verb's own call then says what is
// missing). Pure: unit-tested.
std::optional<std::string> unsupported_extension(const std::string& site, const ExtensionIdentity& id);

// Under ExtensionCheck::refuse, asks the server and throws
// common::ExitError(exit_refused) with unsupported_extension's message; else
// does nothing. Bounded by kStatementDeadline (a frozen server costs that,
// then pqxx::broken_connection as for any lost connection).
void check_extension(const config::SiteConfig& site, pqxx::connection& c);

}  // namespace rulekeeper::site
