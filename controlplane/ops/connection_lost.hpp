// A connection lost in the middle of an operation (the server stopped, the
// backend terminated, the network cut): which site went away, during which
// step, and what that means for what was committed (issue #14 item 9). Never
// libpq's last words alone ("Could not obtain client encoding: not
// connected" says neither).
#pragma once

#include <exception>
#include <string>

#include "common/errors.hpp"

namespace rulekeeper::ops {

// exit 4: "lost the connection to site <site> (<role>) while <during> (<libpq's
// message>); <consequence>".
common::ExitError connection_lost(const std::string& site, const std::string& role, const std::string& during,
                                  const std::exception& e, const std::string& consequence);

}  // namespace rulekeeper::ops
