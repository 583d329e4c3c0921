// Rendering a JSON diff ([{path, op, old_value?, new_value?}], as the SQL
// API's diff() returns it and the hotfix table's diff column stores it) for
// people: old and new side by side, one row per path, old in red and new in
// green when colour is on. Used by `rulectl diff` and `rulectl hotfix show`
// (and the hotfix command's own report).
#pragma once

#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

namespace rulekeeper::diff_render {

// Colour only for a terminal: stdout is a tty, the run is not --json, and
// NO_COLOR (https://no-color.org) is unset.
bool use_colour(bool json_mode);

// One entry's value as compact JSON text, or "(absent)" for an add's old
// side / a remove's new side.
std::string old_text(const nlohmann::json& entry);
std::string new_text(const nlohmann::json& entry);

// The table:
//   path    op       old (1)  new (1.1)
//   /rate   replace  0.1      0.15
// `old_heading` / `new_heading` name the two sides ("1", "1.1"). Each line
// starts with `indent`. An empty diff prints "(no differences)".
void print_table(std::ostream& out, const nlohmann::json& diff, const std::string& old_heading,
                 const std::string& new_heading, bool colour, const std::string& indent = "");

}  // namespace rulekeeper::diff_render
