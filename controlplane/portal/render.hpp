// HTML from the embedded mustache templates (kainjow's mustache, Debian's
// libkainjow-mustache-dev): every {{value}} is HTML-escaped (& < > " '), so
// data — rule keys, reasons, bodies from the database — is shown as text,
// never markup. Templates use {{{ }}} only for HTML the portal itself
// rendered (a page's body inside the layout).
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace rulekeeper::portal {

// Renders `template_name` ("rules.mustache") with `view` (JSON: objects,
// arrays, strings, numbers, booleans; null is false), then the layout
// around it with `layout` (title, user, csrf_token, refusal, done).
std::string render_page(const std::string& template_name, const nlohmann::json& view, const nlohmann::json& layout);

// Percent-encodes everything but RFC 3986's unreserved characters (a rule
// key as one path segment or query value).
std::string url_encode(const std::string& text);

// application/x-www-form-urlencoded, in order, repeated names kept.
using Form = std::vector<std::pair<std::string, std::string>>;
Form parse_form(const std::string& body);
std::string form_value(const Form& form, const std::string& name);  // the first; "" when absent
std::vector<std::string> form_values(const Form& form, const std::string& name);
bool form_has(const Form& form, const std::string& name);

// A diff ([{path, op, old_value?, new_value?}]) as rows for the diff table:
// {cls: diff-added|diff-removed|diff-replaced, op, path, old, new} with the
// values as indented JSON text (absent: "").
nlohmann::json diff_rows(const nlohmann::json& diff);

}  // namespace rulekeeper::portal
