// Table layout, abbreviations, the --json document and progress lines.
#include "common/output.hpp"

#include <algorithm>
#include <chrono>
#include <clocale>
#include <ctime>
#include <cwchar>

#include <locale.h>
#include <wchar.h>
#include <iostream>

#include <fmt/format.h>

#include "common/terminal.hpp"

namespace rulekeeper::common {

namespace {

// The columns one code point takes on a terminal: wcwidth() under C.UTF-8
// (2 for CJK and most emoji, 0 for combining marks), whatever the process's
// own locale; 1 where wcwidth knows nothing (unassigned, controls — which
// are escaped before they are shown anyway).
std::size_t columns_of(char32_t cp) {
  static const locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  if (utf8 == static_cast<locale_t>(nullptr)) return 1;
  const locale_t previous = uselocale(utf8);
  const int w = wcwidth(static_cast<wchar_t>(cp));
  uselocale(previous);
  return w < 0 ? 1 : static_cast<std::size_t>(w);
}

// The code point starting at text[i] and the index after it (a byte that
// does not start a well-formed sequence counts as one column).
char32_t next_code_point(const std::string& text, std::size_t& i) {
  const auto lead = static_cast<unsigned char>(text[i]);
  const int n = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
  if (n == 1 || i + static_cast<std::size_t>(n) > text.size()) {
    ++i;
    return lead < 0x80 ? lead : U'?';
  }
  char32_t cp = lead & (0x7F >> n);
  for (int k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
  i += static_cast<std::size_t>(n);
  return cp;
}

}  // namespace

std::size_t display_width(const std::string& utf8) {
  std::size_t width = 0;
  for (std::size_t i = 0; i < utf8.size();) width += columns_of(next_code_point(utf8, i));
  return width;
}

std::string abbreviate(const std::string& text, std::size_t keep) {
  if (display_width(text) <= keep) return text;
  std::size_t width = 0, i = 0;
  while (i < text.size()) {
    std::size_t next = i;
    const std::size_t w = columns_of(next_code_point(text, next));
    if (width + w > keep) break;
    width += w;
    i = next;
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

namespace {
bool printed_json = false;
}

void print_json(const nlohmann::json& document) {
  std::cout << document.dump(2) << std::endl;
  printed_json = true;
}

bool json_document_printed() { return printed_json; }

void Progress::step(const std::string& what) const {
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::cerr << fmt::format("[{:6.1f}s] {}", s, what) << std::endl;
}

}  // namespace rulekeeper::common
