// Table layout, abbreviations, the --json document and progress lines.
#include "common/output.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <iostream>

#include <fmt/format.h>

#include "common/terminal.hpp"

namespace rulekeeper::common {

std::size_t display_width(const std::string& utf8) {
  std::size_t n = 0;
  for (unsigned char c : utf8)
    if ((c & 0xC0) != 0x80) ++n;  // count lead bytes, not continuation bytes
  return n;
}

std::string abbreviate(const std::string& text, std::size_t keep) {
  if (display_width(text) <= keep) return text;
  std::size_t count = 0, i = 0;
  for (; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (count == keep) break;
      ++count;
    }
  }
  return text.substr(0, i) + "…";
}

void Table::add_row(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  // Cells hold values from the database: a control character in one must not
  // reach the terminal or break the row (common/terminal.hpp).
  for (auto& cell : cells) cell = escape_controls(cell);
  rows_.push_back(std::move(cells));
}

void Table::print(std::ostream& out) const {
  std::vector<std::size_t> width(headers_.size());
  for (std::size_t i = 0; i < headers_.size(); ++i) width[i] = display_width(headers_[i]);
  for (const auto& row : rows_)
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], display_width(row[i]));
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      s += cells[i];
      if (i + 1 < cells.size()) s += std::string(width[i] - display_width(cells[i]) + 2, ' ');
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();  // empty last cells
    out << s << '\n';
  };
  line(headers_);
  for (const auto& row : rows_) line(row);
}

void print_json(const nlohmann::json& document) { std::cout << document.dump(2) << std::endl; }

void Progress::step(const std::string& what) const {
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::cerr << fmt::format("[{:6.1f}s] {}", s, what) << std::endl;
}

}  // namespace rulekeeper::common
