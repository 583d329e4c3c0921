// See exact_json.hpp.
#include "common/exact_json.hpp"

#include <cmath>

#include "rulekeeper/canonical_json.hpp"

namespace rulekeeper::common {
namespace {

void write(std::string& out, const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, value] : v.items()) {
        if (!first) out += ',';
        first = false;
        out += nlohmann::json(key).dump();
        out += ':';
        write(out, value);
      }
      out += '}';
      return;
    }
    case nlohmann::json::value_t::array: {
      out += '[';
      bool first = true;
      for (const auto& value : v) {
        if (!first) out += ',';
        first = false;
        write(out, value);
      }
      out += ']';
      return;
    }
    case nlohmann::json::value_t::number_float: {
      const double d = v.get<double>();
      if (!std::isfinite(d)) {
        out += "null";
        return;
      }
      out += format_jcs_number(d);  // ECMAScript's shortest round-trip form, as JCS writes it
      return;
    }
    default: out += v.dump(); return;  // strings, integers, booleans, null
  }
}

}  // namespace

std::string dump_exact(const nlohmann::json& doc) {
  std::string out;
  write(out, doc);
  return out;
}

}  // namespace rulekeeper::common
