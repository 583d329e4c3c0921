// Version labels "N" and "N.k" (docs/design/architecture.md "Domain": a hotfix on top of N is
// N.k because E1 may already have used N+1). Parsing is strict so that one
// version has exactly one spelling: no "01", no "+1", no "1.0".
#include "rulekeeper/label.hpp"

#include "rulekeeper/error.hpp"

#include <limits>

namespace rulekeeper {
namespace {

// A positive decimal int32 without sign or leading zero; false otherwise.
bool parse_part(std::string_view s, std::int32_t& out) {
  if (s.empty() || s[0] == '0') return false;
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
    if (v > std::numeric_limits<std::int32_t>::max()) return false;
  }
  out = static_cast<std::int32_t>(v);
  return true;
}

}  // namespace

std::string Label::text() const {
  return hotfix == 0 ? std::to_string(version) : std::to_string(version) + "." + std::to_string(hotfix);
}

Label parse_label(std::string_view text) {
  Label l;
  std::size_t dot = text.find('.');
  bool ok = dot == std::string_view::npos
                ? parse_part(text, l.version)
                : parse_part(text.substr(0, dot), l.version) && parse_part(text.substr(dot + 1), l.hotfix);
  if (!ok) {
    std::string shown(text.substr(0, 80));
    if (text.size() > 80) shown += "...";
    throw Error(ErrorKind::invalid_input,
                "invalid version label '" + shown +
                    "': expected 'N' (a planned version) or 'N.k' (the k-th hotfix on version N), "
                    "N and k positive integers without leading zeros");
  }
  return l;
}

}  // namespace rulekeeper
