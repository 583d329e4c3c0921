// Side-by-side rendering of JSON diffs. See diff_render.hpp.
#include "cli/diff_render.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "common/output.hpp"
#include "common/terminal.hpp"

namespace rulekeeper::diff_render {
namespace {

using nlohmann::json;

const char* kRed = "\x1b[31m";
const char* kGreen = "\x1b[32m";
const char* kBold = "\x1b[1m";
const char* kReset = "\x1b[0m";

std::string value_text(const json& entry, const char* key) {
  if (!entry.is_object() || !entry.contains(key)) return "(absent)";
  // dump() escapes C0 already; DEL, C1 and bidi controls it keeps raw.
  return common::escape_controls(entry[key].dump());
}

std::string pad(const std::string& s, std::size_t width) {
  std::size_t w = common::display_width(s);
  return w >= width ? s : s + std::string(width - w, ' ');
}

}  // namespace

bool use_colour(bool json_mode) {
  if (json_mode) return false;
  if (const char* no = std::getenv("NO_COLOR"); no != nullptr && *no != '\0') return false;
  return ::isatty(STDOUT_FILENO) == 1;
}

std::string old_text(const json& entry) { return value_text(entry, "old_value"); }
std::string new_text(const json& entry) { return value_text(entry, "new_value"); }

void print_table(std::ostream& out, const json& diff, const std::string& old_heading, const std::string& new_heading,
                 bool colour, const std::string& indent) {
  if (!diff.is_array() || diff.empty()) {
    out << indent << "(no differences)\n";
    return;
  }
  struct Row {
    std::string path, op, old_value, new_value;
  };
  std::vector<Row> rows;
  rows.push_back({"path", "op", "old (" + common::escape_controls(old_heading) + ")",
                  "new (" + common::escape_controls(new_heading) + ")"});
  for (const auto& e : diff) {
    std::string path = common::escape_controls(e.value("path", std::string()));
    rows.push_back({path.empty() ? "(whole body)" : path, e.value("op", std::string("?")), old_text(e), new_text(e)});
  }
  std::size_t w0 = 0, w1 = 0, w2 = 0;
  for (const auto& r : rows) {
    w0 = std::max(w0, common::display_width(r.path));
    w1 = std::max(w1, common::display_width(r.op));
    w2 = std::max(w2, common::display_width(r.old_value));
  }
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    const bool header = i == 0;
    // Pad first, then colour: escape codes take no columns.
    std::string old_cell = pad(r.old_value, w2);
    std::string line = indent;
    if (colour && header) line += kBold;
    line += pad(r.path, w0) + "  " + pad(r.op, w1) + "  ";
    if (colour && !header) {
      const std::string gap(old_cell.size() - r.old_value.size(), ' ');
      line += (r.op == "add" ? old_cell : kRed + r.old_value + kReset + gap) + "  ";
      line += r.op == "remove" ? r.new_value : kGreen + r.new_value + kReset;
    } else {
      line += old_cell + "  " + r.new_value;
      if (colour) line += kReset;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << '\n';
  }
}

}  // namespace rulekeeper::diff_render
