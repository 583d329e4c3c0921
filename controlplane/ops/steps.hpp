// The timed steps of a failover or rejoin: each reported to the progress
// sink as it ends ("stop ipc2 (stop_command, -m fast) (0.380s): stopped"),
// all of them in the report.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/output.hpp"

namespace rulekeeper::ops {

struct Step {
  std::string name;
  std::string detail;
  double started = 0;  // seconds since the operation began
  double seconds = 0;
  std::string at;  // when it ended, RFC 3339 UTC ms
};

// {"step", "started_ms", "took_ms", "at", "detail"} per step. Whole
// milliseconds: this goes into the failover event's details, and a double
// printed with non-shortest digits made export_changes refuse the event
// (JCS; issue #14 item 3).
long long whole_ms(double seconds);
nlohmann::json steps_json(const std::vector<Step>& steps);
// The steps as a table for people: at (s), took (s), step, detail.
common::Table steps_table(const std::vector<Step>& steps);

class Steps {
public:
  explicit Steps(const common::ProgressSink& progress);
  // Starts a step (ends the previous one if still open).
  void begin(const std::string& name);
  // Ends the open step with a detail line.
  void end(const std::string& detail = "");
  // A step of no duration (a decision, a note).
  void note(const std::string& name, const std::string& detail);
  double elapsed() const;  // seconds since construction
  const std::vector<Step>& list() const { return steps_; }
  nlohmann::json to_json() const { return steps_json(steps_); }

private:
  const common::ProgressSink& progress_;
  std::chrono::steady_clock::time_point start_;
  std::vector<Step> steps_;
  bool open_ = false;
};

}  // namespace rulekeeper::ops
