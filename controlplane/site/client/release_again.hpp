// rulekeeper.export_release_again at a release's source (issue #14 item 5):
// what already left it, as a bundle, to send again to an E3 primary that
// replaced the one the release was lost with.
#pragma once

#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "site/client/releases.hpp"

namespace rulekeeper::site::client {

// rulekeeper.export_release_again(rule_keys) (every rule when empty).
ReleaseBundle export_release_again(pqxx::connection& conn, const std::vector<std::string>& rule_keys,
                                   const std::string& source);

}  // namespace rulekeeper::site::client
