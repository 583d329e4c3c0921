// See settings.hpp.
#include "pgnode/settings.hpp"

#include <sys/stat.h>

#include <cctype>
#include <sstream>

#include <fmt/format.h>

#include "common/errors.hpp"
#include "common/files.hpp"
#include "common/text.hpp"
#include "common/time.hpp"

namespace fs = std::filesystem;

namespace rulekeeper::pgnode {
namespace {

// The setting a postgresql.conf line sets ("" for comments and blank lines).
std::string setting_of(const std::string& line) {
  const std::string t = common::trim(line);
  if (t.empty() || t[0] == '#') return "";
  std::string name = t.substr(0, t.find_first_of(" \t="));
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

}  // namespace

std::string conf_quote(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'')
      out += "''";
    else if (c == '\\')
      out += "\\\\";
    else
      out += c;
  }
  return out + "'";
}

fs::path settings_file(const LocalNode& node) {
  if (node.conf_file) return *node.conf_file;
  if (!node.pgdata)
    throw common::ExitError(common::exit_usage,
                            fmt::format("site {}: neither conf_file nor pgdata is set in rulectl.toml", node.name));
  return fs::path(*node.pgdata) / "postgresql.auto.conf";
}

void rewrite_settings(const fs::path& file, const std::vector<std::string>& names,
                      const std::vector<std::pair<std::string, std::string>>& add) {
  const bool existed = fs::exists(file);
  std::istringstream in(existed ? common::read_file(file) : std::string());
  std::string line, out;
  bool changed = false;
  while (std::getline(in, line)) {
    const std::string s = setting_of(line);
    bool drop = false;
    for (const auto& n : names) drop = drop || s == n;
    if (drop) {
      changed = true;
      continue;
    }
    out += line + "\n";
  }
  if (!add.empty()) {
    out += "# written by rulectl (failover/rejoin) " + common::utc_now_text() + "\n";
    for (const auto& [k, v] : add) out += k + " = " + conf_quote(v) + "\n";
    changed = true;
  }
  if (!changed && existed) return;
  common::DurableWriteOptions options;
  options.mode = 0600;
  options.owned_by_postgres = true;
  struct stat st {};
  if (existed && ::stat(file.c_str(), &st) == 0) options.mode = st.st_mode & 07777;
  common::write_durably(file, out, options);
}

void set_upstream(const LocalNode& node, const std::string& primary_conninfo, const std::string& primary_slot_name) {
  const std::vector<std::string> names{"primary_conninfo", "primary_slot_name"};
  std::vector<std::pair<std::string, std::string>> add;
  if (!primary_conninfo.empty()) add.push_back({"primary_conninfo", primary_conninfo});
  if (!primary_slot_name.empty()) add.push_back({"primary_slot_name", primary_slot_name});
  const fs::path file = settings_file(node);
  rewrite_settings(file, names, add);
  if (node.pgdata) {
    const fs::path auto_conf = fs::path(*node.pgdata) / "postgresql.auto.conf";
    if (auto_conf != file && fs::exists(auto_conf)) rewrite_settings(auto_conf, names, {});
  }
}

void write_standby_signal(const fs::path& pgdata) {
  const fs::path p = pgdata / "standby.signal";
  if (fs::exists(p)) return;
  common::write_durably(p, "", {0600, true});
}

}  // namespace rulekeeper::pgnode
