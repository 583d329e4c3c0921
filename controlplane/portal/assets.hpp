// The portal's templates (*.mustache), stylesheet and script, compiled in
// from controlplane/portal/assets/ by embed.cmake: no file is read at run
// time and nothing is fetched from elsewhere (issue #19: no CDN).
#pragma once

#include <map>
#include <string>

namespace rulekeeper::portal {

// File name ("rules.mustache", "portal.css") -> content.
const std::map<std::string, std::string>& assets();

}  // namespace rulekeeper::portal
