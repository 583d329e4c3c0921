// The Prometheus text exposition format (version 0.0.4), as /metrics
// serves it: `rulectl watch --metrics-listen` now, the pod gateway next
// (issue #18). Families in the order added, each with HELP and TYPE once;
// label values and help text escaped as the format says; NaN for an unknown
// value (Prometheus stores it; comparisons with it are false).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace rulekeeper::http {

using Labels = std::vector<std::pair<std::string, std::string>>;

class MetricsText {
public:
  // Starts a family; `type` is gauge, counter or untyped.
  MetricsText& family(const std::string& name, const std::string& type, const std::string& help);
  // A sample of the current family (`suffix` for counters' _total and the like).
  MetricsText& sample(const Labels& labels, double value, const std::string& suffix = "");
  // nullopt: NaN (unknown).
  MetricsText& sample(const Labels& labels, const std::optional<double>& value);
  const std::string& text() const { return text_; }

  static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

private:
  std::string text_;
  std::string name_;
};

std::string format_sample_value(double value);

}  // namespace rulekeeper::http
