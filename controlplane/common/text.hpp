// Small text helpers every layer uses, each in one place.
#pragma once

#include <string>

namespace rulekeeper::common {

// Messages from libpq and the server span lines ("connection to server ...
// failed: \n\tIs the server running..."); tables, logs and the one-line error
// of main() show them on one line: newlines and tabs become spaces, runs of
// spaces collapse, trailing space goes.
std::string one_line(std::string text);

// Without leading and trailing blanks (space, tab, CR, LF).
std::string trim(const std::string& text);

}  // namespace rulekeeper::common
