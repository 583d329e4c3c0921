#include "site/server_error.hpp"

#include <fmt/format.h>

#include "common/text.hpp"

namespace rulekeeper::site {

std::string sqlstate_of(const pqxx::failure& e) {
  // libpqxx 6.4: the 40xxx errors (transaction_rollback and its children) are
  // not sql_errors and carry no SQLSTATE; their class tells it.
  if (const auto* q = dynamic_cast<const pqxx::sql_error*>(&e)) {
    if (!q->sqlstate().empty()) return q->sqlstate();
    // libpqxx 6.4 throws insufficient_privilege for 42501 without setting
    // sqlstate(): a privilege refusal would read "[SQLSTATE ]", exit 1.
    if (dynamic_cast<const pqxx::insufficient_privilege*>(&e) != nullptr) return "42501";
    return "";
  }
  if (dynamic_cast<const pqxx::serialization_failure*>(&e) != nullptr) return "40001";
  if (dynamic_cast<const pqxx::deadlock_detected*>(&e) != nullptr) return "40P01";
  if (dynamic_cast<const pqxx::statement_completion_unknown*>(&e) != nullptr) return "40003";
  if (dynamic_cast<const pqxx::transaction_rollback*>(&e) != nullptr) return "40000";
  return "";
}

common::ExitCode exit_code_for(const pqxx::failure& e) {
  const std::string s = sqlstate_of(e);
  if (s.size() == 5 && s.compare(0, 2, "23") == 0) return common::exit_refused;
  if (s == "55000" || s == "40001" || s == "XX001" || s == "0A000" || s == "25006") return common::exit_refused;
  // 28000: a bundle not signed by a key trusted there (docs/keys.md).
  if (s == "28000") return common::exit_refused;
  // 42501: the logged-in role may not do this (a reader activating; issue
  // #19: PostgreSQL decides who may do what) — a refusal, not a failure.
  if (s == "42501") return common::exit_refused;
  return common::exit_failed;
}

std::string server_message(const pqxx::failure& e) {
  // libpq's text: "ERROR:  msg\nDETAIL:  …\nHINT:  …\nCONTEXT:  …" (lines of
  // a field may continue). Keep the message, detail and hint.
  std::string text = e.what(), out, field;
  std::size_t pos = 0;
  auto flush = [&] {
    if (field.empty()) return;
    if (!out.empty()) out += " ";
    out += field;
    field.clear();
  };
  bool keep = true;
  while (pos <= text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text.size() + 1 : nl + 1;
    auto starts = [&](const char* p) { return line.rfind(p, 0) == 0; };
    if (starts("ERROR:") || starts("FATAL:")) {
      flush();
      keep = true;
      field = common::one_line(line.substr(line.find(':') + 1));
      while (!field.empty() && field.front() == ' ') field.erase(0, 1);
    } else if (starts("DETAIL:") || starts("HINT:")) {
      flush();
      keep = true;
      std::string tag = starts("HINT:") ? "(hint: " : "(detail: ";
      std::string rest = common::one_line(line.substr(line.find(':') + 1));
      while (!rest.empty() && rest.front() == ' ') rest.erase(0, 1);
      field = tag + rest + ")";
    } else if (starts("CONTEXT:") || starts("LINE ") || starts("QUERY:") || starts("STATEMENT:")) {
      flush();
      keep = false;
    } else if (keep && !line.empty()) {
      if (!field.empty() && field.back() == ')')
        field.pop_back(), field += " " + common::one_line(line) + ")";
      else
        field += " " + common::one_line(line);
    }
  }
  flush();
  return out.empty() ? common::one_line(e.what()) : out;
}

std::string server_hint(const pqxx::failure& e) {
  // The HINT field of libpq's text, its continuation lines joined.
  const std::string text = e.what();
  std::size_t at = text.rfind("\nHINT:");
  if (at == std::string::npos) {
    if (text.rfind("HINT:", 0) != 0) return "";
    at = 0;
  } else {
    at += 1;
  }
  std::string hint;
  std::size_t pos = at + 5;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    if (pos != at + 5 &&
        (line.rfind("CONTEXT:", 0) == 0 || line.rfind("QUERY:", 0) == 0 || line.rfind("STATEMENT:", 0) == 0 ||
         line.rfind("LINE ", 0) == 0 || line.rfind("DETAIL:", 0) == 0))
      break;
    hint += " " + line;
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return common::one_line(common::trim(hint));
}

common::ExitError sql_failure(const std::string& what, const pqxx::failure& e) {
  return common::ExitError(exit_code_for(e),
                           fmt::format("{}: {} [SQLSTATE {}]", what, server_message(e), sqlstate_of(e)), sqlstate_of(e),
                           server_hint(e));
}

}  // namespace rulekeeper::site
