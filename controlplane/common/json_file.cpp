#include "common/json_file.hpp"

#include <fmt/format.h>

#include "common/errors.hpp"
#include "common/files.hpp"
#include "rulekeeper/canonical_json.hpp"
#include "rulekeeper/error.hpp"
#include "rulekeeper/json.hpp"

namespace rulekeeper::common {

nlohmann::json parse_strict_json(std::string_view text, const std::string& what) {
  try {
    (void)rulekeeper::parse_json(text);
  } catch (const rulekeeper::Error& e) {
    throw ExitError(exit_usage, fmt::format("{}: {}", what, e.what()));
  }
  // The strict reader accepted it, so nlohmann reads the same document.
  return nlohmann::json::parse(text.begin(), text.end());
}

nlohmann::json parse_strict_body(std::string_view text, const std::string& what) {
  try {
    (void)rulekeeper::canonicalize(rulekeeper::parse_json(text));
  } catch (const rulekeeper::Error& e) {
    const std::string hint = e.hint();
    throw ExitError(exit_usage,
                    hint.empty() ? fmt::format("{}: {}", what, e.what())
                                 : fmt::format("{}: {}; {}", what, e.what(), hint),
                    {}, hint);
  }
  return nlohmann::json::parse(text.begin(), text.end());
}

nlohmann::json read_json_file(const std::filesystem::path& path, const std::string& what) {
  std::string text;
  try {
    text = read_file(path);
  } catch (const std::exception& e) {
    throw ExitError(exit_usage, fmt::format("{}: {}", what, e.what()));
  }
  return parse_strict_json(text, what);
}

}  // namespace rulekeeper::common
