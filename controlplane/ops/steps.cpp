// See steps.hpp.
#include "ops/steps.hpp"

#include <cmath>

#include <fmt/format.h>

#include "common/time.hpp"

namespace rulekeeper::ops {

long long whole_ms(double seconds) { return std::llround(seconds * 1000); }

nlohmann::json steps_json(const std::vector<Step>& steps) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& s : steps)
    a.push_back({{"step", s.name},
                 {"started_ms", whole_ms(s.started)},
                 {"took_ms", whole_ms(s.seconds)},
                 {"at", s.at},
                 {"detail", s.detail}});
  return a;
}

common::Table steps_table(const std::vector<Step>& steps) {
  common::Table t({"at (s)", "took (s)", "step", "detail"});
  for (const auto& s : steps)
    t.add_row({fmt::format("{:.3f}", s.started), fmt::format("{:.3f}", s.seconds), s.name, s.detail});
  return t;
}

Steps::Steps(const common::ProgressSink& progress) : progress_(progress), start_(std::chrono::steady_clock::now()) {}

double Steps::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Steps::begin(const std::string& name) {
  if (open_) end();
  Step s;
  s.name = name;
  s.started = elapsed();
  steps_.push_back(s);
  open_ = true;
}

void Steps::end(const std::string& detail) {
  if (!open_) return;
  Step& s = steps_.back();
  s.seconds = elapsed() - s.started;
  s.detail = detail;
  s.at = common::utc_now_text();
  open_ = false;
  progress_.step(fmt::format("{} ({:.3f}s){}{}", s.name, s.seconds, detail.empty() ? "" : ": ", detail));
}

void Steps::note(const std::string& name, const std::string& detail) {
  if (open_) end();
  Step s;
  s.name = name;
  s.detail = detail;
  s.started = elapsed();
  s.at = common::utc_now_text();
  steps_.push_back(s);
  progress_.step(fmt::format("{}: {}", name, detail));
}

}  // namespace rulekeeper::ops
