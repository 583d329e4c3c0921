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

// Columns padded to the widest cell, in terminal columns (display_width).
class Table {
public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void add_row(std::vector<std::string> cells);
  void print(std::ostream& out) const;

private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// The terminal columns UTF-8 text takes: a CJK character or an emoji 2, a
// combining mark 0, "…" 1 (wcwidth under C.UTF-8).
std::size_t display_width(const std::string& utf8);
// As much of `text` as fits in `keep` columns and "…" if it was longer.
std::string abbreviate(const std::string& text, std::size_t keep);

// The one JSON document of a --json run, on stdout.
void print_json(const nlohmann::json& document);
// Whether print_json ran in this process (main() then adds no error document).
bool json_document_printed();

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
