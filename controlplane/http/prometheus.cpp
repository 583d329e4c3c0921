// See prometheus.hpp.
#include "http/prometheus.hpp"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace rulekeeper::http {
namespace {

bool valid_name(const std::string& name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

std::string escape(const std::string& s, bool quote) {
  std::string out;
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (quote && c == '"')
      out += "\\\"";
    else
      out += c;
  }
  return out;
}

}  // namespace

std::string format_sample_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 9.007199254740992e15)
    return fmt::format("{}", static_cast<long long>(value));
  return fmt::format("{}", value);
}

MetricsText& MetricsText::family(const std::string& name, const std::string& type, const std::string& help) {
  if (!valid_name(name)) throw std::invalid_argument("not a Prometheus metric name: " + name);
  name_ = name;
  text_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape(help, false), name, type);
  return *this;
}

MetricsText& MetricsText::sample(const Labels& labels, double value, const std::string& suffix) {
  if (name_.empty()) throw std::logic_error("a sample before its family");
  text_ += name_ + suffix;
  if (!labels.empty()) {
    text_ += '{';
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (!valid_name(labels[i].first)) throw std::invalid_argument("not a Prometheus label name: " + labels[i].first);
      text_ += fmt::format("{}{}=\"{}\"", i ? "," : "", labels[i].first, escape(labels[i].second, true));
    }
    text_ += '}';
  }
  text_ += ' ' + format_sample_value(value) + '\n';
  return *this;
}

MetricsText& MetricsText::sample(const Labels& labels, const std::optional<double>& value) {
  return sample(labels, value ? *value : std::nan(""));
}

}  // namespace rulekeeper::http
