// See connection_lost.hpp.
#include "ops/connection_lost.hpp"

#include <fmt/format.h>

#include "common/text.hpp"

namespace rulekeeper::ops {

namespace {

// libpqxx 6 reports a connection it already found closed by the first
// thing it needs from it next — the client encoding, to quote a parameter —
// which says nothing about what happened.
std::string cause(const std::exception& e) {
  const std::string what = common::one_line(e.what());
  if (what.find("Could not obtain client encoding") != std::string::npos) return "the server closed the connection";
  return what;
}

}  // namespace

common::ExitError connection_lost(const std::string& site, const std::string& role, const std::string& during,
                                  const std::exception& e, const std::string& consequence) {
  return common::ExitError(common::exit_unreachable,
                           fmt::format("lost the connection to site {} ({}) while {} ({}); {}", site, role, during,
                                       cause(e), consequence));
}

}  // namespace rulekeeper::ops
