// See connection_lost.hpp.
#include "ops/connection_lost.hpp"

#include <fmt/format.h>

#include "common/text.hpp"

namespace rulekeeper::ops {

common::ExitError connection_lost(const std::string& site, const std::string& role, const std::string& during,
                                  const std::exception& e, const std::string& consequence) {
  return common::ExitError(common::exit_unreachable,
                           fmt::format("lost the connection to site {} ({}) while {} ({}); {}", site, role, during,
                                       common::one_line(e.what()), consequence));
}

}  // namespace rulekeeper::ops
