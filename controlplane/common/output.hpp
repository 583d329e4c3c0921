// Output conventions of rulectl (CONTRIBUTING.md "The CLI"): aligned tables for
// people; with --json exactly one JSON document on stdout and every message on
// stderr; progress lines with elapsed time on stderr.
#pragma once

#include <chrono>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rulekeeper::common {

// Columns padded to the widest cell (widths in code points, so "…" counts 1).
class Table {
public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void add_row(std::vector<std::string> cells);
  void print(std::ostream& out) const;

private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// Number of code points in UTF-8 text.
std::size_t display_width(const std::string& utf8);
// The first `keep` characters and "…" if longer.
std::string abbreviate(const std::string& text, std::size_t keep);

// The one JSON document of a --json run, on stdout.
void print_json(const nlohmann::json& document);

// Where an operation reports progress on anything that takes seconds.
// Operations (ops/) print nothing themselves: they get a sink. The CLI's
// prints "[  1.2s] step" lines on stderr; tests and HTTP front ends collect.
class ProgressSink {
public:
  virtual ~ProgressSink() = default;
  virtual void step(const std::string& what) const = 0;
};

// "[  1.2s] step" lines on stderr, timed from construction.
class Progress : public ProgressSink {
public:
  Progress() : start_(std::chrono::steady_clock::now()) {}
  void step(const std::string& what) const override;

private:
  std::chrono::steady_clock::time_point start_;
};

// Swallows progress (tests, --quiet paths).
class NoProgress : public ProgressSink {
public:
  void step(const std::string&) const override {}
};

}  // namespace rulekeeper::common
